"""The live dashboard: its page, its assets, the JSON reads it needs, and the event schema.

``/dashboard`` serves one HTML page and its ES modules and stylesheet from the
package (``gateway/static/``, no CDN: it works offline), under a strict
Content-Security-Policy: scripts and styles only from the gateway itself (none
inline), connections only to the gateway (HTTP and its WebSocket) and to the
API (report downloads), images from the gateway or ``blob:``, frames (a trace's
sandboxed snapshots) from the gateway only, no framing of the page itself.

The page authenticates its WebSocket with the key's ``auth`` message and every
read below with the key in a header (never in a URL). The reads go through the
run store's async face and are limited to the key's project; a run of another
project answers 404 exactly like a missing one:

- ``GET  /dashboard/api/runs?status=&tag=&cursor=&limit=``  (``test:read``)
- ``GET  /dashboard/api/runs/{id}``  the run and ``lastEventId``, read atomically:
  the page follows the run from that id, so nothing is missed or shown twice
- ``POST /dashboard/api/runs/{id}/cancel``  (``test:write``) through
  ``RunStore.cancel_run``, as the API's cancel
- ``GET  /dashboard/api/runs/{id}/artifacts/{name}``  a screenshot or thumbnail
- ``GET  /dashboard/api/runs/{id}/traces/...``  a test's trace (``gateway.traces``)
- ``GET  /schema/events.json``  the JSON Schema of every event (open)
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.services import Services
from testfleet import payloads
from testfleet.artifacts import ArtifactStore, open_store
from testfleet.constants import (
    API_PREFIX,
    DASHBOARD_PATH,
    EVENTS_SCHEMA_PATH,
    junit_path,
    origin,
    report_path,
)
from testfleet.errors import NotFoundError, UsageError
from testfleet.fleet.auth import ApiKey, presented_key
from testfleet.results import RunResult, RunStatus
from testfleet.store import RunStore
from testfleet.store.listing import RunFilter

ASSETS: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "connection.js": "text/javascript; charset=utf-8",
    "state.js": "text/javascript; charset=utf-8",
    "views.js": "text/javascript; charset=utf-8",
    "runview.js": "text/javascript; charset=utf-8",
    "traceview.js": "text/javascript; charset=utf-8",
    "testsview.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
"""Every file the page loads, by name, with its media type (nothing else is served)."""
MAX_LIMIT = 200
"""Runs one listing page may hold."""
_STATUSES: frozenset[str] = frozenset(RunStatus.__args__)  # type: ignore[attr-defined]
_IMAGES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
_TEXTS = {".log": "text/plain; charset=utf-8", ".txt": "text/plain; charset=utf-8"}


@cache
def _asset(name: str) -> bytes:
    return files("gateway").joinpath("static", name).read_bytes()


def content_security_policy(request: Request, api_url: str) -> str:
    """The page's policy: itself, its WebSocket (as the browser reached the gateway) and
    the API; nothing inline, no plugins, no framing."""
    secure = request.url.scheme == "https"
    ws = f"{'wss' if secure else 'ws'}://{request.url.netloc}"
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' blob:",
            # A trace's DOM snapshots, each in an <iframe sandbox> (gateway.traces).
            "frame-src 'self'",
            f"connect-src 'self' {ws} {origin(api_url)}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def page(request: Request) -> Response:
    """``/dashboard``: the page (the same for every view; the view is in the URL's hash)."""
    services = _services(request)
    headers = {
        **_HEADERS,
        "Content-Security-Policy": content_security_policy(request, services.settings.api_url),
        "X-Frame-Options": "DENY",
    }
    return Response(_asset("index.html"), media_type="text/html; charset=utf-8", headers=headers)


async def asset(request: Request) -> Response:
    """``/dashboard/static/{name}``: one of ``ASSETS``."""
    name = request.path_params["name"]
    media = ASSETS.get(name)
    if media is None:
        raise NotFoundError(f"the dashboard has no asset {name[:80]!r}")
    return Response(_asset(name), media_type=media, headers=_HEADERS)


async def config(request: Request) -> Response:
    """``/dashboard/config.json``: where the page finds what it links to."""
    settings = _services(request).settings
    return JSONResponse(
        {
            "apiUrl": settings.api_url.rstrip("/"),
            "apiPrefix": API_PREFIX,
            "schema": EVENTS_SCHEMA_PATH,
        },
        headers=_HEADERS,
    )


async def schema(_: Request) -> Response:
    """``/schema/events.json``: the JSON Schema of every event (``testfleet.payloads``)."""
    return Response(_schema_json(), media_type="application/schema+json")


@cache
def _schema_json() -> bytes:
    return json.dumps(payloads.events_schema(), indent=1).encode()


async def _key(request: Request, scope: str) -> ApiKey:
    headers = request.headers
    presented = presented_key(headers.get("authorization"), headers.get("x-api-key"))
    return await _services(request).verify(presented, scope)


async def verified_key(request: Request, scope: str, ticket: str | None = None) -> ApiKey:
    """The request's key (in a header), or the key behind a single-use stream ``ticket``
    (taken now), which must allow ``scope``."""
    if ticket is not None:
        return await _services(request).verify(ticket, scope, stream=True)
    return await _key(request, scope)


async def owned_run(request: Request, key: ApiKey) -> RunResult:
    """The run of the path's ``run_id``, if it is ``key``'s project's (else 404)."""
    found, _ = await _owned(request, key)
    return found


def _missing(run_id: str, key: ApiKey) -> NotFoundError:
    return NotFoundError(f"run {run_id[:100]} does not exist in project {key.project} (or expired)")


async def runs(request: Request) -> Response:
    """A page of the key's project's runs, newest first."""
    key = await _key(request, "test:read")
    query = request.query_params
    status = query.get("status") or None
    if status is not None and status not in _STATUSES:
        raise UsageError(f"status must be one of {', '.join(sorted(_STATUSES))}")
    raw_limit = query.get("limit") or "50"
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise UsageError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    tag = (query.get("tag") or "").strip()[:200] or None
    wanted = RunFilter(status=status, tag=tag)  # type: ignore[arg-type]
    page = await _services(request).runs.list_page(
        key.project, int(raw_limit), wanted, query.get("cursor") or None
    )
    return JSONResponse(
        {"runs": [r.model_dump(mode="json") for r in page.runs], "nextCursor": page.next_cursor}
    )


async def _owned(request: Request, key: ApiKey) -> tuple[RunResult, str]:
    run_id = request.path_params["run_id"]
    run, last_id = await _services(request).runs.snapshot(run_id)
    if run is None or run.projectId != key.project:
        raise _missing(run_id, key)
    return run, last_id


def _links(run_id: str) -> dict[str, str]:
    return {"report": report_path(run_id), "junit": junit_path(run_id)}


async def run(request: Request) -> Response:
    """One run with every case, and the id to follow its events from."""
    key = await _key(request, "test:read")
    found, last_id = await _owned(request, key)
    body: dict[str, Any] = {
        "run": found.model_dump(mode="json"),
        "lastEventId": last_id,
        "links": _links(found.runId),
    }
    return JSONResponse(body)


async def cancel(request: Request) -> Response:
    """Cancel a run of the key's project (as ``POST /api/v1/runs/{id}/cancel`` does)."""
    key = await _key(request, "test:write")
    found, _ = await _owned(request, key)
    services = _services(request)
    store = RunStore(services.sync_client, services.settings, source="gateway@dashboard")
    cancelled = await anyio.to_thread.run_sync(store.cancel_run, found.runId)
    after, _ = await _owned(request, key)
    return JSONResponse(
        {
            "runId": found.runId,
            "cancelled": cancelled,
            "status": after.status,
            "counts": after.counts,
        },
        status_code=202,
    )


async def artifact(request: Request) -> Response:
    """A screenshot, thumbnail (shown) or step log (downloaded) of a run of the key's
    project."""
    key = await _key(request, "test:read")
    found, _ = await _owned(request, key)
    name = request.path_params["name"]
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    media = _IMAGES.get(suffix) or _TEXTS.get(suffix)
    if media is None:
        raise NotFoundError(f"the dashboard serves images and logs only; {name[:80]!r} is not one")
    data = await anyio.to_thread.run_sync(artifacts_of(request).read, found.runId, name)
    headers = {
        **_HEADERS,
        "Cache-Control": "private, max-age=3600",
        "Content-Security-Policy": "sandbox",
    }
    if suffix in _TEXTS:
        headers["Content-Disposition"] = f'attachment; filename="{name}"'  # a checked name
    return Response(data, media_type=media, headers=headers)


def artifacts_of(request: Request) -> ArtifactStore:
    """The artifact store ``artifacts.url`` names (as the API and workers use it), opened
    on first use and kept by the app."""
    store: ArtifactStore | None = getattr(request.app.state, "dashboard_artifacts", None)
    if store is None:
        store = open_store(_services(request).settings)
        request.app.state.dashboard_artifacts = store
    return store


def routes() -> list[BaseRoute]:
    """The dashboard's routes, for the gateway app."""
    api = f"{DASHBOARD_PATH}/api/runs"
    return [
        Route(DASHBOARD_PATH, page, methods=["GET"]),
        Route(f"{DASHBOARD_PATH}/", page, methods=["GET"]),
        Route(f"{DASHBOARD_PATH}/static/{{name}}", asset, methods=["GET"]),
        Route(f"{DASHBOARD_PATH}/config.json", config, methods=["GET"]),
        Route(api, runs, methods=["GET"]),
        Route(f"{api}/{{run_id}}", run, methods=["GET"]),
        Route(f"{api}/{{run_id}}/cancel", cancel, methods=["POST"]),
        Route(f"{api}/{{run_id}}/artifacts/{{name}}", artifact, methods=["GET"]),
        Route(EVENTS_SCHEMA_PATH, schema, methods=["GET"]),
    ]
