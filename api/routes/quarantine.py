"""``/api/v1/quarantine``: a project's tests whose failures do not fail a run, and
``/runs/{id}/quarantine``: which of a run's tests are in it (what ``testfleet run`` asks
when the run ends, to decide its exit code on any machine).

Reading needs ``test:read``; adding and removing need ``quarantine:write``. Everything
keeps to the key's project; an expired entry is as good as removed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import QuarantineKey, ReadKey
from api.errors import ERROR_RESPONSES
from api.routes.runs import owned_run
from api.services import services
from testfleet.constants import API_PREFIX
from testfleet.errors import NotFoundError
from testfleet.history import naming, quarantine, queries
from testfleet.history.quarantine import Entry
from testfleet.history.rules import Identity

router = APIRouter(prefix=API_PREFIX, tags=["quarantine"], responses=ERROR_RESPONSES)

_TEST = Field(
    min_length=3,
    max_length=2000,
    pattern=naming.PRINTABLE,
    description="The test as SUITE/TEST NAME (a data row's name is part of its test's)",
    examples=["Checkout/pays by card"],
)


class QuarantineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    test: str = _TEST
    reason: str = Field(
        min_length=1, max_length=2000, pattern=naming.PRINTABLE, description="Why it is quarantined"
    )
    owner: str = Field(
        min_length=1, max_length=200, pattern=naming.PRINTABLE, description="Who is to fix it"
    )
    expires: str = Field(
        default="14d",
        max_length=20,
        description="How long until it is lifted by itself: a number and m, h, d or w",
        examples=["14d"],
    )


class QuarantinedTest(BaseModel):
    """A test in quarantine."""

    test: str
    """SUITE/TEST NAME."""
    suite: str
    name: str
    dataRow: str
    reason: str
    owner: str
    addedBy: str | None
    addedAt: datetime
    expiresAt: datetime


class QuarantineList(BaseModel):
    """The project's quarantine, soonest expiry first."""

    tests: list[QuarantinedTest]


class Removed(BaseModel):
    test: str
    removed: bool


class RunCaseQuarantine(BaseModel):
    """A test of the run that is in quarantine now."""

    case_id: str
    test: str
    reason: str
    owner: str
    expiresAt: datetime


class RunQuarantine(BaseModel):
    """Which of a run's tests are in the project's quarantine now."""

    runId: str
    quarantined: list[RunCaseQuarantine]


def shown(entry: Entry) -> QuarantinedTest:
    return QuarantinedTest(
        test=naming.joined(entry.identity),
        suite=entry.identity.suite,
        name=entry.identity.test,
        dataRow=entry.identity.data_row,
        reason=entry.reason,
        owner=entry.owner,
        addedBy=entry.added_by,
        addedAt=entry.added_at,
        expiresAt=entry.expires_at,
    )


@router.get("/quarantine", summary="List quarantined tests")
def list_quarantine(request: Request, key: ReadKey) -> QuarantineList:
    """The project's tests in quarantine (expired ones are gone). Needs ``test:read``."""
    with services(request).history.session() as session:
        return QuarantineList(tests=[shown(e) for e in quarantine.active(session, key.project)])


@router.post("/quarantine", status_code=201, summary="Quarantine a test")
def add_quarantine(
    request: Request, body: QuarantineRequest, key: QuarantineKey
) -> QuarantinedTest:
    """Put a test in quarantine until ``expires`` from now: it still runs and is reported,
    but its failure no longer fails a run. A test there already gets the new reason,
    owner and expiry. Needs ``quarantine:write``."""
    until = datetime.now(UTC) + quarantine.parse_expiry(body.expires)
    with services(request).history.session() as session:
        identity = queries.resolve(session, key.project, body.test)
        entry = quarantine.add(
            session, key.project, identity, body.reason, body.owner, until, key.id
        )
    return shown(entry)


@router.delete("/quarantine", summary="Lift a test's quarantine")
def remove_quarantine(
    request: Request,
    key: QuarantineKey,
    test: Annotated[
        str,
        Query(
            min_length=3, max_length=2000, pattern=naming.PRINTABLE, description="SUITE/TEST NAME"
        ),
    ],
) -> Removed:
    """Take a test out of quarantine; 404 when it is not in it. Needs ``quarantine:write``."""
    with services(request).history.session() as session:
        identity = queries.resolve(session, key.project, test)
        removed = quarantine.remove(session, key.project, identity)
    if not removed:
        raise NotFoundError(
            f"the test {test!r} is not in project {key.project}'s quarantine "
            "(see `testfleet quarantine list`)"
        )
    return Removed(test=naming.joined(identity), removed=True)


@router.get("/runs/{run_id}/quarantine", summary="A run's quarantined tests")
def run_quarantine(request: Request, run_id: str, key: ReadKey) -> RunQuarantine:
    """The run's tests that are in the project's quarantine now (``testfleet run`` asks
    when the run ends: a failure of one of them does not fail the run). Needs
    ``test:read``."""
    svc = services(request)
    run = owned_run(svc, run_id, key)
    identities = {c.case_id: Identity(c.suite, c.name) for c in run.tests}
    with svc.history.session() as session:
        found = quarantine.among(session, key.project, set(identities.values()))
    return RunQuarantine(
        runId=run_id,
        quarantined=[
            RunCaseQuarantine(
                case_id=case_id,
                test=naming.joined(identity),
                reason=found[identity].reason,
                owner=found[identity].owner,
                expiresAt=found[identity].expires_at,
            )
            for case_id, identity in identities.items()
            if identity in found
        ],
    )
