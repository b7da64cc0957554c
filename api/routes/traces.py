"""``GET /api/v1/runs/{run_id}/traces/{case_id}?attempt=N|all``: a test's trace zip.

One attempt's zip is the artifact the worker stored, streamed as it is. ``all``
puts every kept attempt into one zip (``attempt-<N>/`` folders and a top
``index.html``); without ``attempt``, the last kept attempt. A test whose trace
mode kept nothing (a passed attempt under ``retain-on-failure``, ``off``) is 404
saying so.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from api.auth import ReadKey
from api.errors import ERROR_RESPONSES, ApiError
from api.routes.runs import owned_run
from api.services import services
from testfleet.artifacts import ArtifactStore, safe_name
from testfleet.constants import API_PREFIX
from testfleet.errors import NotFoundError
from testfleet.evidence.tracezip import merge_attempts
from testfleet.evidence.viewer_model import kept_traces
from testfleet.results import CaseResult, RunResult

router = APIRouter(prefix=API_PREFIX, tags=["reports"], responses=ERROR_RESPONSES)

_ATTEMPT = re.compile(r"^(?:all|[1-9][0-9]{0,3})$")
_ZIP_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}


def _case(run: RunResult, case_id: str) -> CaseResult:
    for case in run.tests:
        if case.case_id == case_id:
            return case
    raise NotFoundError(
        f"run {run.runId} has no test case {case_id[:100]!r}; the run's tests (GET "
        f"{API_PREFIX}/runs/{run.runId}) list each one's case_id"
    )


def _nothing_kept(case: CaseResult, attempt: str | None) -> NotFoundError:
    which = "any attempt" if attempt in (None, "all") else f"attempt {attempt}"
    return NotFoundError(
        f"no trace was kept for {which} of test {case.name!r} (status {case.status}): the "
        "default trace mode, retain-on-failure, keeps failed attempts only; run it with "
        "`trace: on` (or `testfleet run --trace on`) to keep every attempt's"
    )


@router.get(
    "/runs/{run_id}/traces/{case_id}",
    response_class=Response,
    summary="A test's trace",
    responses={200: {"content": {"application/zip": {}}}},
)
def trace(
    request: Request,
    run_id: str,
    case_id: str,
    key: ReadKey,
    attempt: Annotated[
        str | None,
        Query(
            description="An attempt number, or `all` for every kept attempt in one zip "
            "(default: the last kept attempt)",
            max_length=4,
            examples=["1", "all"],
        ),
    ] = None,
) -> Response:
    """A test's trace zip: steps, DOM snapshots, console, network (HAR), screenshots and
    an ``index.html`` viewer that opens from the file system. Needs ``test:read``."""
    if attempt is not None and not _ATTEMPT.match(attempt):
        raise ApiError(400, "invalid_attempt", "attempt must be an attempt number or 'all'")
    svc = services(request)
    case = _case(owned_run(svc, run_id, key), case_id)
    kept = kept_traces(case)
    if attempt is not None and attempt != "all":
        kept = {n: name for n, name in kept.items() if n == int(attempt)}
    if not kept:
        raise _nothing_kept(case, attempt)
    stem = safe_name(case.name)
    if attempt == "all":
        body = merge_attempts({n: svc.artifacts.read(run_id, name) for n, name in kept.items()})
        headers = {**_ZIP_HEADERS, "Content-Disposition": _attachment(f"{stem}.traces.zip")}
        return Response(body, media_type="application/zip", headers=headers)
    number, name = max(kept.items())
    return _stream(svc.artifacts, run_id, name, f"{stem}.attempt-{number}.trace.zip")


def _attachment(filename: str) -> str:
    return f'attachment; filename="{filename}"'  # a safe_name: no quote, no path


def _stream(store: ArtifactStore, run_id: str, name: str, filename: str) -> StreamingResponse:
    # Opened before the response starts: a missing artifact is still a clean 404.
    stream = store.open_run_artifact(run_id, name)
    headers = {
        **_ZIP_HEADERS,
        "Content-Length": str(stream.size_bytes),
        "Content-Disposition": _attachment(filename),
    }
    return StreamingResponse(
        iter(stream),
        media_type="application/zip",
        headers=headers,
        background=BackgroundTask(stream.close),
    )
