"""One stream reader per gateway process, fanning events out to every subscriber.

Shaped like encode/broadcaster (connect, disconnect, subscribe) but resumable by
event id. One task reads ``tf:events`` from an explicit cursor (``XREAD BLOCK`` on
Redis; any ``gateway.streams.StreamBackend``) and offers each entry, wrapped once
in a ``Frame`` (its wire JSON built once and shared by every subscriber that
receives it), to the subscribers that may match: those following its run (an
index by run id) and the wide ones.

Each ``Subscription`` has a bounded queue. When a client falls so far behind
that its queue is full, the hub marks it dropped and moves on: the other
subscribers are never delayed by a slow one; the endpoint then tells the client
(error + close) and the client resumes from its last id.

Replay then live, with no gap and no duplicate: a subscription registers with
the hub *before* it reads history (``XREAD`` from its cursor on the replay
stream until caught up). Any entry added after registration reaches its queue
live; any entry added before it is in the history it reads. Entries seen both
ways are dropped at the handover by id (``last`` of the replay). When the
cursor was trimmed away a ``Gap`` comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import Any

import redis

from gateway.streams import Gap, StreamBackend, StreamReader, capped_cursor, capped_start
from testfleet import keys, logs
from testfleet.backoff import Backoff
from testfleet.stream import PAYLOAD, START, Entry, id_tuple

log = logs.get_logger(__name__)

REDIS_RETRY = Backoff(first_s=0.2, max_s=5.0)
"""Between attempts to read the stream while Redis does not answer."""


class Frame:
    """One event as the hub hands it out; the wire text is built once for everyone."""

    __slots__ = ("_data", "entry", "wire")

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.wire = entry.wire
        self._data: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def data(self) -> dict[str, Any]:
        """The decoded envelope (decoded once, only when a filter needs the payload)."""
        if self._data is None:
            try:
                decoded = json.loads(self.wire)
            except ValueError:
                decoded = {}
            self._data = decoded if isinstance(decoded, dict) else {}
        return self._data

    @property
    def payload(self) -> dict[str, Any]:
        """The event's payload (empty when it is not an object)."""
        payload = self.data.get(PAYLOAD)
        return payload if isinstance(payload, dict) else {}


Match = Callable[[Frame], bool]


class Dropped(Exception):
    """The subscriber fell behind by a whole queue and was dropped."""


class Subscription:
    """One consumer of the hub: a filter, a bounded queue, an optional resume cursor."""

    def __init__(
        self,
        hub: Hub,
        match: Match,
        *,
        run_id: str | None,
        after: str | None,
        replay_stream: str,
        maxsize: int,
    ) -> None:
        self._hub = hub
        self.match = match
        self.run_id = run_id
        self.after = after
        self.replay_stream = replay_stream
        self._queue: deque[Frame] = deque()
        self._maxsize = maxsize
        self._wake = asyncio.Event()
        self.dropped = False
        self.error: Exception | None = None
        self.live = False
        self.delivered_id: str | None = after
        """The last id the consumer confirmed it sent (the client's resume cursor)."""
        self.on_drop: Callable[[], None] | None = None
        """Called once when the hub drops this subscriber (its consumer may be stuck in a
        send to a client that stopped reading, and never come back to ``frames``)."""
        """History is read; what comes next is live."""
        self.last_id: str | None = after

    def offer(self, frame: Frame) -> None:
        """Queue ``frame`` if it matches; mark the subscription dropped when full."""
        if self.dropped or not self.match(frame):
            return
        if len(self._queue) >= self._maxsize:
            self.dropped = True
            self._hub.drop(self)
            self._queue.clear()  # nothing more will be sent from it
            if self.on_drop is not None:
                self.on_drop()
        else:
            self._queue.append(frame)
        self._wake.set()

    def close(self) -> None:
        self._hub.drop(self)

    def fail(self, error: Exception) -> None:
        """End the subscription with ``error`` (the reader lost Redis): the consumer raises it."""
        self.error = error
        self._hub.drop(self)
        self._wake.set()

    async def frames(self) -> AsyncGenerator[Frame | Gap, None]:
        """History after the cursor (a ``Gap`` first if it was trimmed), then live frames.

        Raises ``Dropped`` when the consumer fell a whole queue behind, and
        ``redis.RedisError`` when the history cannot be read.
        """
        if self.after is not None:
            streams, stream = self._hub.streams, self.replay_stream
            reader = StreamReader(streams, stream, after=self.after)
            gap = await reader.gap()
            if gap is not None:
                yield gap
            capped = await capped_start(streams, stream, self.after, self._hub.replay_max_events)
            if capped is not None:
                # Bounded work per subscription: the newest entries only, after a notice.
                yield capped
                reader = StreamReader(streams, stream, after=capped_cursor(capped.first_available))
            while True:
                entries = await reader.read(None)
                if not entries:
                    break
                for entry in entries:
                    frame = Frame(entry)
                    if self.match(frame):
                        self.last_id = frame.id
                        yield frame
            # Everything up to the reader's cursor was read as history.
            self.last_id = reader.cursor
        handover = id_tuple(self.last_id) if self.last_id is not None else None
        self.live = True
        while True:
            item = await self._next()
            if handover is not None:
                if id_tuple(item.id) <= handover:
                    continue  # already sent as history
                handover = None
            self.last_id = item.id
            yield item

    async def _next(self) -> Frame:
        while True:
            if self.error is not None:
                raise self.error
            if self.dropped:
                raise Dropped(
                    f"the client fell more than {self._maxsize} events behind; "
                    "reconnect and resume from the last event id"
                )
            if self._queue:
                return self._queue.popleft()
            self._wake.clear()
            await self._wake.wait()

    @property
    def queued(self) -> int:
        """Frames waiting to be taken."""
        return len(self._queue)


