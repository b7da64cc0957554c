"""``/api/v1/baselines`` and approving a run's screenshots: visual baselines over HTTP.

Every route works within the key's project (``testfleet.visual.BaselineStore`` is
opened for it): another project's baseline answers 404, like a missing one.
Reading needs ``test:read``; approving (``POST /runs/{id}/baselines/approve``)
needs ``test:write``, and the run must be the key's project's.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import ReadKey, WriteKey
from api.errors import ERROR_RESPONSES
from api.routes.runs import owned_run
from api.services import services
from testfleet.constants import API_PREFIX
from testfleet.visual import BaselineStore, BaselineVersion
from testfleet.visual.approve import Approved, approve

router = APIRouter(prefix=API_PREFIX, tags=["baselines"], responses=ERROR_RESPONSES)


class BaselineList(BaseModel):
    """The project's baselines, each at its newest version."""

    baselines: list[BaselineVersion]


class BaselineHistory(BaseModel):
    """Every version of one baseline, oldest first (the last one is the baseline)."""

    id: str
    versions: list[BaselineVersion]


class ApproveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    test: str | None = Field(
        default=None, max_length=1000, description="Only this test's screenshots (all if unset)"
    )


class ApproveAnswer(BaseModel):
    """What approving promoted: each screenshot and the baseline version it became."""

    runId: str
    approved: list[Approved]


@router.get("/baselines", summary="List baselines")
def list_baselines(request: Request, key: ReadKey) -> BaselineList:
    """The project's visual baselines, newest version of each. Needs ``test:read``."""
    return BaselineList(baselines=BaselineStore(services(request).artifacts, key.project).all())


@router.get("/baselines/{baseline_id}", summary="A baseline's versions")
def get_baseline(request: Request, baseline_id: str, key: ReadKey) -> BaselineHistory:
    """Every version of a baseline of the project. Needs ``test:read``."""
    store = BaselineStore(services(request).artifacts, key.project)
    return BaselineHistory(id=baseline_id, versions=store.versions(baseline_id))


@router.get(
    "/baselines/{baseline_id}/image",
    response_class=Response,
    summary="A baseline's image",
    responses={200: {"content": {"image/png": {}}}},
)
def baseline_image(
    request: Request,
    baseline_id: str,
    key: ReadKey,
    version: int | None = Query(default=None, ge=1, description="The newest when unset"),
) -> Response:
    """A version of a baseline as PNG (the newest by default). Needs ``test:read``."""
    store = BaselineStore(services(request).artifacts, key.project)
    number = version if version is not None else store.versions(baseline_id)[-1].version
    return Response(
        store.image(baseline_id, number),
        media_type="image/png",
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"},
    )


@router.post("/runs/{run_id}/baselines/approve", summary="Approve a run's screenshots")
def approve_run(
    request: Request, run_id: str, key: WriteKey, body: ApproveRequest | None = None
) -> ApproveAnswer:
    """Make the screenshots of the run's failed visual assertions (changed, or without a
    baseline under ``--ci``) the project's new baselines; ``test`` keeps to one test.
    Needs ``test:write``."""
    svc = services(request)
    run = owned_run(svc, run_id, key)
    test = body.test if body is not None else None
    return ApproveAnswer(runId=run_id, approved=approve(run, svc.artifacts, key.id, test))
