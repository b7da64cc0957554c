"""``/api/v1/runs``: submit, list, get and cancel runs (always within the key's project)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.auth import ReadKey, WriteKey
from api.errors import ERROR_RESPONSES, SUBMIT_ERRORS, ApiError
from api.listing import RunFilter, epoch_ms, list_runs
from api.models import Cancelled, RunDetail, RunList, RunRequest, RunSubmitted
from api.services import Services, services
from api.submit import parse_submission, run_links, submit
from testfleet.constants import API_PREFIX
from testfleet.errors import NotFoundError
from testfleet.fleet.auth import ApiKey
from testfleet.results import RunResult, RunStatus

router = APIRouter(prefix=API_PREFIX, tags=["runs"], responses=ERROR_RESPONSES)

_QUERY_OPTIONS = (
    ("name", "run name (raw suite bodies)"),
    ("tags", "comma-separated tag filter (raw suite bodies)"),
    ("source", "the suite's file name, for error messages (raw suite bodies)"),
    ("require_baselines", "true: a missing visual baseline fails (raw suite bodies)"),
    (
        "trace",
        "every test's trace mode: off, on, retain-on-failure, on-first-retry (raw suite bodies)",
    ),
)
"""The query parameters of a raw suite body, and what each says."""
_SUITE_EXAMPLE = (
    "name: Login\nbase_url: http://localhost:8000\ntests:\n"
    "  - name: home\n    steps:\n      - navigate: /\n"
)
_SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": RunRequest.model_json_schema()},
            "application/yaml": {
                "schema": {"type": "string", "description": "one suite, YAML or JSON text"},
                "example": _SUITE_EXAMPLE,
            },
        },
    },
    "parameters": [
        {
            "name": n,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": d,
        }
        for n, d in _QUERY_OPTIONS
    ],
}


def owned_run(svc: Services, run_id: str, key: ApiKey) -> RunResult:
    """The run, if it belongs to ``key``'s project; ``NotFoundError`` otherwise."""
    run = svc.store.get_run(run_id)
    if run is None or run.projectId != key.project:
        # Another project's run is indistinguishable from a missing one.
        raise NotFoundError(
            f"run {run_id} does not exist in project {key.project} "
            f"(or has expired); list the project's runs with GET {API_PREFIX}/runs"
        )
    return run


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


@router.post(
    "/runs",
    status_code=202,
    openapi_extra=_SUBMIT_BODY,
    responses=SUBMIT_ERRORS,
    summary="Submit a run",
)
async def submit_run(request: Request, key: WriteKey) -> RunSubmitted:
    """Submit suites (a JSON envelope, or one suite as YAML/JSON text) as one run.

    Every case is queued before the answer; follow the run at ``links.events``
    (SSE) or ``links.websocket``. 422 lists every problem of every suite, and
    nothing is queued then. Needs ``test:write``.
    """
    body = await request.body()
    svc = services(request)
    work = partial(_parse_and_submit, svc, key, _media_type(request), body, request.query_params)
    return await asyncio.get_running_loop().run_in_executor(svc.planner, work)


def _parse_and_submit(
    svc: Services, key: ApiKey, media_type: str, body: bytes, query: Mapping[str, str]
) -> RunSubmitted:
    # Parsing a large body is CPU work too: it runs on the planner, not the event loop.
    return submit(svc, key, parse_submission(media_type, body, dict(query)))


@router.get("/runs", summary="List runs")
def get_runs(
    request: Request,
    key: ReadKey,
    limit: Annotated[int, Query(ge=1, le=500, description="Runs per page")] = 50,
    status: Annotated[RunStatus | None, Query(description="Only runs in this status")] = None,
    tag: Annotated[
        str | None, Query(max_length=200, description="Only runs with a test carrying this tag")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Created at or after (ISO 8601, or Unix seconds)")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Created at or before (ISO 8601, or Unix seconds)")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=400, description="nextCursor of the previous page")
    ] = None,
) -> RunList:
    """The project's runs, newest first, a page at a time. Needs ``test:read``."""
    try:
        since_ms, until_ms = epoch_ms(since), epoch_ms(until)
    except (OverflowError, ValueError, OSError):
        raise ApiError(
            400,
            "invalid_time",
            "since/until is out of range: give a time between 1970 and 9999, "
            "e.g. 2026-11-22T02:00:00Z",
        ) from None
    wanted = RunFilter(status=status, tag=tag, since_ms=since_ms, until_ms=until_ms)
    return list_runs(services(request).store, key.project, limit, wanted, cursor)


@router.get("/runs/{run_id}", summary="Get a run")
def get_run(request: Request, run_id: str, key: ReadKey) -> RunDetail:
    """A run with every test case: status, attempts, per-step timings, errors,
    artifacts and AI findings. Needs ``test:read``."""
    svc = services(request)
    run = owned_run(svc, run_id, key)
    return RunDetail(**run.model_dump(), links=run_links(svc.settings, run_id))


@router.post("/runs/{run_id}/cancel", status_code=202, summary="Cancel a run")
def cancel_run(request: Request, run_id: str, key: WriteKey) -> Cancelled:
    """Cancel a run: queued cases never start, running ones stop at their next step.
    Needs ``test:write``."""
    svc = services(request)
    owned_run(svc, run_id, key)
    n = svc.store.cancel_run(run_id)
    run = owned_run(svc, run_id, key)
    return Cancelled(runId=run_id, cancelled=n, status=run.status, counts=run.counts)
