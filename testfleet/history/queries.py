"""Reading the history: a test's attempts and figures, the flaky tests of a project, a
run's failure clusters. Every query keeps to one project (its callers pass the key's).

A test's figures are ``testfleet.history.rules.stats`` over its attempts fetched here
(one index range: a test has hundreds of attempts, not millions); the flaky list is one
SQL statement over the project's attempts in a window, written to the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from testfleet.errors import NotFoundError
from testfleet.history import naming
from testfleet.history.models import Attempt, Case, Run
from testfleet.history.rules import Attempt as RuleAttempt
from testfleet.history.rules import Identity


@dataclass(frozen=True)
class Listed:
    """One attempt as a test's history lists it."""

    id: int
    run_id: str
    attempt: int
    status: str
    case_status: str
    duration_ms: int
    started_at: datetime
    error: str | None
    error_signature: str | None
    failing_step_index: int | None
    commit: str | None
    branch: str | None


@dataclass(frozen=True)
class Flaky:
    """A test of the flaky list: its runs in the window and the time its failures cost."""

    identity: Identity
    runs: int
    """Runs that ended passed or failed."""
    flaky_runs: int
    failed_runs: int
    """Runs that ended failed."""
    retries: int
    """Attempts after a run's first."""
    lost_ms: int
    """Time spent in failed or errored attempts (retried ones and final ones)."""
    last_flake_at: datetime | None
    last_failure_at: datetime | None
    """The newest of its runs in the window with a failed attempt (flaky or failed)."""

    @property
    def flake_rate(self) -> float:
        return self.flaky_runs / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class Cluster:
    """A run's failed attempts that share one failure signature."""

    signature: str
    failures: int
    """Failed or errored attempts in the run with this signature."""
    tests: list[Identity]
    error: str | None
    """One of the errors (they differ only in what the signature strips)."""
    step_kind: str | None
    seen_failures: int
    """Failures with this signature in the project's whole history."""
    seen_runs: int
    first_seen_at: datetime


def resolve(session: Session, project: str, name: str) -> Identity:
    """The test ``Suite/test name`` names: a known test of the project whose joined name
    is ``name`` (a suite name may hold a ``/``), else ``name`` split at its first ``/``."""
    known = session.execute(
        select(Case.suite, Case.test, Case.data_row)
        .where(
            Case.project == project,
            Case.suite + naming.SEPARATOR + Case.test == name,
        )
        .order_by(Case.id)
        .limit(1)
    ).first()
    return Identity(*known) if known is not None else naming.split(name)


def case_id(session: Session, project: str, identity: Identity) -> int:
    """The test's id in the history; ``NotFoundError`` when no run of the project had it."""
    found = session.scalar(
        select(Case.id).where(
            Case.project == project,
            Case.suite == identity.suite,
            Case.test == identity.test,
            Case.data_row == identity.data_row,
        )
    )
    if found is None:
        raise NotFoundError(
            f"no archived run of project {project} has the test {naming.joined(identity)!r}: "
            "name it as SUITE/TEST NAME exactly as the run reports it (`testfleet flaky` "
            "lists tests by that name), and run it once"
        )
    return found


RULE_ATTEMPT = (
    Attempt.run_id,
    Run.commit,
    Run.branch,
    Attempt.attempt,
    Attempt.status,
    Attempt.duration_ms,
    Attempt.started_at,
)
"""An attempt's columns in the order ``rules.Attempt`` takes them (the query joins ``Run``
on ``run_id``)."""


def attempts(session: Session, case: int) -> list[RuleAttempt]:
    """Every attempt of the test, as the rules take them."""
    rows = session.execute(
        select(*RULE_ATTEMPT).join(Run, Run.run_id == Attempt.run_id).where(Attempt.case_id == case)
    )
    return [RuleAttempt(*row) for row in rows]


