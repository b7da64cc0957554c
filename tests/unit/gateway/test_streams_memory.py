"""The gateway's hub on the in-memory stream backend: replay then live with no gap and no
duplicate, trimmed and capped replays, in this process (no Redis; ``RedisStreams`` passes
the same contract in ``tests/integration/gateway/test_streams_redis.py``), and a pump
delivering to a stand-in connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest

from gateway.delivery import pump
from gateway.hub import Frame, Hub
from gateway.protocol import Batch, ProtocolError, SubscribeRequest
from gateway.streams import Gap, MemoryStreams, StreamBackend
from testfleet import keys
from testfleet.stream import START
from tests.unit.gateway.stream_contract import StreamContract, Trim, drain, progress, run


class TestMemoryStreams(StreamContract):
    @asynccontextmanager
    async def opened(self) -> AsyncIterator[tuple[StreamBackend, Trim]]:
        streams = MemoryStreams()

        async def trim(stream: str, maxlen: int) -> None:
            streams.trim(stream, maxlen)

        yield streams, trim


def everything(_frame: Frame) -> bool:
    return True


@asynccontextmanager
async def hub_on(streams: MemoryStreams, replay_max_events: int = 100) -> AsyncIterator[Hub]:
    hub = Hub(streams, block_ms=50, queue_events=100, replay_max_events=replay_max_events)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def test_a_subscription_replays_its_run_then_follows_it_live_without_gap_or_duplicate() -> None:
    async def check() -> None:
        streams = MemoryStreams()
        history = [await streams.publish(progress("r1", n)) for n in range(3)]
        async with hub_on(streams) as hub:
            sub = hub.subscribe(
                everything, run_id="r1", after=START, replay_stream=keys.run_events("r1")
            )
            frames = sub.frames()
            replayed = await drain(frames, 3)
            live = [await streams.publish(progress("r1", n)) for n in range(3, 5)]
            await streams.publish(progress("r2", 0))  # another run's: not offered
            followed = await drain(frames, 2)
            assert [f.id for f in replayed + followed] == history + live
            await frames.aclose()

    run(check)


def test_a_trimmed_resume_cursor_gets_a_gap_then_what_survived() -> None:
    async def check() -> None:
        streams = MemoryStreams()
        ids = [await streams.publish(progress("r1", n)) for n in range(5)]
        streams.trim(keys.EVENTS_STREAM, 2)
        async with hub_on(streams) as hub:
            frames = hub.subscribe(everything, after=ids[0]).frames()
            gap, *rest = await drain(frames, 3)
            assert isinstance(gap, Gap)
            assert (gap.after, gap.first_available, gap.capped) == (ids[0], ids[3], False)
            assert [f.id for f in rest] == ids[3:]
            await frames.aclose()

    run(check)


def test_a_replay_longer_than_the_cap_sends_a_notice_then_the_newest_entries() -> None:
    async def check() -> None:
        streams = MemoryStreams()
        ids = [await streams.publish(progress("r1", n)) for n in range(5)]
        async with hub_on(streams, replay_max_events=2) as hub:
            frames = hub.subscribe(everything, after=START).frames()
            notice, *rest = await drain(frames, 3)
            assert isinstance(notice, Gap)
            assert (notice.first_available, notice.capped) == (ids[3], True)
            assert [f.id for f in rest] == ids[3:]
            await frames.aclose()

    run(check)


class RecordingOutlet:
    """An ``Outlet`` that keeps what a pump sends (the pump knows no more of a connection)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.events = 0
        self.sent = asyncio.Condition()

    async def send(self, text: str) -> None:
        async with self.sent:
            self.texts.append(text)
            self.sent.notify_all()

    async def send_events(self, text: str, frames: Sequence[Frame]) -> None:
        async with self.sent:
            self.texts.append(text)
            self.events += len(frames)
            self.sent.notify_all()

    async def fail(self, error: ProtocolError) -> None:
        await self.send(error.frame())

    def count_dropped(self) -> None:
        raise AssertionError("nothing falls behind here")

    async def until(self, events: int) -> None:
        async with self.sent:
            await asyncio.wait_for(self.sent.wait_for(lambda: self.events >= events), 30)


@pytest.mark.parametrize("batch", [None, Batch(size=3, window_ms=10_000)])
def test_a_pump_sends_its_subscriptions_events_singly_or_in_batches(batch: Batch | None) -> None:
    async def check() -> None:
        streams = MemoryStreams()
        ids = [await streams.publish(progress("r1", n)) for n in range(3)]
        async with hub_on(streams) as hub:
            sub = hub.subscribe(everything, after=START)
            out = RecordingOutlet()
            request = SubscribeRequest("test_execution", batch=batch)
            pumping = asyncio.create_task(pump(out, "sub_1", sub, request))
            await out.until(3)
            pumping.cancel()
            await asyncio.wait({pumping})
        sent = [json.loads(text) for text in out.texts]
        if batch is None:
            assert [e["id"] for e in sent] == ids
        else:
            [one] = sent
            assert (one["type"], one["subscriptionId"], one["count"]) == ("batch", "sub_1", 3)
            assert [e["id"] for e in one["events"]] == ids
        assert sub.delivered_id == ids[-1]

    run(check)
