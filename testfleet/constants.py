"""Names that two components must spell the same way, in one place.

Components never import each other, so whatever one of them sends and another
receives by name (a Celery task, an HTTP path) is defined here. Redis keys have
their own module (``keys.py``), settings theirs (``settings.py``).
"""

from __future__ import annotations

RUN_CASE_TASK = "testfleet.run_case"
"""The Celery task that runs one test case, called with ``(run_id, case_id)``: sent by
the orchestrator by name, registered by the workers."""

API_PREFIX = "/api/v1"
"""Where the orchestrator's REST API lives (its routes, the links it gives, clients)."""

GATEWAY_WS_PATH = "/ws/v1"
"""The gateway's full WebSocket protocol (SPEC section 6)."""

GATEWAY_RUN_WS_PATH = "/ws/events"
"""The gateway's per-run WebSocket stream: ``{GATEWAY_RUN_WS_PATH}/{run_id}``."""

GATEWAY_SSE_PATH = "/sse/events"
"""The gateway's Server-Sent Events stream of one run: ``?runId=...``."""

DASHBOARD_PATH = "/dashboard"
"""The gateway's live dashboard page (``testfleet up``, ``status`` and ``run`` link to it)."""

EVENTS_SCHEMA_PATH = "/schema/events.json"
"""Where the gateway publishes the JSON Schema of every event (``testfleet.payloads``)."""


def run_path(run_id: str) -> str:
    """A run's path in the REST API: the run with every case (its reports are below it)."""
    return f"{API_PREFIX}/runs/{run_id}"


def report_path(run_id: str) -> str:
    """The API path of a run's HTML report."""
    return f"{run_path(run_id)}/report.html"


def junit_path(run_id: str) -> str:
    """The API path of a run's JUnit XML report."""
    return f"{run_path(run_id)}/junit.xml"


def run_events_url(gateway_url: str, run_id: str) -> str:
    """A run's events as Server-Sent Events, on the gateway at ``gateway_url``."""
    return f"{gateway_url.rstrip('/')}{GATEWAY_SSE_PATH}?runId={run_id}"


def run_websocket_url(gateway_url: str, run_id: str) -> str:
    """A run's events over a WebSocket (``ws://`` for ``http://``, ``wss://`` for
    ``https://``), on the gateway at ``gateway_url``."""
    gateway = gateway_url.rstrip("/")
    ws = "ws" + gateway.removeprefix("http") if gateway.startswith("http") else gateway
    return f"{ws}{GATEWAY_RUN_WS_PATH}/{run_id}"


def dashboard_url(gateway_url: str, run_id: str | None = None) -> str:
    """The dashboard on ``gateway_url``, at one run's view when ``run_id`` is given."""
    base = gateway_url.rstrip("/") + DASHBOARD_PATH
    return f"{base}#/runs/{run_id}" if run_id else base


def origin(url: str) -> str:
    """The origin (``scheme://host:port``) of ``url``, as browsers compare them."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


AI_NO_KEY = (
    "no OPENAI_API_KEY is set: set OPENAI_API_KEY (and OPENAI_BASE_URL for an "
    "OpenAI-compatible server) to enable AI analysis and generation"
)
"""Why an analysis was skipped without a key: written by the workers, recognised by the
CLI (which says it once per run, not under every test)."""
