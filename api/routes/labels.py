"""``/api/v1/runs/{id}/labels``: the labels of a run's failures and its failure clusters,
read from the history database once the archiver has written the run."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.auth import ReadKey
from api.errors import ERROR_RESPONSES
from api.routes.runs import owned_run
from api.services import Services, services
from testfleet import logs
from testfleet.constants import API_PREFIX
from testfleet.errors import InfrastructureError
from testfleet.history import labels
from testfleet.payloads import RunLabels

router = APIRouter(prefix=API_PREFIX, tags=["runs"], responses=ERROR_RESPONSES)
log = logs.get_logger(__name__)


class RunLabelsAnswer(RunLabels):
    """A run's labels as ``GET /runs/{id}/labels`` gives them."""

    runId: str
    archived: bool
    """False while the run is not in the history database yet (it is written shortly
    after it finished): ``tests`` and ``clusters`` are then empty; ask again."""


def archived_labels(svc: Services, run_id: str, project: str) -> RunLabels | None:
    """The run's labels when it is archived; None when it is not (yet). Raises
    ``InfrastructureError`` when the history database does not answer."""
    with svc.history.session() as session:
        return labels.run_labels(session, run_id, project)


def labels_if_known(svc: Services, run_id: str, project: str) -> RunLabels | None:
    """The run's labels, or None when they are not known (not archived, or the history
    database is not answering: a report is still made without them)."""
    try:
        return archived_labels(svc, run_id, project)
    except InfrastructureError as exc:
        log.warning("run %s's report is made without labels: %s", run_id, exc)
        return None


@router.get("/runs/{run_id}/labels", summary="Labels of a run's failures")
def get_labels(request: Request, run_id: str, key: ReadKey) -> RunLabelsAnswer:
    """Per failed test (and test that passed on a retry) its labels (``new``, ``flaky``,
    ``failing-on-main``, ``quarantined``) and failure signature, and the run's failure
    clusters (failures of one signature), from the history database. ``archived`` is
    false until the run was written there (shortly after it finished); 503 while the
    history database does not answer. Needs ``test:read``."""
    svc = services(request)
    found = archived_labels(svc, run_id, key.project)
    if found is None:
        owned_run(svc, run_id, key)  # 404 unless the run is the key's project's
        return RunLabelsAnswer(runId=run_id, archived=False)
    return RunLabelsAnswer(runId=run_id, archived=True, **found.model_dump())