_LISTED = (
    Attempt.id,
    Attempt.run_id,
    Attempt.attempt,
    Attempt.status,
    Attempt.case_status,
    Attempt.duration_ms,
    Attempt.started_at,
    Attempt.error,
    Attempt.error_signature,
    Attempt.failing_step_index,
    Run.commit,
    Run.branch,
)


def recent(
    session: Session, case: int, limit: int, before: tuple[datetime, int] | None = None
) -> list[Listed]:
    """The test's attempts, newest first, ``limit`` of them; ``before``: (started_at, id)
    of the last one of the previous page."""
    query = (
        select(*_LISTED)
        .join(Run, Run.run_id == Attempt.run_id)
        .where(Attempt.case_id == case)
        .order_by(Attempt.started_at.desc(), Attempt.id.desc())
        .limit(limit)
    )
    if before is not None:
        at, last_id = before
        query = query.where(
            or_(Attempt.started_at < at, and_(Attempt.started_at == at, Attempt.id < last_id))
        )
    return [Listed(*tuple(row)) for row in session.execute(query)]


def one_attempt(session: Session, case: int, run_id: str, attempt: int) -> Listed | None:
    """One attempt of the test, as its history lists it."""
    row = session.execute(
        select(*_LISTED)
        .join(Run, Run.run_id == Attempt.run_id)
        .where(Attempt.case_id == case, Attempt.run_id == run_id, Attempt.attempt == attempt)
    ).first()
    return Listed(*tuple(row)) if row is not None else None


# Only a test with a failed or errored attempt in the window can have a flaky run: those
# tests are found first, on the partial index of failures (a few percent of the
# attempts), and only their attempts are read, from the covering index on (case_id,
# started_at) alone. Then one row per test and run, per test and commit, per test. A run
# is a flake when it passed on a retry (its last attempt passed after a failed one) or
# ended failed on a commit on which another run of the test ended passed:
# testfleet.history.rules' definition. The second rule is counted per commit (a run
# cannot both end passed and end failed), not by a correlated subquery: the planner's
# estimate of that one was so high that PostgreSQL spent seconds compiling it (JIT).
_FLAKY = text(
    """
WITH failing AS (
    SELECT DISTINCT case_id FROM attempts
    WHERE project = :project AND started_at >= :since AND status IN ('failed', 'error')
), per_run AS (
    SELECT a.case_id, a.run_id,
           bool_or(a.last AND a.status = 'passed') AS ended_passed,
           bool_or(a.last AND a.status IN ('failed', 'error')) AS ended_failed,
           bool_or(a.status IN ('failed', 'error')) AS had_failure,
           count(*) - 1 AS retries,
           coalesce(sum(a.duration_ms) FILTER (WHERE a.status IN ('failed', 'error')), 0)
               AS lost_ms,
           min(a.started_at) AS started_at
    FROM attempts a
    WHERE a.case_id = ANY (ARRAY(SELECT case_id FROM failing)) AND a.started_at >= :since
    GROUP BY a.case_id, a.run_id
), per_commit AS (
    SELECT p.case_id, r.commit,
           count(*) AS runs,
           count(*) FILTER (WHERE p.ended_passed AND p.had_failure) AS retried_runs,
           count(*) FILTER (WHERE p.ended_failed) AS failed_runs,
           r.commit IS NOT NULL AND bool_or(p.ended_passed) AS passed_on_commit,
           sum(p.retries) AS retries,
           sum(p.lost_ms) AS lost_ms,
           max(p.started_at) FILTER (WHERE p.ended_passed AND p.had_failure) AS last_retried_at,
           max(p.started_at) FILTER (WHERE p.ended_failed) AS last_failed_at,
           max(p.started_at) FILTER (WHERE p.had_failure) AS last_failure_at
    FROM per_run p JOIN runs r ON r.run_id = p.run_id
    WHERE p.ended_passed OR p.ended_failed
    GROUP BY p.case_id, r.commit
), per_test AS (
    SELECT case_id,
           sum(runs) AS runs,
           sum(retried_runs + CASE WHEN passed_on_commit THEN failed_runs ELSE 0 END)
               AS flaky_runs,
           sum(failed_runs) AS failed_runs,
           sum(retries) AS retries,
           sum(lost_ms) AS lost_ms,
           max(GREATEST(last_retried_at,
                        CASE WHEN passed_on_commit THEN last_failed_at END)) AS last_flake_at,
           max(last_failure_at) AS last_failure_at
    FROM per_commit GROUP BY case_id
)
SELECT c.suite, c.test, c.data_row, t.runs, t.flaky_runs, t.failed_runs, t.retries,
       t.lost_ms, t.last_flake_at, t.last_failure_at
FROM per_test t JOIN cases c ON c.id = t.case_id
WHERE t.flaky_runs > 0
ORDER BY t.lost_ms DESC, c.suite, c.test, c.data_row
LIMIT :limit OFFSET :offset
"""
)


