"""The streaming gateway: a run's events from Redis to clients over Server-Sent Events.

``GET /sse/events?runId=ID[&types=t1,t2][&follow=1]`` with an API key
(``Authorization: Bearer KEY``, ``X-API-Key: KEY``, a single-use stream ticket
``?ticket=`` from ``POST /api/stream-tickets``, or ``?token=KEY``; scope
``test:read``; the run must belong to the key's project, else 404). A key holds at
most ``gateway.connections_per_key`` streams (429 past it); when it is revoked,
its streams end with an ``event: error`` (``AUTH_FAILED``). Each event is one SSE
message::

    id: 1732233600000-0
    event: test_progress
    data: {"id":"1732233600000-0","type":"test_progress",...}

The stream replays the run's own stream (``tf:run:<id>:events``) after
``Last-Event-ID`` (the header an EventSource sends when it reconnects; or
``?lastEventId=``; or from the start), then continues live from the same
cursor, so a reconnecting client misses nothing and sees nothing twice. If the
events after its cursor were trimmed away, an ``event: gap`` message (without
an ``id``) comes first. ``: ping`` comments keep proxies from closing an idle
stream (every ``settings.gateway.sse_ping_s``).

How a response ends, and how the three ways cancel each other (as
sse-starlette does; ``EventStreamResponse`` runs them as three tasks of one
task group, and the first to finish cancels the other two):

1. The stream ends: after ``run_completed`` (or at once when resuming a run
   that already completed) the body ends normally, so a client knows the run
   is over; with ``follow=1`` it never ends on its own. A Redis failure also
   ends it (cleanly: the client reconnects with ``Last-Event-ID`` after the
   ``retry`` delay and resumes once Redis is back). The disconnect and
   shutdown watchers are then cancelled.
2. The client disconnects: ``http.disconnect`` arrives on ``receive``; the
   body task is cancelled in the middle of its ``XREAD`` (redis-py drops that
   connection rather than reuse it half-read), and nothing more is sent.
3. The server shuts down: ``GatewayServer`` sets the app's shutdown event
   *before* uvicorn starts waiting for open connections, so every stream is
   cancelled and its body is ended cleanly (the client reconnects elsewhere
   with ``Last-Event-ID``) instead of holding the shutdown until the
   graceful-shutdown timeout kills it mid-chunk.

The stream is a hub subscription (``gateway.hub``) indexed by the run: its
history is read from the run's own stream from the cursor, then the hub's
live frames follow with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import anyio
import redis
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from gateway.hub import Frame, Subscription, finish
from gateway.keyguard import StreamHandle
from gateway.protocol import gap_payload
from gateway.services import Services, Shutdown
from gateway.streams import START, Gap
from testfleet import keys, logs
from testfleet.errors import NotFoundError, RateLimited, UsageError
from testfleet.events import TYPE_CHANNEL
from testfleet.fleet.auth import presented_key
from testfleet.stream import is_stream_id

log = logs.get_logger(__name__)

RETRY_MS = 2000
"""Reconnection delay an EventSource is told to use."""
_TRUE = ("1", "true", "yes")


class EventStreamResponse(StreamingResponse):
    """An SSE body that ends on the first of: its own end, client disconnect, server shutdown.

    Unlike a plain ``StreamingResponse`` it always watches for the disconnect
    (whatever ASGI spec version the server declares) and for the shutdown, and
    it ends the body properly when the shutdown cuts it short.
    """

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str], shutdown: Shutdown) -> None:
        super().__init__(
            content,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._content = content
        self._shutdown = shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = complete = disconnected = False

        async def tracked(message: Message) -> None:
            nonlocal started, complete
            started = True
            complete = message["type"] == "http.response.body" and not message.get("more_body")
            await send(message)

        async def until_disconnect() -> None:
            nonlocal disconnected
            await self.listen_for_disconnect(receive)
            disconnected = True

        async with anyio.create_task_group() as group:

            async def first_wins(job: Callable[[], Awaitable[None]]) -> None:
                await job()
                group.cancel_scope.cancel()

            group.start_soon(first_wins, partial(self.stream_response, tracked))
            group.start_soon(first_wins, until_disconnect)
            group.start_soon(first_wins, self._shutdown.wait)
        with anyio.CancelScope(shield=True):
            await _close(self._content)
            if started and not complete and not disconnected:
                await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _close(content: AsyncIterator[str]) -> None:
    aclose = getattr(content, "aclose", None)
    if aclose is not None:
        await aclose()


def _message(frame: Frame) -> str:
    data = "".join(f"data: {line}\n" for line in frame.wire.split("\n"))
    return f"id: {frame.id}\nevent: {frame.entry.type}\n{data}\n"


def _gap(gap: Gap) -> str:
    notice = {"type": "gap", "payload": gap_payload(gap.after, gap.first_available, gap.capped)}
    return f"event: gap\ndata: {json.dumps(notice, separators=(',', ':'))}\n\n"


async def _events(
    services: Services,
    sub: Subscription,
    types: frozenset[str] | None,
    follow: bool,
    completed: bool,
    held: tuple[StreamHandle, asyncio.Event],
) -> AsyncIterator[str]:
    """The SSE body: a gap notice if any, the events after the cursor, pings; ends after
    ``run_completed`` unless ``follow``, or with an ``error`` event when the key is revoked."""
    ping_s = services.settings.gateway.sse_ping_s
    metrics = services.metrics
    metrics.clients.inc()
    metrics.connections.inc()
    services.traffic.clients["sse"] += 1
    handle, revoked = held
    frames = sub.frames()
    upcoming: asyncio.Task[Frame | Gap] = asyncio.ensure_future(anext(frames))
    revocation = asyncio.ensure_future(revoked.wait())
    try:
        yield f"retry: {RETRY_MS}\n\n"
        last_write = time.monotonic()
        while True:
            # A completed run has nothing more to come: end once its history is sent.
            idle_end = completed and not follow
            wait_s = 0.05 if idle_end else max(0.0, last_write + ping_s - time.monotonic())
            done, _ = await asyncio.wait(
                {upcoming, revocation}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
            )
            if revocation in done:
                yield _REVOKED
                return
            if not done:
                if idle_end and sub.live and not sub.queued:
                    return
                if time.monotonic() - last_write >= ping_s:
                    last_write = time.monotonic()
                    yield ": ping\n\n"
                continue
            try:
                item = upcoming.result()
            except (redis.RedisError, StopAsyncIteration) as exc:
                # End the body cleanly: the client reconnects (after ``retry``) with
                # Last-Event-ID and resumes once Redis is back, losing nothing.
                log.warning("SSE stream of run %s ended: %s", sub.run_id, exc)
                return
            except Exception as exc:  # dropped for falling behind: resume from Last-Event-ID
                log.warning("SSE stream of run %s ended: %s", sub.run_id, exc)
                return
            upcoming = asyncio.ensure_future(anext(frames))
            if isinstance(item, Gap):
                yield _gap(item)
                continue
            if types is None or item.entry.type in types:
                last_write = time.monotonic()
                yield _counted(services, item)
            if item.entry.type == "run_completed":
                completed = True
                if not follow:
                    return
    finally:
        # Bookkeeping first: under an anyio cancel scope every await below raises again.
        sub.close()
        handle.release()
        revocation.cancel()
        services.traffic.clients["sse"] -= 1
        metrics.clients.dec()
        await finish(upcoming, frames)


def _counted(services: Services, frame: Frame) -> str:
    """The SSE message of ``frame``, counted as sent."""
    text = _message(frame)
    services.metrics.events.labels("sse").inc()
    services.metrics.bytes.labels("sse").inc(len(text))
    services.traffic.sent(frame.entry.run_id, 1, len(text))
    return text


_REVOKED = (
    "event: error\ndata: "
    + json.dumps(
        {
            "type": "error",
            "payload": {
                "code": "AUTH_FAILED",
                "message": "this API key was revoked; its streams are closed",
            },
        },
        separators=(",", ":"),
    )
    + "\n\n"
)


def _types(raw: str | None) -> frozenset[str] | None:
    if not raw:
        return None
    wanted = frozenset(t.strip() for t in raw.split(",") if t.strip())
    unknown = sorted(wanted - TYPE_CHANNEL.keys())
    if unknown:
        raise UsageError(
            f"unknown event type(s) {', '.join(unknown)} in types; "
            f"known types: {', '.join(TYPE_CHANNEL)}"
        )
    return wanted or None


async def sse_events(request: Request) -> Response:
    """``GET /sse/events?runId=..``: one run's events as Server-Sent Events."""
    services: Services = request.app.state.services
    headers = request.headers
    params = request.query_params
    presented = presented_key(
        headers.get("authorization"),
        headers.get("x-api-key"),
        params.get("ticket") or params.get("token"),
    )
    key = await services.verify(presented, "test:read", stream=True)
    run_id = params.get("runId") or params.get("run_id")
    if not run_id:
        raise UsageError("runId is required: GET /sse/events?runId=<run id>")
    types = _types(params.get("types"))
    after = request.headers.get("last-event-id") or params.get("lastEventId") or START
    if not is_stream_id(after):
        raise UsageError(
            f"Last-Event-ID {after!r} is not an event id; send the id: of the last event seen"
        )
    head = await services.runs.head(run_id)
    if head is None or head.projectId != key.project:
        # Another project's run is indistinguishable from a missing one.
        raise NotFoundError(f"run {run_id} does not exist in project {key.project} (or expired)")
    owner = key.project
    revoked = asyncio.Event()

    async def close() -> None:
        revoked.set()

    handle = services.guard.open(key.id, close)
    if handle is None:
        limit = services.settings.gateway.connections_per_key
        raise RateLimited(
            f"this API key already holds {limit} streams on this gateway; close one first "
            "(or raise TESTFLEET_GATEWAY__CONNECTIONS_PER_KEY)",
            retry_after_s=RETRY_MS / 1000,
        )
    log.info("SSE client (key %s) follows run %s after %s", key.id, run_id, after)
    sub = services.hub.subscribe(
        lambda frame: frame.entry.run_id == run_id and frame.entry.project == owner,
        run_id=run_id,
        after=after,
        replay_stream=keys.run_events(run_id),
    )
    body = _events(
        services,
        sub,
        types,
        follow=params.get("follow", "").lower() in _TRUE,
        completed=head.finishedMs is not None,
        held=(handle, revoked),
    )
    return EventStreamResponse(body, services.shutdown)
