"""The streaming gateway: a run's events from Redis to clients over Server-Sent Events.

``GET /sse/events?runId=ID[&types=t1,t2][&follow=1]`` with an API key
(``Authorization: Bearer KEY``, ``X-API-Key: KEY`` or ``?token=KEY``, scope
``test:read``; the run must belong to the key's project, else 404). Each event
is one SSE message::

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
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import anyio
import redis
import redis.asyncio as aredis
import uvicorn
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from gateway.streams import START, Entry, StreamReader
from testfleet import keys
from testfleet.auth import ApiKey, KeyStore, presented_key
from testfleet.errors import (
    AuthError,
    ForbiddenError,
    InfrastructureError,
    NotFoundError,
    UsageError,
    http_status,
)
from testfleet.events import TYPE_CHANNEL, is_stream_id
from testfleet.settings import Settings

log = logging.getLogger("testfleet.gateway")

RETRY_MS = 2000
"""Reconnection delay an EventSource is told to use."""
_TRUE = ("1", "true", "yes")


class Shutdown:
    """Set once when the server begins to shut down; event streams end on it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.clients = Gauge(
            "testfleet_gateway_sse_clients", "Open SSE streams", registry=self.registry
        )
        self.connections = Counter(
            "testfleet_gateway_sse_connections", "SSE streams opened", registry=self.registry
        )
        self.events = Counter(
            "testfleet_gateway_events_sent", "Events sent to clients", ["transport"],
            registry=self.registry,
        )  # fmt: skip
        self.bytes = Counter(
            "testfleet_gateway_bytes_sent", "Bytes of event streams sent", ["transport"],
            registry=self.registry,
        )  # fmt: skip
        self.rejected = Counter(
            "testfleet_gateway_rejected", "Requests refused, by HTTP status", ["status"],
            registry=self.registry,
        )  # fmt: skip


@dataclass
class _Services:
    settings: Settings
    client: aredis.Redis
    sync_client: redis.Redis
    keys: KeyStore
    shutdown: Shutdown
    metrics: _Metrics


