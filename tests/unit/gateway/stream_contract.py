"""What every ``gateway.streams.StreamBackend`` does, as one suite each backend's tests inherit.

``tests/unit/gateway/test_streams_memory.py`` runs it on ``MemoryStreams`` (no Redis);
``tests/integration/gateway/test_streams_redis.py`` on ``RedisStreams`` (the proof).
A subclass gives ``opened``: an async context with the backend and a way to trim one of
its streams to its newest entries (as the stream's cap does).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any

from gateway.streams import StreamBackend, StreamReader
from testfleet import keys
from testfleet.events import Event
from testfleet.stream import START, id_tuple

Trim = Callable[[str, int], Coroutine[Any, Any, None]]


def progress(run_id: str, step: int) -> Event:
    return Event("test_progress", run_id, "alpha", {"step": step}, correlation_id="c1")


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


class StreamContract:
    def opened(self) -> AbstractAsyncContextManager[tuple[StreamBackend, Trim]]:
        raise NotImplementedError

    def test_a_publish_is_read_back_after_a_cursor_in_order_in_wire_form(self) -> None:
        async def check() -> None:
            async with self.opened() as (streams, _):
                ids = [await streams.publish(progress("r1", n)) for n in range(3)]
                assert ids == sorted(ids, key=id_tuple)
                entries = await streams.read(keys.EVENTS_STREAM, START, 10, None)
                assert [e.id for e in entries] == ids
                assert [e.run_id for e in entries] == ["r1"] * 3
                first = json.loads(entries[0].wire)
                assert (first["id"], first["type"], first["payload"]) == (
                    ids[0],
                    "test_progress",
                    {"step": 0},
                )
                later = await streams.read(keys.EVENTS_STREAM, ids[0], 10, None)
                assert [e.id for e in later] == ids[1:]
                assert await streams.newest_id(keys.EVENTS_STREAM) == ids[-1]

        run(check)

    def test_a_run_event_is_on_its_run_stream_with_the_same_id_a_fleet_event_is_not(
        self,
    ) -> None:
        async def check() -> None:
            async with self.opened() as (streams, _):
                of_run = await streams.publish(progress("r1", 1))
                fleet = Event("alert_triggered", "", "", {"message": "x"})
                fleet_id = await streams.publish(fleet)
                on_run = await streams.read(keys.run_events("r1"), START, 10, None)
                assert [e.id for e in on_run] == [of_run]
                everything = await streams.read(keys.EVENTS_STREAM, START, 10, None)
                assert [e.id for e in everything] == [of_run, fleet_id]
                assert everything[1].project == ""
                assert await streams.info(keys.run_events("")) is None

        run(check)

    def test_a_waiting_read_returns_what_is_published_meanwhile(self) -> None:
        async def check() -> None:
            async with self.opened() as (streams, _):
                reader = StreamReader(streams, keys.EVENTS_STREAM)
                waiting = asyncio.create_task(reader.read(block_ms=30_000))
                published = await streams.publish(progress("r1", 1))
                entries = await asyncio.wait_for(waiting, 30)
                assert [e.id for e in entries] == [published]
                assert reader.cursor == published
                assert await reader.read(block_ms=None) == []

        run(check)

    def test_a_trimmed_cursor_is_a_gap_and_the_newest_ids_come_newest_first(self) -> None:
        async def check() -> None:
            async with self.opened() as (streams, trim):
                ids = [await streams.publish(progress("r1", n)) for n in range(5)]
                await trim(keys.EVENTS_STREAM, 2)
                info = await streams.info(keys.EVENTS_STREAM)
                assert info is not None
                assert (info.length, info.first_id, info.entries_added) == (2, ids[3], 5)
                gap = await StreamReader(streams, keys.EVENTS_STREAM, after=ids[0]).gap()
                assert gap is not None
                assert gap.first_available == ids[3]
                assert await StreamReader(streams, keys.EVENTS_STREAM, after=ids[3]).gap() is None
                assert await streams.newest_ids(keys.EVENTS_STREAM, START, 5) == ids[:2:-1]

        run(check)


async def drain(frames: AsyncIterator[Any], n: int) -> list[Any]:
    """The next ``n`` items of ``frames`` (each awaited with a deadline, never a sleep)."""
    return [await asyncio.wait_for(anext(frames), 30) for _ in range(n)]
