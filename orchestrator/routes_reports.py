"""A run's reports and artifacts: report.html, junit.xml, screenshots and logs.

Artifact names come from the client, so ``ArtifactStore.path`` checks them:
a name is flat (letters, digits, ``._-``), never ``..``, so it cannot leave
the run's directory; the run itself must belong to the key's project.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from orchestrator import reports
from orchestrator.api_auth import ReadKey
from orchestrator.api_errors import ERROR_RESPONSES
from orchestrator.api_services import services
from orchestrator.routes_runs import owned_run
from testfleet.constants import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["reports"], responses=ERROR_RESPONSES)

_MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".json": "application/json",
    ".log": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
}


@router.get(
    "/runs/{run_id}/report.html",
    # Response, not HTMLResponse: the latter would document the JSON errors as text/html.
    response_class=Response,
    summary="HTML report",
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
def report_html(request: Request, run_id: str, key: ReadKey) -> HTMLResponse:
    """The self-contained HTML report (screenshots inline). Needs ``test:read``."""
    svc = services(request)
    run = owned_run(svc, run_id, key)
    return HTMLResponse(reports.html_report(run, svc.artifacts))


@router.get(
    "/runs/{run_id}/junit.xml",
    response_class=Response,
    summary="JUnit XML",
    responses={200: {"content": {"application/xml": {}}}},
)
def report_junit(request: Request, run_id: str, key: ReadKey) -> Response:
    """The run as JUnit XML, for CI test tabs. Needs ``test:read``."""
    run = owned_run(services(request), run_id, key)
    return Response(reports.junit_xml(run), media_type="application/xml")


@router.get(
    "/runs/{run_id}/artifacts/{name}",
    response_class=Response,
    summary="An artifact",
    responses={
        200: {"content": {"image/png": {}, "text/plain": {}, "application/octet-stream": {}}}
    },
)
def artifact(
    request: Request,
    run_id: str,
    key: ReadKey,
    name: str = Path(description="An artifact name the run's result lists", examples=["x.png"]),
) -> Response:
    """A screenshot, thumbnail or log of the run, by the name its result lists.
    Needs ``test:read``."""
    svc = services(request)
    owned_run(svc, run_id, key)
    data = svc.artifacts.read(run_id, name)
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Content-Disposition": f'inline; filename="{name}"',
    }
    media = _MEDIA_TYPES.get(suffix, "application/octet-stream")
    return Response(data, media_type=media, headers=headers)
