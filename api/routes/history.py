"""``/api/v1/history``: a test's history and figures, the flaky tests, a run's failure
clusters, all from the history database and within the key's project (``test:read``).

Another project's test or run is answered like a missing one. Pages: a test's attempts
by a cursor (``nextCursor``), the flaky list by one too; both newest / worst first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from api.auth import ReadKey
from api.errors import ERROR_RESPONSES, ApiError
from api.models import LastFailed, TestRef
from api.services import services
from testfleet.constants import API_PREFIX, run_path
from testfleet.history import naming, queries, rules, scheduling
from testfleet.history.queries import Listed

router = APIRouter(prefix=f"{API_PREFIX}/history", tags=["history"], responses=ERROR_RESPONSES)


class HistoryAttempt(BaseModel):
    """One attempt at the test."""

    runId: str
    run: str
    """The run's path in this API (it answers while the run is kept in the run store)."""
    attempt: int
    status: str
    """How the attempt ended: passed, failed, error or cancelled."""
    runStatus: str
    """The test's final status in that run (flaky: passed on a retry)."""
    durationMs: int
    startedAt: datetime
    error: str | None
    signature: str | None
    failedStep: int | None
    commit: str | None
    branch: str | None


class TrendOut(BaseModel):
    direction: str
    """slower, faster or steady."""
    changeRatio: float
    recentP50Ms: float
    previousP50Ms: float
    windowAttempts: int


class TestHistory(BaseModel):
    """A test's figures over its whole history and a page of its attempts."""

    test: str
    suite: str
    name: str
    dataRow: str
    runs: int
    """Runs that ended passed or failed."""
    passedRuns: int
    flakyRuns: int
    passRate: float | None
    flakeRate: float | None
    p50Ms: float | None
    p95Ms: float | None
    trend: TrendOut | None
    firstSeen: datetime | None
    lastFailure: HistoryAttempt | None
    attempts: list[HistoryAttempt]
    """Newest first."""
    nextCursor: str | None


class FlakyTest(BaseModel):
    test: str
    suite: str
    name: str
    dataRow: str
    runs: int
    flakyRuns: int
    failedRuns: int
    flakeRate: float
    retries: int
    lostMs: int
    """Time spent in failed or errored attempts (retried and final)."""
    lastFlakeAt: datetime | None
    lastFailureAt: datetime | None
    """The newest of its runs in the window with a failed attempt (flaky or failed)."""


class FlakyList(BaseModel):
    """Tests with a flaky run in the window, the most time lost first."""

    since: datetime
    tests: list[FlakyTest]
    nextCursor: str | None


class ClusterOut(BaseModel):
    signature: str
    failures: int
    tests: list[str]
    error: str | None
    stepKind: str | None
    seenFailures: int
    """Failures with this signature in the project's whole history."""
    seenRuns: int
    firstSeenAt: datetime


class RunClusters(BaseModel):
    """A run's failures grouped by cause ("14 failures, 1 cause")."""

    runId: str
    failures: int
    clusters: list[ClusterOut]


def _attempt(row: Listed) -> HistoryAttempt:
    return HistoryAttempt(
        runId=row.run_id,
        run=run_path(row.run_id),
        attempt=row.attempt,
        status=row.status,
        runStatus=row.case_status,
        durationMs=row.duration_ms,
        startedAt=row.started_at,
        error=row.error,
        signature=row.error_signature,
        failedStep=row.failing_step_index,
        commit=row.commit,
        branch=row.branch,
    )


def _attempt_cursor(row: Listed) -> str:
    return f"{int(row.started_at.timestamp() * 1_000_000)}.{row.id}"


def _decode_attempt_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        micros, _, row_id = cursor.partition(".")
        at = datetime.fromtimestamp(int(micros) / 1_000_000, UTC)
        return at, int(row_id)
    except (ValueError, OverflowError, OSError):
        raise ApiError(
            400, "invalid_cursor", "this cursor is not one this API gave: pass nextCursor as is"
        ) from None


def _decode_offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 9:
        raise ApiError(
            400, "invalid_cursor", "this cursor is not one this API gave: pass nextCursor as is"
        )
    return int(cursor)


