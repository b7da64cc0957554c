"""The event streams the gateway reads: one small interface, on Redis or in memory.

``StreamBackend`` is what the hub, its subscriptions and the fleet publisher
need of a stream: its newest id, the entries after a cursor (waiting for new
ones), its size and oldest entry, the newest ids after a cursor, and publishing
one event. ``RedisStreams`` is the real one (``XREAD``/``XINFO``/``XREVRANGE``,
and the run store's ``publish`` script: the one way every event is written);
``MemoryStreams`` holds entries in this process, for tests of the gateway that
need no Redis. Entries are ``testfleet.stream.Entry``: their fields and wire
form are that module's.

A ``StreamReader`` is a cursor on one stream. Each ``read`` returns the entries
after the cursor and moves the cursor to the last one returned. Because both
the history and the live tail come from the same read after the cursor, a
client that resumes from an id gets every later entry exactly once: there is
no window between "replay" and "subscribe" for an entry to fall into (no gap)
and no entry is read on both sides of it (no duplicate).

Streams are capped (``XADD MAXLEN ~``), so a cursor can fall behind the oldest
surviving entry; ``gap`` says so, and callers tell the client explicitly.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol, cast

import redis.asyncio as aredis
from redis.exceptions import ResponseError

from testfleet import keys
from testfleet.events import Event
from testfleet.settings import Settings
from testfleet.store import scripts
from testfleet.stream import START, Entry, id_before, id_tuple, is_stream_id

__all__ = [
    "START",
    "Gap",
    "MemoryStreams",
    "RedisStreams",
    "StreamBackend",
    "StreamInfo",
    "StreamReader",
    "capped_cursor",
    "capped_start",
]


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """How much a stream holds and held."""

    length: int
    first_id: str | None
    """The oldest entry still on it (None when empty)."""
    entries_added: int | None
    """Entries ever added (None when the server does not say: before Redis 7)."""


class StreamBackend(Protocol):
    """What the gateway needs of its event streams."""

    async def newest_id(self, stream: str) -> str | None:
        """The id of ``stream``'s newest entry (None when it has none)."""
        ...

    async def read(self, stream: str, after: str, count: int, block_ms: int | None) -> list[Entry]:
        """Up to ``count`` entries after ``after``, oldest first; when there are none,
        waits up to ``block_ms`` for one (None: do not wait)."""
        ...

    async def info(self, stream: str) -> StreamInfo | None:
        """What ``stream`` holds (None when it does not exist)."""
        ...

    async def newest_ids(self, stream: str, after: str, count: int) -> list[str]:
        """The ids of the newest ``count`` entries after ``after``, newest first."""
        ...

    async def publish(self, event: Event) -> str:
        """Write ``event`` (to its run's stream too, when it has a run); its id."""
        ...


class RedisStreams:
    """``StreamBackend`` on a ``decode_responses=True`` redis.asyncio client."""

    def __init__(self, client: aredis.Redis, settings: Settings) -> None:
        self.client = client
        self._settings = settings
        self._publish = client.register_script(scripts.source("publish"))

    async def newest_id(self, stream: str) -> str | None:
        newest = cast(list[Any], await self.client.xrevrange(stream, count=1))
        return str(newest[0][0]) if newest else None

    async def read(self, stream: str, after: str, count: int, block_ms: int | None) -> list[Entry]:
        reply: Any = await self.client.xread({stream: after}, count=count, block=block_ms)
        # XREAD answers [[stream, [(id, fields), ...]]] (RESP2, the client's default).
        items: list[Any] = next((found for name, found in reply or [] if name == stream), [])
        return [Entry.of(str(i), cast(dict[str, str], fields)) for i, fields in items]

    async def info(self, stream: str) -> StreamInfo | None:
        try:
            info: dict[str, Any] = await self.client.xinfo_stream(stream)
        except ResponseError:  # no such stream (yet)
            return None
        first = info.get("first-entry")
        added = info.get("entries-added")
        return StreamInfo(
            length=int(info.get("length", 0)),
            first_id=str(first[0]) if first else None,
            entries_added=int(added) if added is not None else None,
        )

    async def newest_ids(self, stream: str, after: str, count: int) -> list[str]:
        newest = cast(
            list[Any], await self.client.xrevrange(stream, max="+", min=f"({after}", count=count)
        )
        return [str(entry_id) for entry_id, _ in newest]

    async def publish(self, event: Event) -> str:
        stream_keys, args = scripts.publish_call(self._settings, event)
        return str(await self._publish(keys=stream_keys, args=args))


