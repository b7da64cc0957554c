"""The dashboard's trace view reads: a test's kept traces and the members of each.

The gateway reads the trace zip from the artifact store (as the API does) and serves
its members one at a time, to a key of the run's project:

- ``GET /dashboard/api/runs/{id}/traces/{case_id}``: ``{"attempts": {"<N>": name}}``
- ``GET /dashboard/api/runs/{id}/traces/{case_id}/{attempt}/{member}``: one member

``trace.json``, ``console.jsonl``, ``trace.har`` and screenshots take the key in a
header, as every dashboard read. A snapshot is the tested page's HTML: the page
shows it in an ``<iframe sandbox>`` whose ``src`` is this route, so it cannot send
a header; it presents a single-use ticket instead (``?ticket=``, from ``POST
/api/stream-tickets``: the key never goes into a URL), and the answer carries
``SNAPSHOT_HEADER_POLICY``: sandboxed (no script, an opaque origin, so no access
to the dashboard's storage or key) and nothing loaded from any network.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.dashboard import artifacts_of, owned_run, verified_key
from testfleet.constants import DASHBOARD_PATH
from testfleet.errors import AuthError, NotFoundError
from testfleet.evidence.viewer_model import SNAPSHOT_HEADER_POLICY, kept_traces, read_zip
from testfleet.fleet.auth import TICKET_PREFIX, ApiKey
from testfleet.results import CaseResult, RunResult

CACHED_TRACE_BYTES = 64 * 1024 * 1024
"""Unpacked trace zips the gateway keeps, in bytes (a step click reads several members of
one; a failed demo test's trace is about 1 MB)."""
_MEDIA = {
    ".json": "application/json",
    ".har": "application/json",
    ".jsonl": "application/x-ndjson",
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
}
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, max-age=3600",
}


class _Unpacked:
    """The last few trace zips read, unpacked: keyed by (run id, artifact name), which
    never changes content once stored."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._zips: OrderedDict[tuple[str, str], dict[str, bytes]] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[str, str]) -> dict[str, bytes] | None:
        with self._lock:
            found = self._zips.get(key)
            if found is not None:
                self._zips.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], members: dict[str, bytes]) -> None:
        with self._lock:
            self._zips[key] = members
            self._bytes += sum(len(body) for body in members.values())
            # The newest one stays, even alone over the budget: it is being shown.
            while self._bytes > CACHED_TRACE_BYTES and len(self._zips) > 1:
                _, dropped = self._zips.popitem(last=False)
                self._bytes -= sum(len(body) for body in dropped.values())


def _case(run: RunResult, case_id: str) -> CaseResult:
    for case in run.tests:
        if case.case_id == case_id:
            return case
    raise NotFoundError(f"run {run.runId} has no test case {case_id[:100]!r}")


async def _checked(request: Request, ticket_ok: bool) -> tuple[ApiKey, CaseResult]:
    presented = None
    if ticket_ok:
        presented = request.query_params.get("ticket")
        if presented is not None and not presented.startswith(TICKET_PREFIX):
            raise AuthError(
                "?ticket= takes a stream ticket (POST /api/stream-tickets), never a key"
            )
    key = await verified_key(request, "test:read", ticket=presented)
    run = await owned_run(request, key)
    return key, _case(run, request.path_params["case_id"])


async def traces(request: Request) -> Response:
    """The attempts of a test whose trace was kept, with their artifact names."""
    _, case = await _checked(request, ticket_ok=False)
    kept = kept_traces(case)
    return JSONResponse({"attempts": {str(n): name for n, name in kept.items()}})


async def member(request: Request) -> Response:
    """One member of a kept trace (snapshots sandboxed, see the module's docstring)."""
    path = request.path_params["member"]
    snapshot = path.startswith("snapshots/")
    _, case = await _checked(request, ticket_ok=snapshot)
    attempt = request.path_params["attempt"]
    name = kept_traces(case).get(int(attempt)) if attempt.isdigit() else None
    if name is None:
        raise NotFoundError(f"no trace was kept for attempt {attempt[:8]} of {case.name!r}")
    members = await _members(request, case.run_id, name)
    body = members.get(path)
    suffix = path[path.rfind(".") :] if "." in path else ""
    if body is None or suffix not in _MEDIA:
        raise NotFoundError(f"the trace of attempt {attempt} has no member {path[:120]!r}")
    headers = {**_HEADERS, "Content-Security-Policy": "sandbox"}
    if suffix == ".html":  # a snapshot, or the zip's own index.html: never run here
        headers["Content-Security-Policy"] = SNAPSHOT_HEADER_POLICY
    if snapshot:
        headers["Cache-Control"] = "no-store"  # its URL held a ticket: keep it nowhere
    return Response(body, media_type=_MEDIA[suffix], headers=headers)


async def _members(request: Request, run_id: str, name: str) -> dict[str, bytes]:
    cache: _Unpacked | None = getattr(request.app.state, "dashboard_traces", None)
    if cache is None:
        cache = request.app.state.dashboard_traces = _Unpacked()
    found = cache.get((run_id, name))
    if found is None:
        data = await anyio.to_thread.run_sync(artifacts_of(request).read, run_id, name)
        found = await anyio.to_thread.run_sync(read_zip, data)
        cache.put((run_id, name), found)
    return found


def routes() -> list[BaseRoute]:
    """The trace view's routes, for the gateway app."""
    base = f"{DASHBOARD_PATH}/api/runs/{{run_id}}/traces/{{case_id}}"
    return [
        Route(base, traces, methods=["GET"]),
        Route(f"{base}/{{attempt}}/{{member:path}}", member, methods=["GET"]),
    ]
