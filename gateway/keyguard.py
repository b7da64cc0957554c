"""Which API key holds which open stream: the per-key connection limit, and revocation.

Every streaming endpoint (``/ws/v1``, ``/ws/events/{run}``, ``/sse/events``)
registers its stream here once its key is known, with a coroutine that closes
it. That gives one limit on the streams one key may hold at once in this
process (``gateway.connections_per_key``, whatever the transport), and one place
that ends a revoked key's streams: ``KeyGuard.run`` asks Redis every
``gateway.key_check_interval_s`` whether the keys that hold streams still exist,
and closes every stream of a key that does not, in every gateway process
(each checks its own), within that interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import redis

from testfleet.fleet.auth import KeyStore

log = logging.getLogger("testfleet.gateway.keys")

Closer = Callable[[], Coroutine[Any, Any, None]]


class StreamHandle:
    """One registered stream; ``release`` it when the stream ends."""

    def __init__(self, guard: KeyGuard, key_id: str, close: Closer) -> None:
        self.key_id = key_id
        self.close = close
        self._guard = guard
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._guard.release(self)


class KeyGuard:
    """Open streams by key id (this process), limited per key; closes a revoked key's."""

    def __init__(self, keys: KeyStore, limit: int, check_interval_s: float) -> None:
        self._keys = keys
        self.limit = limit
        self._interval_s = check_interval_s
        self._by_key: dict[str, set[StreamHandle]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.revoked_closed = 0
        """Streams closed because their key was revoked (since start)."""

    def held(self, key_id: str) -> int:
        """Streams ``key_id`` holds now."""
        return len(self._by_key.get(key_id, ()))

    def open(self, key_id: str, close: Closer) -> StreamHandle | None:
        """Register a stream of ``key_id``; None when the key already holds ``limit``."""
        streams = self._by_key.setdefault(key_id, set())
        if len(streams) >= self.limit:
            if not streams:
                del self._by_key[key_id]
            return None
        handle = StreamHandle(self, key_id, close)
        streams.add(handle)
        return handle

    def release(self, handle: StreamHandle) -> None:
        streams = self._by_key.get(handle.key_id)
        if streams is None:
            return
        streams.discard(handle)
        if not streams:
            del self._by_key[handle.key_id]

    async def check(self) -> int:
        """Close the streams of keys revoked since; returns how many it closed."""
        key_ids = list(self._by_key)
        if not key_ids:
            return 0
        valid = await anyio.to_thread.run_sync(self._keys.exists, key_ids)
        closed = 0
        for key_id, exists in valid.items():
            if exists:
                continue
            for handle in list(self._by_key.pop(key_id, ())):
                task = asyncio.create_task(handle.close())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
                closed += 1
        self.revoked_closed += closed
        return closed

    async def run(self, stopping: Callable[[], bool]) -> None:
        """Check every interval until ``stopping()``; Redis outages are retried."""
        while not stopping():
            await asyncio.sleep(self._interval_s)
            try:
                closed = await self.check()
            except redis.RedisError as exc:
                log.warning("could not check API keys for revocation (%s); retrying", exc)
                continue
            if closed:
                log.info("closed %d stream(s) of revoked API keys", closed)
