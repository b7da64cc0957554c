from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, cast

import anyio
import redis
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from gateway import dashboard, traces
from gateway.hub import Hub
from gateway.keyguard import KeyGuard
from gateway.publisher import Publisher
from gateway.services import Metrics, Services, Shutdown
from gateway.sse import sse_events
from gateway.streams import RedisStreams
from gateway.ws import ws_v1
from gateway.ws_events import ws_events
from testfleet import logs
from testfleet.constants import GATEWAY_RUN_WS_PATH, GATEWAY_SSE_PATH, GATEWAY_WS_PATH
from testfleet.errors import (
    AuthError,
    InfrastructureError,
    NotFoundError,
    RateLimited,
    UsageError,
    http_status,
)
from testfleet.fleet import redisconn
from testfleet.fleet.auth import METRICS_SCOPE, TICKET_TTL_S, KeyStore, presented_key
from testfleet.logs import RunLogContext
from testfleet.settings import Settings

log = logs.get_logger(__name__)


def _error(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _error_response(exc: Exception) -> JSONResponse:
    """The one translation of errors into HTTP answers."""
    known = http_status(exc)
    if known is not None:
        answer = _error(*known, str(exc))
        if isinstance(exc, RateLimited):
            answer.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return answer
    if isinstance(exc, redis.RedisError):
        return _error(503, "unavailable", f"Redis is not answering ({exc}); try again shortly")
    return _error(500, "internal_error", "the gateway failed unexpectedly; see its log")


# --- endpoints ---------------------------------------------------------------------------


async def health(_: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


def _services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


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
    """Prometheus metrics; needs a key with ``metrics:read`` (what Prometheus sends as
    ``Authorization: Bearer``): the figures span every project's streams."""
    services = _services(request)
    headers = request.headers
    presented = presented_key(headers.get("authorization"), headers.get("x-api-key"))
    await services.verify(presented, METRICS_SCOPE)
    registry = services.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def websocket_metrics(request: Request) -> Response:
    """``GET /api/websocket-metrics``: this process's clients and traffic (any valid key;
    the per-run figures are limited to the key's project unless it is admin)."""
    services = _services(request)
    headers = request.headers
    key = await services.verify(
        presented_key(
            headers.get("authorization"),
            headers.get("x-api-key"),
            request.query_params.get("token"),
        )
    )
    report = services.traffic.to_dict()
    runs: dict[str, Any] = report["runs"]
    if runs and "admin" not in key.scopes:
        heads = await services.runs.heads(list(runs))
        report["runs"] = {
            h.runId: runs[h.runId] for h in heads if h is not None and h.projectId == key.project
        }
    report["subscribers"] = services.hub.subscribers
    report["eventsRead"] = services.hub.events_read
    report["slowClientsDropped"] = services.hub.dropped_total
    report["timestamp"] = int(time.time() * 1000)
    return JSONResponse(report)


async def stream_ticket(request: Request) -> Response:
    """``POST /api/stream-tickets`` (key in a header): a single-use ticket for one stream,
    so the key itself never goes into a URL (``/ws/events/RUN?ticket=``,
    ``/sse/events?runId=RUN&ticket=``)."""
    services = _services(request)
    headers = request.headers
    presented = presented_key(headers.get("authorization"), headers.get("x-api-key"))
    ticket = await anyio.to_thread.run_sync(services.keys.issue_ticket, presented)
    return JSONResponse({"ticket": ticket, "expiresInS": TICKET_TTL_S}, status_code=201)


# --- the app and its server --------------------------------------------------------------


def create_app(settings: Settings) -> Starlette:
    """The gateway as an ASGI app; the hub and the publisher run for the app's lifespan."""
    client = redisconn.connect(settings.redis)
    # A blocking pool: a burst of replays waits for a connection instead of failing.
    aclient = redisconn.connect_async(settings.redis, max_connections=64, pool_timeout_s=10)
    hub = Hub(
        RedisStreams(aclient, settings),
        block_ms=settings.gateway.read_block_ms,
        queue_events=settings.gateway.queue_events,
        replay_max_events=settings.gateway.replay_max_events,
    )
    key_store = KeyStore(client)
    guard = KeyGuard(
        key_store, settings.gateway.connections_per_key, settings.gateway.key_check_interval_s
    )
    services = Services(
        settings=settings,
        client=aclient,
        sync_client=client,
        keys=key_store,
        shutdown=Shutdown(),
        metrics=Metrics(),
        hub=hub,
        guard=guard,
    )
    publisher = Publisher(services)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await hub.start()
        publisher.start()
        revocations = asyncio.create_task(guard.run(services.shutdown.is_set))
        try:
            yield
        finally:
            services.shutdown.set()
            revocations.cancel()
            await publisher.stop()
            await hub.stop()
            await redisconn.close_async(aclient)
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
            Route(GATEWAY_SSE_PATH, sse_events, methods=["GET"]),
            WebSocketRoute(GATEWAY_WS_PATH, ws_v1),
            WebSocketRoute(GATEWAY_RUN_WS_PATH + "/{run_id}", ws_events),
            Route("/api/websocket-metrics", websocket_metrics, methods=["GET"]),
            Route("/api/stream-tickets", stream_ticket, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *dashboard.routes(),
            *traces.routes(),
        ],
        exception_handlers={404: not_found, Exception: handle},
        lifespan=lifespan,
    )
    for kind in (
        AuthError,
        NotFoundError,
        UsageError,
        RateLimited,
        InfrastructureError,
        redis.RedisError,
    ):
        app.add_exception_handler(kind, handle)
    app.add_middleware(RunLogContext)
    app.state.services = services
    return app


def services_of(app: Starlette) -> Services:
    """The app's shared services (hub, traffic, shutdown)."""
    return cast(Services, app.state.services)


def shutdown_of(app: Starlette) -> Shutdown:
    """The app's shutdown signal (set it to end every open event stream)."""
    return services_of(app).shutdown


class GatewayServer(uvicorn.Server):
    """uvicorn that ends the app's streams and sockets before waiting for connections."""

    def __init__(self, config: uvicorn.Config, services: Services) -> None:
        super().__init__(config)
        self._services = services

    async def shutdown(self, sockets: Any = None) -> None:
        self._services.shutdown.set()
        # uvicorn would otherwise cut open WebSockets with its own code (1012); give ours
        # a moment to close them with 1001 first.
        deadline = time.monotonic() + self._services.settings.gateway.shutdown_grace_s
        while self._services.sockets and time.monotonic() < deadline:
            with suppress(Exception):
                await asyncio.sleep(0.02)
        await super().shutdown(sockets)


def build_server(
    settings: Settings, host: str | None = None, port: int | None = None
) -> GatewayServer:
    """The gateway app under a ``GatewayServer`` on ``settings.gateway.host:port``."""
    app = create_app(settings)
    gateway = settings.gateway
    config = uvicorn.Config(
        app,
        host=host or gateway.host,
        port=port or gateway.port,
        proxy_headers=True,
        # Open connections get this long after the sockets were told 1001; then they are
        # cut, so a stuck client cannot hold a stop (or a rolling restart) for long.
        timeout_graceful_shutdown=5,
        log_config=None,
        ws="websockets-sansio",
        # Frames somewhat over the limit still reach the handler, which answers
        # MESSAGE_TOO_LARGE; far bigger ones are cut by the protocol layer (1009).
        ws_max_size=max(4 * gateway.max_frame_bytes, 1 << 20),
        ws_ping_interval=gateway.ping_interval_s,
        ws_ping_timeout=gateway.ping_interval_s,
    )
    return GatewayServer(config, services_of(app))


def main(settings: Settings) -> None:
    """Serve the gateway (what ``testfleet gateway`` runs)."""
    logs.configure(settings.log, "gateway")
    build_server(settings).run()
