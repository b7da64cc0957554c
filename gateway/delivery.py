"""Delivery of one subscription's frames to its connection: singly, or in batches.

A pump runs per subscription. Singly: each frame's shared wire text is sent as
is. Batched: frames are gathered until ``size`` or until ``window_ms`` after
the first one, then sent as one ``batch`` message built from the same shared
texts (no event is re-encoded). After each send the subscription's
``delivered_id`` moves: it is the resume cursor a dropped client is given.

A pump sends to an ``Outlet``, what it needs of a connection (``gateway.ws``'s
``Connection`` is one): it knows nothing else of it, and the connection counts
its own traffic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

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

log = logs.get_logger(__name__)


class Outlet(Protocol):
    """Where a pump sends its subscription's frames."""

    async def send(self, text: str) -> None:
        """Send a message that is no event (a ``gap`` notice)."""
        ...

    async def send_events(self, text: str, frames: Sequence[Frame]) -> None:
        """Send ``text``, which carries ``frames`` (one event, or a batch of them)."""
        ...

    async def fail(self, error: ProtocolError) -> None:
        """Send the error; close too when it is fatal."""
        ...

    def count_dropped(self) -> None:
        """Count a subscriber dropped for falling a whole queue behind."""
        ...


async def pump(out: Outlet, sid: str, sub: Subscription, request: SubscribeRequest) -> None:
    """Send ``sub``'s frames to ``out`` until the subscription ends."""
    try:
        if request.batch is None:
            async for item in sub.frames():
                if isinstance(item, Gap):
                    await out.send(gap_frame(item.after, item.first_available, sid, item.capped))
                else:
                    await out.send_events(item.wire, [item])
                    sub.delivered_id = item.id
        else:
            await pump_batches(out, sid, sub, request.batch.size, request.batch.window_ms)
    except Dropped as exc:
        out.count_dropped()
        await out.fail(slow_consumer(str(exc), sid, sub.delivered_id))
    except Exception as exc:  # Redis failed while replaying
        log.warning("subscription %s failed: %s", sid, exc)
        await out.fail(
            ProtocolError(
                "SERVER_ERROR",
                "the event store is not answering; reconnect and resume",
                close=CLOSE_SERVER_ERROR,
                details={"lastEventId": sub.delivered_id},
            )
        )


async def pump_batches(out: Outlet, sid: str, sub: Subscription, size: int, window_ms: int) -> None:
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
                    await out.send(gap_frame(item.after, item.first_available, sid, item.capped))
                    continue
                if not batch:
                    deadline = loop.time() + window_ms / 1000
                batch.append(item)
            if batch and (len(batch) >= size or loop.time() >= deadline):
                await out.send_events(batch_frame([f.wire for f in batch], sid), batch)
                sub.delivered_id = batch[-1].id
                batch = []
    finally:
        await finish(upcoming, frames)
