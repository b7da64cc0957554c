"""Delivery of one subscription's frames to its connection: singly, or in batches.

A pump runs per subscription. Singly: each frame's shared wire text is sent as
is. Batched: frames are gathered until ``size`` or until ``window_ms`` after
the first one, then sent as one ``batch`` message built from the same shared
texts (no event is re-encoded). After each send the subscription's
``delivered_id`` moves: it is the resume cursor a dropped client is given.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from gateway.hub import Dropped, Frame, Subscription, finish
from gateway.protocol import (
    CLOSE_SERVER_ERROR,
    ProtocolError,
    SubscribeRequest,
    batch_frame,
    gap_frame,
    slow_consumer,
)
from gateway.streams import Gap
from testfleet import logs

if TYPE_CHECKING:
    from gateway.ws import Connection

log = logs.get_logger(__name__)


async def pump(conn: Connection, sid: str, sub: Subscription, request: SubscribeRequest) -> None:
    try:
        if request.batch is None:
            async for item in sub.frames():
                if isinstance(item, Gap):
                    await conn.send(gap_frame(item.after, item.first_available, sid, item.capped))
                else:
                    await conn.send(item.wire, item.entry.run_id, 1)
                    sub.delivered_id = item.id
        else:
            await pump_batches(conn, sid, sub, request.batch.size, request.batch.window_ms)
    except Dropped as exc:
        conn.services.metrics.dropped.inc()
        await conn.fail(slow_consumer(str(exc), sid, sub.delivered_id))
    except Exception as exc:  # Redis failed while replaying
        log.warning("subscription %s failed: %s", sid, exc)
        await conn.fail(
            ProtocolError(
                "SERVER_ERROR",
                "the event store is not answering; reconnect and resume",
                close=CLOSE_SERVER_ERROR,
                details={"lastEventId": sub.delivered_id},
            )
        )


async def pump_batches(
    conn: Connection, sid: str, sub: Subscription, size: int, window_ms: int
) -> None:
    loop = asyncio.get_running_loop()
    frames = sub.frames()
    batch: list[Frame] = []
    deadline = 0.0
    upcoming: asyncio.Task[Any] = asyncio.ensure_future(anext(frames))
    try:
        while True:
            timeout_s = max(0.0, deadline - loop.time()) if batch else None
            done, _ = await asyncio.wait({upcoming}, timeout=timeout_s)
            if done:
                item = upcoming.result()
                upcoming = asyncio.ensure_future(anext(frames))
                if isinstance(item, Gap):
                    await conn.send(gap_frame(item.after, item.first_available, sid, item.capped))
                    continue
                if not batch:
                    deadline = loop.time() + window_ms / 1000
                batch.append(item)
            if batch and (len(batch) >= size or loop.time() >= deadline):
                await send_batch(conn, batch, sid)
                sub.delivered_id = batch[-1].id
                batch = []
    finally:
        await finish(upcoming, frames)


async def send_batch(conn: Connection, batch: list[Frame], sid: str | None = None) -> None:
    text = batch_frame([f.wire for f in batch], sid)
    await conn.send(text, batch[0].entry.run_id if len(batch) == 1 else "", len(batch))
    if len(batch) > 1:
        # Per-run traffic for a mixed batch, counted by events (bytes by share).
        for frame in batch:
            run = conn.services.traffic.runs[frame.entry.run_id]
            run.events += 1
            run.bytes += len(frame.wire)