def _error(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _error_response(exc: Exception) -> JSONResponse:
    """The one translation of errors into HTTP answers."""
    known = http_status(exc)
    if known is not None:
        return _error(*known, str(exc))
    if isinstance(exc, redis.RedisError):
        return _error(503, "unavailable", f"Redis is not answering ({exc}); try again shortly")
    return _error(500, "internal_error", "the gateway failed unexpectedly; see its log")


# --- the event stream response -----------------------------------------------------------


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


def _message(entry: Entry) -> str:
    data = "".join(f"data: {line}\n" for line in entry.wire.split("\n"))
    return f"id: {entry.id}\nevent: {entry.type}\n{data}\n"


async def _events(
    services: _Services,
    reader: StreamReader,
    types: frozenset[str] | None,
    follow: bool,
    completed: bool,
) -> AsyncIterator[str]:
    """The SSE body: a gap notice if any, the events after the cursor, pings; ends after
    ``run_completed`` unless ``follow``."""
    settings = services.settings.gateway
    metrics = services.metrics
    ping_s = settings.sse_ping_s
    metrics.clients.inc()
    metrics.connections.inc()
    try:
        yield f"retry: {RETRY_MS}\n\n"
        try:
            gap = await reader.gap()
        except redis.RedisError as exc:
            log.warning("SSE stream of %s ended: Redis failed (%s)", reader.stream, exc)
            return
        if gap is not None:
            notice = {"type": "gap", "payload": {
                "lastEventId": gap.after, "firstAvailableId": gap.first_available,
                "message": "events after lastEventId were trimmed; the stream continues from "
                           "firstAvailableId (fetch the run's state over the API)"}}  # fmt: skip
            yield f"event: gap\ndata: {json.dumps(notice, separators=(',', ':'))}\n\n"
        last_write = time.monotonic()
        while True:
            # A completed run has nothing more to come: read what is left without waiting.
            wait_ms: int | None = None
            if follow or not completed:
                until_ping_ms = int((last_write + ping_s - time.monotonic()) * 1000)
                wait_ms = max(1, min(settings.read_block_ms, until_ping_ms))
            try:
                entries = await reader.read(wait_ms)
            except redis.RedisError as exc:
                # End the body cleanly: the client reconnects (after ``retry``) with
                # Last-Event-ID and resumes once Redis is back, losing nothing.
                log.warning("SSE stream of %s ended: Redis failed (%s)", reader.stream, exc)
                return
            if not entries and completed and not follow:
                return
            chunk: list[str] = []
            done = False
            for entry in entries:
                if types is None or entry.type in types:
                    chunk.append(_message(entry))
                if entry.type == "run_completed":
                    completed = True
                    if not follow:
                        done = True
                        break
            if chunk:
                text = "".join(chunk)
                metrics.events.labels("sse").inc(len(chunk))
                metrics.bytes.labels("sse").inc(len(text))
                last_write = time.monotonic()
                yield text
            if done:
                return
            if time.monotonic() - last_write >= ping_s:
                last_write = time.monotonic()
                yield ": ping\n\n"
    finally:
        metrics.clients.dec()


# --- endpoints ---------------------------------------------------------------------------


def _services(request: Request) -> _Services:
    return cast(_Services, request.app.state.services)


def _presented_key(request: Request) -> str | None:
    headers = request.headers
    return presented_key(
        headers.get("authorization"), headers.get("x-api-key"), request.query_params.get("token")
    )


async def _authorize(request: Request, scope: str) -> ApiKey:
    services = _services(request)
    presented = _presented_key(request)
    key = await anyio.to_thread.run_sync(services.keys.verify, presented)
    if not key.allows(scope):
        raise ForbiddenError(
            f"this API key (id {key.id}) lacks the {scope} scope; create one that has it: "
            f"`testfleet keys create --project {key.project} --scopes {scope}`"
        )
    return key


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
    services = _services(request)
    key = await _authorize(request, "test:read")
    params = request.query_params
    run_id = params.get("runId") or params.get("run_id")
    if not run_id:
        raise UsageError("runId is required: GET /sse/events?runId=<run id>")
    types = _types(params.get("types"))
    after = request.headers.get("last-event-id") or params.get("lastEventId") or START
    if not is_stream_id(after):
        raise UsageError(
            f"Last-Event-ID {after!r} is not an event id; send the id: of the last event seen"
        )
    project, finished = await services.client.hmget(keys.run(run_id), ["project", "finished_ms"])
    if project != key.project:
        # Another project's run is indistinguishable from a missing one.
        raise NotFoundError(f"run {run_id} does not exist in project {key.project} (or expired)")
    reader = StreamReader(services.client, keys.run_events(run_id), after=after)
    body = _events(
        services, reader, types, follow=params.get("follow", "").lower() in _TRUE,
        completed=finished is not None,
    )  # fmt: skip
    return EventStreamResponse(body, services.shutdown)


async def health(_: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """Readiness: Redis answers."""
    services = _services(request)
    try:
        await services.client.ping()
    except redis.RedisError as exc:
        raise InfrastructureError(
            f"Redis at {services.settings.redis.url} is not answering ({exc}); "
            "start it with `testfleet up` or set TESTFLEET_REDIS__URL"
        ) from exc
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    registry = _services(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


# --- the app and its server --------------------------------------------------------------


def create_app(settings: Settings) -> Starlette:
    """The gateway as an ASGI app; its Redis connections close at shutdown."""
    client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
    services = _Services(
        settings=settings,
        client=aredis.Redis.from_url(settings.redis.url, decode_responses=True),
        sync_client=client,
        keys=KeyStore(client),
        shutdown=Shutdown(),
        metrics=_Metrics(),
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            services.shutdown.set()
            await services.client.aclose()
            client.close()

    async def handle(_: Request, exc: Exception) -> Response:
        response = _error_response(exc)
        services.metrics.rejected.labels(str(response.status_code)).inc()
        if response.status_code == 500:
            log.error("unhandled error", exc_info=exc)
        return response

    async def not_found(request: Request, _: Exception) -> Response:
        return _error(404, "not_found", f"no such endpoint: {request.url.path}")

    app = Starlette(
        routes=[
            Route("/sse/events", sse_events, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        exception_handlers={404: not_found, Exception: handle},
        lifespan=lifespan,
    )
    for kind in (AuthError, NotFoundError, UsageError, InfrastructureError, redis.RedisError):
        app.add_exception_handler(kind, handle)
    app.state.services = services
    return app


def shutdown_of(app: Starlette) -> Shutdown:
    """The app's shutdown signal (set it to end every open event stream)."""
    return cast(_Services, app.state.services).shutdown


class GatewayServer(uvicorn.Server):
    """uvicorn that ends the app's event streams before waiting for connections to close."""

    def __init__(self, config: uvicorn.Config, shutdown: Shutdown) -> None:
        super().__init__(config)
        self._app_shutdown = shutdown

    async def shutdown(self, sockets: Any = None) -> None:
        self._app_shutdown.set()
        await super().shutdown(sockets)


def build_server(
    settings: Settings, host: str | None = None, port: int | None = None
) -> GatewayServer:
    """The gateway app under a ``GatewayServer`` on ``settings.gateway.host:port``."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.gateway.host,
        port=settings.gateway.port,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        log_config=None,
    )
    return GatewayServer(config, shutdown_of(app))


def main(settings: Settings) -> None:
    """Serve the gateway (what ``testfleet gateway`` runs)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    build_server(settings).run()
