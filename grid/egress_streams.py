"""Moving bytes through the egress proxy, within an idle timeout and a lifetime.

A tunnel (``CONNECT``, a WebSocket) or a response body being copied holds one of
the proxy's slots, so none may last for ever: it ends when no byte has moved in
either direction for ``idle_s`` seconds, or ``lifetime_s`` seconds after it began,
whichever comes first. A WebSocket that pings more often than ``idle_s`` lives out
its lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from testfleet import logs

log = logs.get_logger(__name__)

CHUNK_BYTES = 65536


@dataclass
class Activity:
    """When bytes last moved (the event loop's clock, s)."""

    last_s: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def touch(self) -> None:
        self.last_s = asyncio.get_running_loop().time()


async def copy(
    src: asyncio.StreamReader,
    dst: asyncio.StreamWriter,
    activity: Activity,
    *,
    eof: bool = True,
) -> None:
    """Copy ``src`` to ``dst`` until ``src`` ends; pass the end on when ``eof``."""
    while data := await src.read(CHUNK_BYTES):
        activity.touch()
        dst.write(data)
        await dst.drain()
        activity.touch()
    if eof and dst.can_write_eof():
        with contextlib.suppress(OSError):
            dst.write_eof()


async def bounded(
    what: str,
    copies: list[Coroutine[Any, Any, None]],
    activity: Activity,
    *,
    idle_s: float,
    lifetime_s: float,
) -> None:
    """Run ``copies`` to the end, or stop them when they idle ``idle_s`` seconds or
    run ``lifetime_s`` seconds (logged with ``what``); their errors propagate."""
    loop = asyncio.get_running_loop()
    tasks = [asyncio.ensure_future(c) for c in copies]
    end_s = loop.time() + lifetime_s
    try:
        while pending := [t for t in tasks if not t.done()]:
            if any(t.exception() for t in tasks if t.done()):
                break  # one side failed: the other is cancelled below
            now_s = loop.time()
            if now_s >= end_s:
                log.info("egress proxy: %s ended after its %g s lifetime", what, lifetime_s)
                return
            if now_s - activity.last_s >= idle_s:
                log.info("egress proxy: %s idle %g s, closed", what, idle_s)
                return
            wake_s = min(end_s, activity.last_s + idle_s)
            await asyncio.wait(
                pending, timeout=max(wake_s - now_s, 0.0), return_when=asyncio.FIRST_COMPLETED
            )
        for task in tasks:
            if task.done():
                task.result()  # a side's error propagates
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await asyncio.gather(*tasks, return_exceptions=True)


async def splice(
    what: str,
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    *,
    idle_s: float,
    lifetime_s: float,
) -> None:
    """Copy both ways until both sides have finished sending (a tunnel), within
    ``idle_s`` and ``lifetime_s``; closes the upstream."""
    reader, writer = client
    up_reader, up_writer = upstream
    activity = Activity()
    try:
        await bounded(
            what,
            [copy(reader, up_writer, activity), copy(up_reader, writer, activity)],
            activity,
            idle_s=idle_s,
            lifetime_s=lifetime_s,
        )
    finally:
        up_writer.close()


async def send_body(
    headers: list[str], reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter
) -> None:
    """The request's body, and nothing after it: bytes past it would be another request,
    maybe for another host, which must not reach this one."""
    fields = {h.split(":", 1)[0].strip().lower(): h.split(":", 1)[-1].strip() for h in headers}
    if "transfer-encoding" in fields:
        # chunked: ends when the client is done (the response's bounds end it otherwise)
        await copy(reader, up_writer, Activity(), eof=False)
        return
    remaining = int(fields.get("content-length", "0") or 0)
    while remaining > 0:
        data = await reader.read(min(CHUNK_BYTES, remaining))
        if not data:
            return
        up_writer.write(data)
        await up_writer.drain()
        remaining -= len(data)
