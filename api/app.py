"""The orchestrator's REST API: the app's wiring (``create_app``) and its server (``main``).

Everything under ``/api/v1`` needs an API key (``Authorization: Bearer KEY`` or
``X-API-Key: KEY``) with the route's scope (``api.auth``). A key
only ever sees its own project's runs: another project's run is a 404, exactly
like a run that does not exist. ``/health`` and ``/ready`` are open; ``/metrics``
needs a key with ``metrics:read`` (it shows the whole fleet: every project's load,
the AI spend, the workers' names).

The parts, one concept each:

- ``api_services``   what routes share (Redis, run store, keys, dispatch, metrics)
- ``api_auth``       the API key dependency (``ReadKey``, ``WriteKey``, ``QuarantineKey``,
                     ``DashboardKey``, ``MetricsKey``)
- ``api_errors``     the one error shape and the exception handlers
- ``api_middleware`` body size limit (413), request metrics
- ``api_models``     request and answer shapes (the OpenAPI)
- ``api_submit``     reading, validating and queueing a submission
- ``api_listing``    listing runs with filters and cursors
- ``api_docs``       ``/docs`` and ``/redoc`` (open, like ``/openapi.json``), no CDN
- ``api_history_db`` the history database (PostgreSQL): a session per request, 503s
- ``routes_runs``, ``routes_reports``, ``routes_fleet``, ``routes_history``,
  ``routes_quarantine``   the routes
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.auth import MetricsKey
from api.dispatch import Dispatcher
from api.docs import install_docs
from api.errors import ErrorBody, install_error_handlers
from api.history_db import HistoryDatabase
from api.middleware import BodyLimit, RequestMetrics
from api.quotas import Quotas
from api.routes import baselines as routes_baselines
from api.routes import fleet as routes_fleet
from api.routes import generate as routes_generate
from api.routes import history as routes_history
from api.routes import labels as routes_labels
from api.routes import notify as routes_notify
from api.routes import quarantine as routes_quarantine
from api.routes import reports as routes_reports
from api.routes import runs as routes_runs
from api.routes import traces as routes_traces
from api.services import ApiMetrics, Services
from testfleet import logs
from testfleet.artifacts import open_store
from testfleet.constants import API_PREFIX, origin
from testfleet.fleet import redisconn
from testfleet.fleet.auth import KeyStore
from testfleet.history import migrate
from testfleet.logs import RunLogContext
from testfleet.metrics.export import FleetCollector
from testfleet.settings import Settings
from testfleet.store import RunStore
from testfleet.suites import bounded
from testfleet.targets.policy import TargetPolicy

__all__ = ["API_PREFIX", "create_app", "main"]

log = logs.get_logger(__name__)

PLANNER_THREADS = 8
"""Submissions validated and planned at once. Each thread waits for a child process that
does the CPU work within its limits (``testfleet.suites.bounded``), and one project holds at
most ``limits.max_plans_per_project`` of them: heavy submissions never hold them all."""
GENERATOR_THREADS = 4
"""``POST /generate`` requests waiting for the model at once (the rest queue)."""


def create_app(settings: Settings) -> FastAPI:
    """The API as an ASGI app; its Redis and broker connections close at shutdown."""
    TargetPolicy.from_settings(settings)  # a mistyped allowed target stops the API here
    client = redisconn.connect(settings.redis)
    metrics = ApiMetrics()
    # The fleet's figures (queue, workers, Grid, durations, pool, AI) are exported here:
    # one scrape target for the whole fleet (testfleet.metrics says why).
    metrics.registry.register(FleetCollector(client, settings))
    services = Services(
        settings=settings,
        client=client,
        store=RunStore(client, settings, source=f"api@{socket.gethostname()}"),
        keys=KeyStore(client),
        dispatcher=Dispatcher(settings),
        artifacts=open_store(settings),
        metrics=metrics,
        quotas=Quotas(client, settings.limits),
        planner=ThreadPoolExecutor(PLANNER_THREADS, thread_name_prefix="plan"),
        generator=ThreadPoolExecutor(GENERATOR_THREADS, thread_name_prefix="generate"),
        history=HistoryDatabase(settings),
    )
    bounded.warm()  # submissions are planned in its children (testfleet.suites.bounded)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            services.planner.shutdown(wait=False, cancel_futures=True)
            services.generator.shutdown(wait=False, cancel_futures=True)
            services.dispatcher.close()
            services.artifacts.close()
            services.history.close()
            client.close()

    app = FastAPI(
        title="testfleet API",
        version="1",
        summary="Submit browser test suites to the fleet, follow and cancel runs, get reports.",
        description=(
            "Every `/api/v1` route needs an API key (`Authorization: Bearer KEY` or "
            "`X-API-Key: KEY`) of a project; a key sees only its project's runs. Errors are "
            '`{"error": {"code", "message", "problems"?}}` and the message says what to fix.'
        ),
        lifespan=lifespan,
        # FastAPI's pages load from a CDN; install_docs serves them from the package.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app)
    install_docs(app)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"model": ErrorBody}})
    def ready() -> dict[str, str]:
        """Readiness: Redis (run store and broker) answers."""
        services.store.ping()
        return {"status": "ready"}

    @app.get(
        "/metrics",
        tags=["ops"],
        response_class=Response,
        responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
    )
    def prometheus(_: MetricsKey) -> Response:
        """Prometheus metrics: the API's own and the fleet's (``testfleet_*``); needs a key
        with ``metrics:read`` (Prometheus: ``authorization: {credentials_file: ...}``)."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # Routers of /api/v1. Each guards its routes with a key dependency from
    # api.auth (ReadKey / WriteKey / DashboardKey). New routers go here.
    app.include_router(routes_runs.router)
    app.include_router(routes_reports.router)
    app.include_router(routes_labels.router)
    app.include_router(routes_fleet.router)
    app.include_router(routes_generate.router)
    app.include_router(routes_baselines.router)
    app.include_router(routes_traces.router)
    app.include_router(routes_history.router)
    app.include_router(routes_quarantine.router)
    app.include_router(routes_notify.router)

    # The gateway's dashboard page downloads reports from here with the key in a header.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[origin(settings.gateway_url)],
        allow_methods=["GET"],
        allow_headers=["Authorization", "X-API-Key"],
        max_age=600,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(RunLogContext)
    return app


def main(settings: Settings) -> None:
    """Serve the API on ``settings.api.host:port`` (what ``testfleet api`` runs)."""
    logs.configure(settings.log, "api")
    migrate.refuse_old_schema(settings)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api.host,
        port=settings.api.port,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        log_config=None,  # uvicorn's records go through testfleet.logs like every other
    )
    uvicorn.Server(config).run()
