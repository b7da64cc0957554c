"""Reading a Redis event stream forward from an event id: its history, then live.

A ``StreamReader`` is a cursor on one stream. Each ``read`` returns the entries
after the cursor and moves the cursor to the last one returned. Because both
the history and the live tail come from the same ``XREAD <stream> <cursor>``,
a client that resumes from an id gets every later entry exactly once: there is
no window between "replay" and "subscribe" for an entry to fall into (no gap)
and no entry is read on both sides of it (no duplicate).

Entries are the ones ``RunStore`` writes (fields ``t`` type, ``c`` channel,
``r`` run id, ``p`` project, ``d`` the envelope JSON without its id); their
wire form is built without decoding the payload (``Entry.wire``).

Streams are capped (``XADD MAXLEN ~``), so a cursor can fall behind the oldest
surviving entry; ``gap`` says so, and callers tell the client explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aredis
from redis.exceptions import ResponseError

from testfleet.events import id_tuple, is_stream_id, wire_json

START = "0-0"
"""The cursor before a stream's first entry."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One event as stored on a stream."""

    id: str
    type: str
    channel: str
    run_id: str
    project: str
    body: str
    """The envelope JSON without ``id``."""

    @classmethod
    def of(cls, entry_id: str, fields: dict[str, str]) -> Entry:
        return cls(
            id=entry_id,
            type=fields.get("t", ""),
            channel=fields.get("c", ""),
            run_id=fields.get("r", ""),
            project=fields.get("p", ""),
            body=fields.get("d", "{}"),
        )

    @property
    def wire(self) -> str:
        """The event as clients receive it (envelope with ``id`` first)."""
        return wire_json(self.id, self.body)


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
    """A cursor on one stream of a ``decode_responses=True`` client.

    Not shared between tasks: one reader serves one consumer (the next step of
    the gateway puts one reader per process in front of many subscribers).
    """

    def __init__(
        self, client: aredis.Redis, stream: str, after: str = START, page: int = 500
    ) -> None:
        if not is_stream_id(after):
            raise ValueError(f"{after!r} is not a stream id (<ms>-<seq>)")
        self._client = client
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
        try:
            info: dict[str, Any] = await self._client.xinfo_stream(self.stream)
        except ResponseError:  # no such stream (yet)
            return None
        added = info.get("entries-added")
        first = info.get("first-entry")
        if added is None or not first or int(added) <= int(info.get("length", 0)):
            return None
        first_id = str(first[0])
        if id_tuple(self._cursor) < id_tuple(first_id):
            return Gap(after=self._cursor, first_available=first_id)
        return None

    async def read(self, block_ms: int | None = None) -> list[Entry]:
        """The entries after the cursor, oldest first, at most one page.

        Returns at once when there are some; otherwise waits up to ``block_ms``
        for new ones (``None``: do not wait) and returns ``[]`` if none came.
        """
        if block_ms is not None and block_ms <= 0:
            block_ms = None  # BLOCK 0 would wait forever
        reply = await self._client.xread(
            {self.stream: self._cursor}, count=self._page, block=block_ms
        )
        if not reply:
            return []
        entries = _entries_of(reply, self.stream)
        if entries:
            self._cursor = entries[-1].id
        return entries


async def capped_start(client: aredis.Redis, stream: str, after: str, limit: int) -> Gap | None:
    """Where a replay after ``after`` starts so that it reads at most ``limit`` entries.

    None when there are no more than ``limit`` after ``after``; else a capped ``Gap``
    whose ``first_available`` is the oldest of the newest ``limit`` entries (start after
    the entry just before it: ``capped_cursor``). Reads at most ``limit + 1`` entries.
    """
    try:
        info: dict[str, Any] = await client.xinfo_stream(stream)
    except ResponseError:  # no such stream (yet)
        return None
    if int(info.get("length", 0)) <= limit:
        return None
    newest = cast(
        list[Any], await client.xrevrange(stream, max="+", min=f"({after}", count=limit + 1)
    )
    if len(newest) <= limit:
        return None
    return Gap(after=after, first_available=str(newest[-2][0]), capped=True)


def capped_cursor(first_available: str) -> str:
    """The cursor just before ``first_available`` (stream ids are ``<ms>-<seq>``)."""
    ms, seq = id_tuple(first_available)
    return f"{ms}-{seq - 1}" if seq > 0 else f"{ms - 1}-{2**64 - 1}"


def _entries_of(reply: Any, stream: str) -> list[Entry]:
    # XREAD answers [[stream, [(id, fields), ...]]] (RESP2, the client's default).
    items: list[Any] = next((entries for name, entries in reply if name == stream), [])
    return [Entry.of(str(i), cast(dict[str, str], fields)) for i, fields in items]