@router.get("/tests", summary="A test's history")
def get_test_history(
    request: Request,
    key: ReadKey,
    test: Annotated[
        str,
        Query(
            min_length=3, max_length=2000, pattern=naming.PRINTABLE, description="SUITE/TEST NAME"
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=500, description="Attempts per page")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=100, description="nextCursor of the previous page")
    ] = None,
) -> TestHistory:
    """A test's last attempts (status, duration, error, run, commit, branch) and its
    figures over every archived run: pass rate, flake rate, P50/P95 duration and trend,
    first seen, last failure. Needs ``test:read``."""
    svc = services(request)
    before = _decode_attempt_cursor(cursor) if cursor else None
    with svc.history.session() as session:
        identity = queries.resolve(session, key.project, test)
        case = queries.case_id(session, key.project, identity)
        figures = rules.stats(queries.attempts(session, case), svc.settings.history)
        page = queries.recent(session, case, limit + 1, before)
        last = figures.last_failure
        last_row = queries.one_attempt(session, case, last.run_id, last.attempt) if last else None
    more = len(page) > limit
    page = page[:limit]
    trend = figures.trend
    return TestHistory(
        test=naming.joined(identity),
        suite=identity.suite,
        name=identity.test,
        dataRow=identity.data_row,
        runs=figures.runs,
        passedRuns=figures.passed_runs,
        flakyRuns=figures.flaky_runs,
        passRate=figures.pass_rate,
        flakeRate=figures.flake_rate,
        p50Ms=figures.p50_ms,
        p95Ms=figures.p95_ms,
        trend=TrendOut(
            direction=trend.direction,
            changeRatio=trend.change_ratio,
            recentP50Ms=trend.recent_p50_ms,
            previousP50Ms=trend.previous_p50_ms,
            windowAttempts=trend.window_attempts,
        )
        if trend
        else None,
        firstSeen=figures.first_seen,
        lastFailure=_attempt(last_row) if last_row else None,
        attempts=[_attempt(r) for r in page],
        nextCursor=_attempt_cursor(page[-1]) if more else None,
    )


@router.get("/flaky", summary="Flaky tests")
def flaky_tests(
    request: Request,
    key: ReadKey,
    days: Annotated[int, Query(ge=1, le=365, description="Runs of the last this many days")] = 30,
    limit: Annotated[int, Query(ge=1, le=500, description="Tests per page")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=20, description="nextCursor of the previous page")
    ] = None,
) -> FlakyList:
    """The project's tests with a flaky run (failed then passed on a retry, or failed on
    a commit on which they also passed) in the last ``days``, sorted by the time lost to
    failed attempts. Needs ``test:read``."""
    offset = _decode_offset(cursor)
    since = datetime.now(UTC) - timedelta(days=days)
    with services(request).history.session() as session:
        found = queries.flaky(session, key.project, since, limit + 1, offset)
    more = len(found) > limit
    return FlakyList(
        since=since,
        tests=[
            FlakyTest(
                test=naming.joined(f.identity),
                suite=f.identity.suite,
                name=f.identity.test,
                dataRow=f.identity.data_row,
                runs=f.runs,
                flakyRuns=f.flaky_runs,
                failedRuns=f.failed_runs,
                flakeRate=f.flake_rate,
                retries=f.retries,
                lostMs=f.lost_ms,
                lastFlakeAt=f.last_flake_at,
                lastFailureAt=f.last_failure_at,
            )
            for f in found[:limit]
        ],
        nextCursor=str(offset + limit) if more else None,
    )


@router.get("/runs/{run_id}/clusters", summary="A run's failure clusters")
def run_clusters(
    request: Request,
    run_id: Annotated[str, Path(max_length=64, pattern=naming.PRINTABLE)],
    key: ReadKey,
) -> RunClusters:
    """The run's failed attempts grouped by failure signature, the largest group first,
    each with how often the project saw it before. The run must be archived (shortly
    after it finishes). Needs ``test:read``."""
    with services(request).history.session() as session:
        found = queries.clusters(session, key.project, run_id)
    return RunClusters(
        runId=run_id,
        failures=sum(c.failures for c in found),
        clusters=[
            ClusterOut(
                signature=c.signature,
                failures=c.failures,
                tests=[naming.joined(t) for t in c.tests],
                error=c.error,
                stepKind=c.step_kind,
                seenFailures=c.seen_failures,
                seenRuns=c.seen_runs,
                firstSeenAt=c.first_seen_at,
            )
            for c in found
        ],
    )


@router.get("/last-failed", summary="The tests that failed in a branch's latest run")
def last_failed(
    request: Request,
    key: ReadKey,
    suite: Annotated[
        list[str],
        Query(min_length=1, description="A suite of the run (repeat for each suite)"),
    ],
    branch: Annotated[str, Query(min_length=1, max_length=255, pattern=naming.PRINTABLE)],
) -> LastFailed:
    """The tests that ended failed (or errored) in the newest archived run on ``branch``
    whose tests all come from these suites (``testfleet run --last-failed``); ``runId``
    null when there is no such run. Needs ``test:read``."""
    with services(request).history.session() as session:
        last = scheduling.last_run(session, key.project, suite, branch)
    if last is None:
        return LastFailed(runId=None, branch=branch)
    tests = [TestRef(suite=s, test=t) for s, t in last.failed]
    return LastFailed(runId=last.run_id, branch=branch, tests=tests)
