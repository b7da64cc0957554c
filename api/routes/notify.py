"""``/api/v1/notify``: a project's notification targets (GitHub, GitLab, Slack, signed
webhooks) and the log of their deliveries (docs/notifications.md).

Every route needs ``notify:write`` (a scope of its own: the targets hold tokens). A key
works on its own project; an ``admin`` key may name another (``project``). Secrets go
in and never come out: not in an answer, not in a log.
"""

from __future__ import annotations

import time
from typing import Annotated

import httpx
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import NotifyKey
from api.errors import ERROR_RESPONSES
from api.services import services
from testfleet.constants import API_PREFIX, dashboard_url, report_path
from testfleet.errors import ForbiddenError
from testfleet.fleet.auth import ApiKey
from testfleet.notify import dispatch, ledger, messages
from testfleet.notify.targets import Kind, Target, TargetStore
from testfleet.results import CaseResult, RunResult
from testfleet.targets.policy import TargetPolicy

router = APIRouter(prefix=f"{API_PREFIX}/notify", tags=["notify"], responses=ERROR_RESPONSES)

_PROJECT = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")


class TargetRequest(BaseModel):
    """A target to add. ``secret``: the webhook's signing secret, the GitHub or GitLab
    token, or the Slack incoming webhook's URL."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    secret: str = Field(min_length=1, max_length=4096)
    url: str | None = Field(
        default=None,
        max_length=2048,
        description="Webhook: where to POST; GitHub / GitLab: the API's base URL "
        "(default https://api.github.com, https://gitlab.com/api/v4)",
    )
    repo: str | None = Field(
        default=None, max_length=255, description="GitHub owner/name; GitLab id or group/name"
    )
    project: str | None = _PROJECT


class TargetView(BaseModel):
    """A target as shown: never its secret."""

    id: str
    project: str
    kind: Kind
    url: str
    repo: str | None
    createdMs: int


class TargetList(BaseModel):
    targets: list[TargetView]


class Removed(BaseModel):
    id: str
    removed: bool


class DeliveryList(BaseModel):
    """The project's latest deliveries, newest first."""

    deliveries: list[ledger.Delivery]


def _project(key: ApiKey, project: str | None) -> str:
    if project is None or project == key.project:
        return key.project
    if not key.allows("admin"):
        raise ForbiddenError(
            f"this API key belongs to project {key.project}: only an admin key may set "
            f"project {project}'s notifications"
        )
    return project


def _view(target: Target) -> TargetView:
    return TargetView.model_validate(target.public())


def _targets(request: Request) -> TargetStore:
    svc = services(request)
    return TargetStore(svc.client, svc.settings.notify, TargetPolicy.from_settings(svc.settings))


@router.post("/targets", status_code=201, summary="Add a notification target")
def add_target(request: Request, body: TargetRequest, key: NotifyKey) -> TargetView:
    """A target the project's finished runs are sent to, once each. Needs ``notify:write``."""
    project = _project(key, body.project)
    target = _targets(request).add(project, body.kind, body.secret, body.url, body.repo)
    return _view(target)


ProjectQuery = Annotated[
    str | None, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
]


@router.get("/targets", summary="List the notification targets")
def list_targets(request: Request, key: NotifyKey, project: ProjectQuery = None) -> TargetList:
    """The project's targets, oldest first, without their secrets. Needs ``notify:write``."""
    found = _targets(request).list(_project(key, project))
    return TargetList(targets=[_view(t) for t in found])


@router.delete("/targets/{target_id}", summary="Remove a notification target")
def remove_target(
    request: Request, target_id: str, key: NotifyKey, project: ProjectQuery = None
) -> Removed:
    """Stop notifying the target; 404 when the project has no such target."""
    _targets(request).remove(_project(key, project), target_id)
    return Removed(id=target_id, removed=True)


def _sample(project: str) -> RunResult:
    """The run a test delivery describes: made up, one test passed, one failed."""
    now_ms = int(time.time() * 1000)
    run_id = time.strftime("test-%Y%m%d-%H%M%S", time.gmtime())
    cases = [
        CaseResult(
            case_id=f"{run_id}-1",
            run_id=run_id,
            suite="testfleet",
            name="a test that passed",
            status="passed",
            attempts=1,
        ),
        CaseResult(
            case_id=f"{run_id}-2",
            run_id=run_id,
            suite="testfleet",
            name="a test that failed",
            status="failed",
            attempts=1,
            error="this is a test notification",
            failed_step=1,
        ),
    ]
    return RunResult(
        runId=run_id,
        projectId=project,
        name="testfleet notify test",
        status="failed",
        createdMs=now_ms,
        finishedMs=now_ms,
        counts={"passed": 1, "failed": 1},
        tests=cases,
    )


@router.post("/targets/{target_id}/test", summary="Send a test notification")
def send_test(
    request: Request, target_id: str, key: NotifyKey, project: ProjectQuery = None
) -> ledger.Delivery:
    """Send a made-up failed run to the target now and say how it went (logged as a
    ``test`` delivery). GitHub and GitLab get it as a commit status or comment only when
    the made-up run has a commit: it has none, so nothing is posted there; the answer
    says so."""
    svc = services(request)
    store = _targets(request)
    target = store.get(_project(key, project), target_id)
    run = _sample(target.project)
    links = {
        "dashboard": dashboard_url(svc.settings.gateway_url),
        "report": svc.settings.api_url.rstrip("/") + report_path(run.runId),
    }
    notice = messages.Notice(run=run, markdown=messages.marker(target.project), links=links)
    with httpx.Client(follow_redirects=False) as client:
        delivery = dispatch.send_one(client, store, target, notice, svc.settings, test=True)
    ledger.record(svc.client, target.project, delivery, svc.settings.notify.log_entries)
    return delivery


@router.get("/deliveries", summary="The delivery log")
def list_deliveries(
    request: Request,
    key: NotifyKey,
    project: ProjectQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryList:
    """The project's latest deliveries (runs and tests), newest first: which target,
    delivered or failed, what was done or what went wrong, how many requests."""
    svc = services(request)
    found = ledger.deliveries(svc.client, _project(key, project), limit)
    return DeliveryList(deliveries=found)