class Hub:
    """The process's single reader of ``tf:events`` and its subscribers."""

    def __init__(
        self,
        streams: StreamBackend,
        *,
        block_ms: int,
        queue_events: int,
        replay_max_events: int = 10_000,
    ) -> None:
        self.streams = streams
        self.replay_max_events = replay_max_events
        """Entries one subscription's replay may read (``gateway.replay_max_events``)."""
        self._block_ms = max(1, block_ms)
        self._queue_events = queue_events
        self._by_run: dict[str, set[Subscription]] = {}
        self._wide: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._cursor = START
        self.listeners: list[Callable[[Frame], None]] = []
        """Called with every frame read (the metrics publisher counts results)."""
        self.events_read = 0
        self.dropped_total = 0

    async def start(self) -> None:
        """Fix the cursor at the stream's newest entry, then start reading after it."""
        try:
            newest = await self.streams.newest_id(keys.EVENTS_STREAM)
            if newest is not None:
                self._cursor = newest
        except redis.RedisError as exc:
            # Reading starts from the first entry once Redis answers: nothing is missed.
            log.warning("hub: Redis not answering at start (%s); will retry", exc)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="gateway-hub")

    async def stop(self) -> None:
        # The flag, not only the cancel: redis-py may turn a cancelled read into a
        # ConnectionError, which the loop below would retry forever.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def subscribe(
        self,
        match: Match,
        *,
        run_id: str | None = None,
        after: str | None = None,
        replay_stream: str = keys.EVENTS_STREAM,
    ) -> Subscription:
        """Register a subscriber; ``run_id`` indexes it (only that run's events are offered)."""
        sub = Subscription(
            self,
            match,
            run_id=run_id,
            after=after,
            replay_stream=replay_stream,
            maxsize=self._queue_events,
        )
        if run_id is None:
            self._wide.add(sub)
        else:
            self._by_run.setdefault(run_id, set()).add(sub)
        return sub

    def drop(self, sub: Subscription) -> None:
        if sub.dropped:
            self.dropped_total += 1
        if sub.run_id is None:
            self._wide.discard(sub)
            return
        subs = self._by_run.get(sub.run_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_run[sub.run_id]

    @property
    def subscribers(self) -> int:
        return len(self._wide) + sum(len(s) for s in self._by_run.values())

    def dispatch(self, frame: Frame) -> None:
        """Offer one frame to every subscriber that may want it."""
        self.events_read += 1
        for listener in self.listeners:
            listener(frame)
        targeted = self._by_run.get(frame.entry.run_id)
        # Copies: offer() may drop (remove) a subscriber while we iterate.
        if targeted:
            for sub in list(targeted):
                sub.offer(frame)
        for sub in list(self._wide):
            sub.offer(frame)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                entries = await self.streams.read(
                    keys.EVENTS_STREAM, self._cursor, 1000, self._block_ms
                )
                failures = 0
            except redis.RedisError as exc:
                # Subscribers end now and resume from their last id once Redis is back:
                # holding them open would hide the outage from clients.
                for sub in [*self._wide, *(s for subs in self._by_run.values() for s in subs)]:
                    sub.fail(exc)
                failures += 1
                delay_s = REDIS_RETRY.delay_s(failures)
                log.warning("hub: XREAD failed (%s); retrying in %.1f s", exc, delay_s)
                await asyncio.sleep(delay_s)
                continue
            for entry in entries:
                self._cursor = entry.id
                self.dispatch(Frame(entry))


async def finish(upcoming: asyncio.Task[Any], frames: AsyncGenerator[Any, None]) -> None:
    """Stop a pending ``anext(frames)`` task and close the generator it was running.

    The task must end before ``aclose``: closing a generator that a task is still
    running raises, and leaving it to the garbage collector logs errors.
    """
    upcoming.cancel()
    await asyncio.wait({upcoming})  # does not raise the task's own error or cancellation
    if not upcoming.cancelled():
        upcoming.exception()  # retrieved: not logged as "never retrieved"
    await frames.aclose()