def flaky(
    session: Session, project: str, since: datetime, limit: int, offset: int = 0
) -> list[Flaky]:
    """The project's tests with a flaky run among their runs since ``since``, the most
    time lost to failed attempts first; a page of ``limit`` after ``offset``."""
    rows = session.execute(
        _FLAKY, {"project": project, "since": since, "limit": limit, "offset": offset}
    )
    return [
        Flaky(
            identity=Identity(suite, test, row),
            runs=runs,
            flaky_runs=flakes,
            failed_runs=failed,
            retries=int(retries),
            lost_ms=int(lost),
            last_flake_at=last,
            last_failure_at=last_failure,
        )
        for suite, test, row, runs, flakes, failed, retries, lost, last, last_failure in rows
    ]


def archived_run(session: Session, project: str, run_id: str) -> Run:
    """The run's row; ``NotFoundError`` when the project has no such run archived (another
    project's run is answered the same)."""
    run = session.get(Run, run_id)
    if run is None or run.project != project:
        raise NotFoundError(
            f"run {run_id} is not in project {project}'s history (it may not be archived "
            "yet: the archiver writes a run shortly after it finishes)"
        )
    return run


def clusters(session: Session, project: str, run_id: str) -> list[Cluster]:
    """The run's failures grouped by signature, the largest cluster first."""
    archived_run(session, project, run_id)
    failed = session.execute(
        select(
            Attempt.error_signature,
            Case.suite,
            Case.test,
            Case.data_row,
            Attempt.error,
            Attempt.failing_step_kind,
        )
        .join(Case, Case.id == Attempt.case_id)
        .where(Attempt.run_id == run_id, Attempt.error_signature.is_not(None))
        .order_by(Case.suite, Case.test, Attempt.attempt)
    ).all()
    if not failed:
        return []
    signatures = {row[0] for row in failed}
    seen = {
        sig: (n, runs, first)
        for sig, n, runs, first in session.execute(
            select(
                Attempt.error_signature,
                func.count(),
                func.count(Attempt.run_id.distinct()),
                func.min(Attempt.started_at),
            )
            .where(Attempt.project == project, Attempt.error_signature.in_(signatures))
            .group_by(Attempt.error_signature)
        )
    }
    grouped: dict[str, list[tuple[Identity, str | None, str | None]]] = {}
    for sig, suite, test, row, error, kind in failed:
        grouped.setdefault(str(sig), []).append((Identity(suite, test, row), error, kind))
    found = [
        Cluster(
            signature=sig,
            failures=len(members),
            tests=list(dict.fromkeys(m[0] for m in members)),
            error=next((m[1] for m in members if m[1]), None),
            step_kind=next((m[2] for m in members if m[2]), None),
            seen_failures=seen[sig][0],
            seen_runs=seen[sig][1],
            first_seen_at=seen[sig][2],
        )
        for sig, members in grouped.items()
    ]
    return sorted(found, key=lambda c: (-c.failures, c.signature))
