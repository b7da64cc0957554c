"""``GET /api/v1/fleet``: workers, Grid slots and queue depth, for dashboards and ops."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.auth import DashboardKey
from api.errors import ERROR_RESPONSES
from api.models import FleetAnswer
from api.services import Services, services
from testfleet.constants import API_PREFIX
from testfleet.fleet.auth import ApiKey
from testfleet.fleet.state import read_fleet
from testfleet.store.indexes import project_runs_query

router = APIRouter(prefix=API_PREFIX, tags=["fleet"], responses=ERROR_RESPONSES)

GRID_TIMEOUT_S = 2.0
"""How long ``/fleet`` waits for the Grid's status before reporting it unreachable."""


def _fleet(svc: Services, key: ApiKey) -> dict[str, Any]:
    state = read_fleet(svc.client, svc.settings, grid_timeout_s=GRID_TIMEOUT_S).to_dict()
    if "admin" not in key.scopes:
        _hide_other_projects(svc, key.project, state["workers"])
    return state


def _hide_other_projects(svc: Services, project: str, workers: list[dict[str, Any]]) -> None:
    """Keep only the key's project's case ids in ``active``: others' ids name their runs."""
    active = {case for w in workers for case in w["active"]}
    run_of = {case: case.rsplit("-", 1)[0] for case in active}
    ours = svc.store.ask(project_runs_query(project, sorted(set(run_of.values()))))
    for worker in workers:
        worker["active"] = [c for c in worker["active"] if run_of[c] in ours]


@router.get("/fleet", summary="The fleet now")
async def fleet(request: Request, key: DashboardKey) -> FleetAnswer:
    """Live workers (busy/slots), Grid browser slots and the queue depth.
    An unreachable Grid is reported in ``grid.error``, not as an error. Needs
    ``dashboard:read``; only an admin key sees other projects' case ids."""
    state = await run_in_threadpool(_fleet, services(request), key)
    return FleetAnswer.model_validate(state)