class MemoryStreams:
    """``StreamBackend`` in this process: entries in lists, capped at ``maxlen`` each (exactly,
    where Redis trims about there), waiting readers woken by each publish."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self.maxlen = maxlen
        self._streams: dict[str, list[Entry]] = {}
        self._added: dict[str, int] = {}
        self._last = (0, 0)
        self._changed = asyncio.Condition()

    def _entries(self, stream: str) -> list[Entry]:
        return self._streams.get(stream, [])

    async def newest_id(self, stream: str) -> str | None:
        entries = self._entries(stream)
        return entries[-1].id if entries else None

    def _after(self, stream: str, after: str, count: int) -> list[Entry]:
        cursor = id_tuple(after)
        return [e for e in self._entries(stream) if id_tuple(e.id) > cursor][:count]

    async def read(self, stream: str, after: str, count: int, block_ms: int | None) -> list[Entry]:
        found = self._after(stream, after, count)
        if found or block_ms is None:
            return found
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: bool(self._after(stream, after, 1))),
                    block_ms / 1000,
                )
            except TimeoutError:
                return []
        return self._after(stream, after, count)

    async def info(self, stream: str) -> StreamInfo | None:
        if stream not in self._streams:
            return None
        entries = self._entries(stream)
        return StreamInfo(len(entries), entries[0].id if entries else None, self._added[stream])

    async def newest_ids(self, stream: str, after: str, count: int) -> list[str]:
        cursor = id_tuple(after)
        newer = [e.id for e in self._entries(stream) if id_tuple(e.id) > cursor]
        return newer[::-1][:count]

    async def publish(self, event: Event) -> str:
        now = int(time.time() * 1000)
        ms, seq = self._last
        self._last = (now, 0) if now > ms else (ms, seq + 1)
        entry = Entry.new(f"{self._last[0]}-{self._last[1]}", event)
        streams = [keys.EVENTS_STREAM] + ([keys.run_events(event.run_id)] if event.run_id else [])
        async with self._changed:
            for stream in streams:
                entries = self._streams.setdefault(stream, [])
                entries.append(entry)
                self._added[stream] = self._added.get(stream, 0) + 1
                del entries[: max(0, len(entries) - self.maxlen)]
            self._changed.notify_all()
        return entry.id

    def trim(self, stream: str, maxlen: int) -> None:
        """Keep only ``stream``'s newest ``maxlen`` entries (as ``XTRIM`` does)."""
        entries = self._entries(stream)
        del entries[: max(0, len(entries) - maxlen)]


@dataclass(frozen=True, slots=True)
class Gap:
    """Entries after the cursor were trimmed away before they could be read."""

    after: str
    """The cursor the reader resumed from."""
    first_available: str
    """The oldest entry still on the stream: the reader continues from there."""
    capped: bool = False
    """False: trimmed away by the stream's cap. True: left out because a replay may read at
    most ``gateway.replay_max_events`` entries (the newest of them are replayed)."""


class StreamReader:
    """A cursor on one stream.

    Not shared between tasks: one reader serves one consumer (the hub puts one
    reader per process in front of many subscribers).
    """

    def __init__(
        self, streams: StreamBackend, stream: str, after: str = START, page: int = 500
    ) -> None:
        if not is_stream_id(after):
            raise ValueError(f"{after!r} is not a stream id (<ms>-<seq>)")
        self._streams = streams
        self.stream = stream
        self._cursor = after
        self._page = page

    @property
    def cursor(self) -> str:
        """The id of the last entry returned (or the id the reader started after)."""
        return self._cursor

    async def gap(self) -> Gap | None:
        """A ``Gap`` when entries after the cursor were trimmed, else None.

        Uses ``entries-added`` (Redis 7): when more entries were ever added than
        remain and the cursor is older than the oldest one left, the client
        missed some (it may flag a cursor that was itself the newest trimmed
        entry: telling a client it may have missed events is the safe side).
        """
        info = await self._streams.info(self.stream)
        if info is None or info.entries_added is None or info.first_id is None:
            return None
        if info.entries_added <= info.length:
            return None
        if id_tuple(self._cursor) < id_tuple(info.first_id):
            return Gap(after=self._cursor, first_available=info.first_id)
        return None

    async def read(self, block_ms: int | None = None) -> list[Entry]:
        """The entries after the cursor, oldest first, at most one page.

        Returns at once when there are some; otherwise waits up to ``block_ms``
        for new ones (``None``: do not wait) and returns ``[]`` if none came.
        """
        if block_ms is not None and block_ms <= 0:
            block_ms = None  # BLOCK 0 would wait forever
        entries = await self._streams.read(self.stream, self._cursor, self._page, block_ms)
        if entries:
            self._cursor = entries[-1].id
        return entries


async def capped_start(streams: StreamBackend, stream: str, after: str, limit: int) -> Gap | None:
    """Where a replay after ``after`` starts so that it reads at most ``limit`` entries.

    None when there are no more than ``limit`` after ``after``; else a capped ``Gap``
    whose ``first_available`` is the oldest of the newest ``limit`` entries (start after
    the entry just before it: ``capped_cursor``). Reads at most ``limit + 1`` ids.
    """
    info = await streams.info(stream)
    if info is None or info.length <= limit:
        return None
    newest = await streams.newest_ids(stream, after, limit + 1)
    if len(newest) <= limit:
        return None
    return Gap(after=after, first_available=newest[-2], capped=True)


def capped_cursor(first_available: str) -> str:
    """The cursor just before ``first_available``."""
    return id_before(first_available)
