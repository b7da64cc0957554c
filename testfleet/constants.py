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

AI_NO_KEY = (
    "no OPENAI_API_KEY is set: set OPENAI_API_KEY (and OPENAI_BASE_URL for an "
    "OpenAI-compatible server) to enable AI analysis and generation"
)
"""Why an analysis was skipped without a key: written by the workers, recognised by the
CLI (which says it once per run, not under every test)."""
