"""What scheduling asks of the history: each test's expected duration and the tests
that failed in a branch's latest run of some suites.

A test's expected duration is the P50 of its timed attempts (passed, failed, errored:
``testfleet.history.rules``' definition), in one grouped statement for every test of a
run. "The latest run of the same suites on the same branch" is the newest archived run
of the project on that branch whose tests all come from the suites asked for.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from testfleet.history.models import Attempt, Case, Run
from testfleet.history.rules import FAILED_STATUSES, TIMED_STATUSES

RECENT_RUNS_LOOKED_AT = 50
"""Runs of the branch looked at (newest first) for one whose suites match."""
FAILED_CASE_STATUSES: frozenset[str] = FAILED_STATUSES
"""A case's final statuses that make it a failed test of its run."""
FLAKY_CASE_STATUS = "flaky"


def expected_ms(
    session: Session, project: str, suites: Collection[str]
) -> dict[tuple[str, str], int]:
    """(suite, test name) -> P50 of the test's timed attempts, in ms, for every test of
    ``suites`` the project's history has (its other tests are absent)."""
    if not suites:
        return {}
    rows = session.execute(
        select(
            Case.suite,
            Case.test,
            func.percentile_cont(0.5).within_group(Attempt.duration_ms),
        )
        .join(Attempt, Attempt.case_id == Case.id)
        .where(
            Case.project == project,
            Case.suite.in_(list(suites)),
            Case.data_row == "",
            Attempt.status.in_(list(TIMED_STATUSES)),
        )
        .group_by(Case.suite, Case.test)
    )
    return {(suite, test): round(p50) for suite, test, p50 in rows if p50 is not None}


@dataclass(frozen=True)
class LastRun:
    """A branch's latest archived run of some suites, and its tests that did not pass."""

    run_id: str
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(suite, test name) of each test that ended failed or errored, in suite order."""
    flaky: list[tuple[str, str]] = field(default_factory=list)
    """(suite, test name) of each test that passed only on a retry."""


def last_run(
    session: Session, project: str, suites: Collection[str], branch: str
) -> LastRun | None:
    """The newest archived run of ``project`` on ``branch`` whose tests all belong to
    ``suites`` (a run of a subset counts: a tag filter may have left suites out); None
    when there is none among the branch's ``RECENT_RUNS_LOOKED_AT`` latest."""
    wanted = set(suites)
    recent = session.scalars(
        select(Run.run_id)
        .where(Run.project == project, Run.branch == branch, Run.finished_at.is_not(None))
        .order_by(Run.finished_at.desc(), Run.run_id.desc())
        .limit(RECENT_RUNS_LOOKED_AT)
    ).all()
    if not recent:
        return None
    per_run: dict[str, set[str]] = {}
    for run_id, suite in session.execute(
        select(Attempt.run_id, Case.suite)
        .join(Case, Case.id == Attempt.case_id)
        .where(Attempt.run_id.in_(recent))
        .distinct()
    ):
        per_run.setdefault(run_id, set()).add(suite)
    chosen = next((r for r in recent if per_run.get(r) and per_run[r] <= wanted), None)
    if chosen is None:
        return None
    rows = session.execute(
        select(Case.suite, Case.test, Attempt.case_status)
        .join(Case, Case.id == Attempt.case_id)
        .where(
            Attempt.run_id == chosen,
            Attempt.last.is_(True),
            Attempt.case_status.in_([*FAILED_CASE_STATUSES, FLAKY_CASE_STATUS]),
        )
        .order_by(Attempt.run_case)
    ).all()
    failed = [(s, t) for s, t, status in rows if status in FAILED_CASE_STATUSES]
    flaky = [(s, t) for s, t, status in rows if status == FLAKY_CASE_STATUS]
    return LastRun(run_id=chosen, failed=list(dict.fromkeys(failed)), flaky=flaky)
