"""A run's reports and artifacts: report.html, junit.xml, screenshots and logs.

Both come from the artifact store (a local directory or S3, ``testfleet.artifacts``)
and are streamed: an artifact in chunks as the store yields them, the HTML report
a test at a time as it is rendered, so neither is ever held whole in the API.

Artifact names come from the client, so the store checks them: a name is flat
(letters, digits, ``._-``), never ``..``, so it cannot leave the run's artifacts;
the run itself must belong to the key's project.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from api import reports
from api.auth import ReadKey
from api.errors import ERROR_RESPONSES
from api.routes.labels import labels_if_known
from api.routes.runs import owned_run
from api.services import services
from testfleet.artifacts import media_type
from testfleet.constants import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["reports"], responses=ERROR_RESPONSES)


def _utf8(pieces: Iterator[str]) -> Iterator[bytes]:
    for piece in pieces:
        yield piece.encode("utf-8")


@router.get(
    "/runs/{run_id}/report.html",
    # Response, not HTMLResponse: the latter would document the JSON errors as text/html.
    response_class=Response,
    summary="HTML report",
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
def report_html(request: Request, run_id: str, key: ReadKey) -> StreamingResponse:
    """The self-contained HTML report (screenshots inline, the failures' labels and
    clusters once the run is archived), streamed as it is rendered. Needs ``test:read``."""
    svc = services(request)
    run = owned_run(svc, run_id, key)
    labels = labels_if_known(svc, run_id, key.project)
    pieces = reports.iter_html_report(run, svc.artifacts, labels)
    return StreamingResponse(_utf8(pieces), media_type="text/html; charset=utf-8")


@router.get(
    "/runs/{run_id}/junit.xml",
    response_class=Response,
    summary="JUnit XML",
    responses={200: {"content": {"application/xml": {}}}},
)
def report_junit(request: Request, run_id: str, key: ReadKey) -> Response:
    """The run as JUnit XML, for CI test tabs (with the failures' labels once the run is
    archived). Needs ``test:read``."""
    svc = services(request)
    run = owned_run(svc, run_id, key)
    labels = labels_if_known(svc, run_id, key.project)
    return Response(reports.junit_xml(run, labels), media_type="application/xml")


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
) -> StreamingResponse:
    """A screenshot, thumbnail or log of the run, by the name its result lists.
    Needs ``test:read``."""
    svc = services(request)
    owned_run(svc, run_id, key)
    # Opened before the response starts: a missing artifact is still a clean 404.
    stream = svc.artifacts.open_run_artifact(run_id, name)
    headers = {
        "Content-Length": str(stream.size_bytes),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Content-Disposition": f'inline; filename="{name}"',
    }
    return StreamingResponse(
        iter(stream),
        media_type=media_type(name),
        headers=headers,
        background=BackgroundTask(stream.close),  # also when the client left midway
    )
