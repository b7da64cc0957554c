"""History at scale: 10,000 tests x 100 runs (1 M attempts) in a real PostgreSQL.

A private cluster (``tests.fixtures_postgres.postgres_cluster``: initdb into a temporary
directory, a Unix socket only) gets the real schema from the Alembic migrations
(``testfleet.history.migrate.upgrade``), then a seeded history, written by the server
itself (``INSERT ... SELECT`` over ``generate_series``: no row crosses the socket):

- one project, 10,000 tests in 100 suites, 100 runs six hours apart (the last 25 days:
  every run is in the flaky list's default 30-day window, its worst case), every other
  pair of runs on one commit, one run in four on a feature branch;
- every test runs in every run; one test in 20 fails its first attempt in 15 % of its
  runs and passes on the retry (flaky), one in 50 fails both attempts in 30 % of its
  runs; a failure has an error and a failure signature, like an archived one.

Then, through the code the API runs (``testfleet.history.queries``, ``rules``):

- a test's history: what ``GET /api/v1/history/tests`` does (resolve the name, the
  test's id, every attempt for its figures, a page of 50, its last failure), for a
  sample of tests, one session each: P95 (target <= 300 ms);
- the flaky list: ``GET /api/v1/history/flaky``'s query (30 days, a page of 50), a few
  times: median (target <= 500 ms); beside it, as the baseline of this machine, a plain
  count of the window's attempts (one scan of what the list reads) and the ratio;
- archiving: finished runs of 1,000 cases (real ``RunRecord`` / ``RunResult`` /
  ``CaseResult`` objects, 5 % with a failed attempt and its steps) written by
  ``testfleet.history.archive.write_run`` into the seeded database, labels included:
  cases per second (target >= 1,000);
- the database's size (``pg_total_relation_size`` of its tables, indexes included) per
  million attempts.

``TESTFLEET_BENCH__QUICK=1``: 1,000 tests x 20 runs, fewer samples.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from bench.bench_throughput import quick_mode
from bench.common import percentile, ratio, verdict
from testfleet.events import now_ms
from testfleet.history import archive, migrate, naming, queries, rules
from testfleet.history.db import sessions
from testfleet.results import (
    AttemptSummary,
    CaseResult,
    RunMetadata,
    RunRecord,
    RunResult,
    StepResult,
)
from testfleet.settings import HistorySettings, Settings
from tests.fixtures_postgres import postgres_cluster

TITLE = "History at scale: a test's history, the flaky list, archiving, size per 1 M attempts"

PROJECT = "bench"
TESTS, RUNS = 10_000, 100
QUICK_TESTS, QUICK_RUNS = 1_000, 20
SUITES = 100
RUN_SPACING_H = 6
HISTORY_SAMPLES, QUICK_HISTORY_SAMPLES = 200, 40
FLAKY_REPEATS, QUICK_FLAKY_REPEATS = 7, 3
ARCHIVE_RUNS, QUICK_ARCHIVE_RUNS = 5, 2
ARCHIVE_CASES = 1_000
FLAKY_DAYS = 30
PAGE = 50
"""The API's default page of attempts and of flaky tests."""

TARGET_HISTORY_P95_MS = 300.0
TARGET_FLAKY_MS = 500.0
TARGET_ARCHIVE_CASES_PER_S = 1_000.0
MB = 1024 * 1024

# Outcomes are drawn from a hash of (run, test): the same on every machine and rerun.
# ``x`` in 0..999 per (run, test); a test flaky by nature (t % 20 = 0) fails its first
# attempt when x < 150 and passes the retry; a broken one (t % 50 = 1) fails both when
# x < 300.
_SEED_SQL = (
    """
INSERT INTO runs (run_id, project, name, status, branch, commit, total, counts, started_at,
                  finished_at)
SELECT 'bench-run-' || lpad(r::text, 4, '0'), :project, 'nightly', 'failed',
       CASE WHEN r % 4 = 3 THEN 'feature-x' ELSE 'main' END,
       substr(md5('commit-' || (r / 2)), 1, 12), :tests, '{}'::jsonb,
       :t0 + make_interval(hours => r * :spacing_h),
       :t0 + make_interval(hours => r * :spacing_h, mins => 10)
FROM generate_series(0, :runs - 1) AS r
""",
    """
INSERT INTO cases (project, suite, test, data_row, first_seen_at)
SELECT :project, 'Suite ' || lpad((t % :suites)::text, 3, '0'), 'test ' || t, '', :t0
FROM generate_series(0, :tests - 1) AS t
""",
    """
CREATE TEMP TABLE outcome AS
SELECT r, t, c.id AS case_id,
       abs(hashtext(r || ':' || t)) % 1000 AS x,
       CASE WHEN t % 20 = 0 AND abs(hashtext(r || ':' || t)) % 1000 < 150 THEN 'flaky'
            WHEN t % 50 = 1 AND abs(hashtext(r || ':' || t)) % 1000 < 300 THEN 'failed'
            ELSE 'passed' END AS final
FROM generate_series(0, :runs - 1) AS r
CROSS JOIN generate_series(0, :tests - 1) AS t
JOIN cases c ON c.project = :project AND c.test = 'test ' || t
""",
    """
INSERT INTO attempts (run_id, case_id, run_case, project, attempt, retry, last, status,
                      case_status, duration_ms, started_at, worker, failing_step_index,
                      failing_step_kind, failing_step_selector, error, error_signature,
                      artifacts)
SELECT 'bench-run-' || lpad(o.r::text, 4, '0'), o.case_id, o.r || '-' || o.t, :project,
       n, n - 1, n = CASE WHEN o.final = 'passed' THEN 1 ELSE 2 END,
       CASE WHEN o.final = 'passed' OR (o.final = 'flaky' AND n = 2) THEN 'passed'
            ELSE 'failed' END,
       o.final, 200 + o.x + 40 * n,
       :t0 + make_interval(hours => o.r * :spacing_h, secs => o.t % 600),
       'worker-' || (o.t % 8),
       CASE WHEN o.final <> 'passed' AND NOT (o.final = 'flaky' AND n = 2) THEN 3 END,
       CASE WHEN o.final <> 'passed' AND NOT (o.final = 'flaky' AND n = 2) THEN 'click' END,
       CASE WHEN o.final <> 'passed' AND NOT (o.final = 'flaky' AND n = 2)
            THEN '#buy-' || (o.t % 37) END,
       CASE WHEN o.final <> 'passed' AND NOT (o.final = 'flaky' AND n = 2)
            THEN 'element #buy-' || (o.t % 37) || ' not clickable after ' || o.x || ' ms' END,
       CASE WHEN o.final <> 'passed' AND NOT (o.final = 'flaky' AND n = 2)
            THEN substr(md5('sig-' || (o.t % 37)), 1, 16) END,
       '{}'::text[]
FROM outcome o
CROSS JOIN LATERAL generate_series(1, CASE WHEN o.final = 'passed' THEN 1 ELSE 2 END) AS n
""",
    "DROP TABLE outcome",
)

_TABLES = ("runs", "cases", "attempts", "failure_labels")


def _seed(bound: Engine, tests: int, runs: int, t0: datetime) -> int:
    """Write the seeded history (the module's docstring); the number of attempts."""
    params = {
        "project": PROJECT,
        "tests": tests,
        "runs": runs,
        "suites": SUITES,
        "spacing_h": RUN_SPACING_H,
        "t0": t0,
    }
    with bound.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        for statement in _SEED_SQL:
            conn.execute(text(statement), params)
    # What a long-lived database has: its planner statistics and visibility map.
    with bound.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        return int(conn.scalar(text("SELECT count(*) FROM attempts")) or 0)


def _size_bytes(bound: Engine) -> int:
    with bound.connect() as conn:
        total = conn.scalar(
            text(
                "SELECT sum(pg_total_relation_size(c)) FROM unnest(CAST(:tables AS regclass[])) c"
            ),
            {"tables": list(_TABLES)},
        )
    return int(total or 0)


def read_test_history(session: Session, project: str, name: str, settings: HistorySettings) -> int:
    """What ``GET /api/v1/history/tests?test=NAME`` reads (``api.routes.history``); the
    number of attempts listed."""
    identity = queries.resolve(session, project, name)
    case = queries.case_id(session, project, identity)
    figures = rules.stats(queries.attempts(session, case), settings)
    page = queries.recent(session, case, PAGE + 1)
    last = figures.last_failure
    if last is not None:
        queries.one_attempt(session, case, last.run_id, last.attempt)
    return len(page)


def _time_histories(
    made: sessionmaker[Session], names: list[str], settings: HistorySettings
) -> list[float]:
    timings: list[float] = []
    for name in names:
        started = time.perf_counter()
        with made.begin() as session:
            listed = read_test_history(session, PROJECT, name, settings)
        timings.append((time.perf_counter() - started) * 1000)
        if not listed:
            raise RuntimeError(f"the seeded test {name!r} has no attempts: the seed is wrong")
    return timings


def _time_flaky(made: sessionmaker[Session], repeats: int) -> tuple[list[float], int]:
    since = datetime.now(UTC) - timedelta(days=FLAKY_DAYS)
    timings: list[float] = []
    found = 0
    for _ in range(repeats):
        started = time.perf_counter()
        with made.begin() as session:
            found = len(queries.flaky(session, PROJECT, since, PAGE + 1))
        timings.append((time.perf_counter() - started) * 1000)
    if not found:
        raise RuntimeError("the flaky list of the seeded history is empty: the seed is wrong")
    return timings, found


def _time_window_count(made: sessionmaker[Session], repeats: int) -> list[float]:
    """The baseline: one scan of the attempts the flaky list reads, counted."""
    since = datetime.now(UTC) - timedelta(days=FLAKY_DAYS)
    timings: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        with made.begin() as session:
            session.execute(
                text("SELECT count(*) FROM attempts WHERE project = :p AND started_at >= :s"),
                {"p": PROJECT, "s": since},
            ).scalar()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def finished_run(index: int, tests: int, cases: int) -> tuple[RunResult, RunRecord]:
    """A finished run of ``cases`` of the seeded tests, as the run store gives it to the
    archiver: one case in 20 failed its first attempt (with its steps), half of those
    passed on the retry."""
    run_id = f"bench-archive-{index:03d}"
    now = now_ms()
    results: list[CaseResult] = []
    rng = random.Random(index)
    for position, t in enumerate(rng.sample(range(tests), cases)):
        suite = f"Suite {t % SUITES:03d}"
        tries = [AttemptSummary(attempt=1, status="passed", worker="w1", duration_ms=240)]
        steps: list[StepResult] = []
        status, failed_step, error = "passed", None, None
        if position % 20 == 0:
            error = f"element #buy-{t % 37} not clickable after {rng.randint(1, 999)} ms"
            retried = "passed" if position % 40 == 0 else "failed"
            tries = [
                AttemptSummary(
                    attempt=1, status="failed", worker="w1", duration_ms=900, error=error
                ),
                AttemptSummary(
                    attempt=2,
                    status=retried,
                    worker="w2",
                    duration_ms=300,
                    error=None if retried == "passed" else error,
                ),
            ]
            status = "flaky" if retried == "passed" else "failed"
            failed_step = None if retried == "passed" else 3
            error = None if retried == "passed" else error
            steps = [
                StepResult(index=1, label="navigate /", step_type="navigate", status="passed"),
                StepResult(index=2, label="fill #q", step_type="fill", status="passed"),
                StepResult(
                    index=3,
                    label=f"click #buy-{t % 37}",
                    step_type="click",
                    status="failed" if failed_step else "passed",
                    selector=f"#buy-{t % 37}",
                ),
            ]
        results.append(
            CaseResult(
                case_id=f"{run_id}-{position}",
                run_id=run_id,
                suite=suite,
                name=f"test {t}",
                status=status,
                attempts=len(tries),
                history=tries,
                steps=steps,
                failed_step=failed_step,
                error=error,
                started_ms=now,
                finished_ms=now,
                duration_ms=sum(a.duration_ms for a in tries),
            )
        )
    counts: dict[str, int] = {}
    for case in results:
        counts[case.status] = counts.get(case.status, 0) + 1
    meta = RunMetadata(branch="main", commit=f"{index:012x}", ci_provider="github")
    record = RunRecord(
        run_id=run_id,
        project_id=PROJECT,
        name="archived",
        suites=sorted({c.suite for c in results}),
        created_ms=now,
        total=len(results),
        metadata=meta,
    )
    result = RunResult(
        runId=run_id,
        projectId=PROJECT,
        name="archived",
        status="failed",
        createdMs=now,
        finishedMs=now,
        counts=counts,
        tests=results,
        metadata=meta,
    )
    return result, record


def _time_archiving(
    made: sessionmaker[Session], tests: int, runs: int, settings: HistorySettings
) -> tuple[int, float]:
    """Archive ``runs`` runs of ``ARCHIVE_CASES`` cases; (cases, seconds in write_run)."""
    built = [finished_run(i, tests, min(ARCHIVE_CASES, tests)) for i in range(runs)]
    elapsed_s = 0.0
    cases = 0
    for result, record in built:
        started = time.perf_counter()
        if not archive.write_run(made, result, record, settings):
            raise RuntimeError(f"run {result.runId} was archived already: the database is not new")
        elapsed_s += time.perf_counter() - started
        cases += len(result.tests)
    return cases, elapsed_s


def run(settings: Settings) -> dict[str, Any]:
    """Seed, then measure (the module's docstring)."""
    quick = quick_mode() or settings.bench.quick
    tests, runs = (QUICK_TESTS, QUICK_RUNS) if quick else (TESTS, RUNS)
    samples = QUICK_HISTORY_SAMPLES if quick else HISTORY_SAMPLES
    repeats = QUICK_FLAKY_REPEATS if quick else FLAKY_REPEATS
    archive_runs = QUICK_ARCHIVE_RUNS if quick else ARCHIVE_RUNS
    rules_settings = settings.history
    # The last run ends an hour ago: the whole history is inside the 30-day window.
    t0 = datetime.now(UTC) - timedelta(hours=(runs - 1) * RUN_SPACING_H + 1)
    with postgres_cluster() as server:
        bound = create_engine(server.create_database())
        try:
            migrate.upgrade(bound)
            started = time.monotonic()
            attempts = _seed(bound, tests, runs, t0)
            seed_s = time.monotonic() - started
            size = _size_bytes(bound)
            made = sessions(bound)
            rng = random.Random(7)
            names = [
                naming.joined(rules.Identity(f"Suite {t % SUITES:03d}", f"test {t}", ""))
                for t in rng.sample(range(tests), samples)
            ]
            _time_histories(made, names[:5], rules_settings)  # warm the caches, untimed
            history_ms = _time_histories(made, names, rules_settings)
            window_ms = _time_window_count(made, repeats)
            flaky_ms, flaky_found = _time_flaky(made, repeats)
            cases, archive_s = _time_archiving(made, tests, archive_runs, rules_settings)
        finally:
            bound.dispose()
    flaky_median = statistics.median(flaky_ms)
    window_median = statistics.median(window_ms)
    return {
        "quick": quick,
        "tests": tests,
        "runs": runs,
        "attempts": attempts,
        "seed_s": round(seed_s, 1),
        "history_samples": samples,
        "history_p50_ms": round(percentile(history_ms, 50), 1),
        "history_p95_ms": round(percentile(history_ms, 95), 1),
        "history_max_ms": round(max(history_ms), 1),
        "flaky_repeats": repeats,
        "flaky_median_ms": round(flaky_median, 1),
        "flaky_max_ms": round(max(flaky_ms), 1),
        "flaky_listed": min(flaky_found, PAGE),
        "window_count_median_ms": round(window_median, 1),
        "flaky_vs_window_count": ratio(flaky_median, window_median),
        "archive_cases": cases,
        "archive_s": round(archive_s, 2),
        "archive_cases_per_s": round(cases / archive_s, 1) if archive_s else 0.0,
        "size_bytes": size,
        "size_mb_per_million_attempts": round(size / MB / attempts * 1_000_000, 1)
        if attempts
        else 0.0,
    }


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The table: each figure against its target."""
    mode = "quick" if figures.get("quick") else "full"
    p95 = figures.get("history_p95_ms", 0.0)
    flaky = figures.get("flaky_median_ms", 0.0)
    per_s = figures.get("archive_cases_per_s", 0.0)
    return [
        (
            "seeded tests x runs",
            f"{figures.get('tests')} x {figures.get('runs')}",
            f"{mode}; {figures.get('attempts')} attempts in {figures.get('seed_s')} s",
        ),
        (
            "a test's history, P95",
            f"{p95:.1f} ms",
            f"P50 {figures.get('history_p50_ms', 0.0):.1f} ms over "
            f"{figures.get('history_samples')} tests; <= {TARGET_HISTORY_P95_MS:g} ms "
            f"{verdict(p95 <= TARGET_HISTORY_P95_MS)}",
        ),
        (
            "flaky list (30 days), median",
            f"{flaky:.1f} ms",
            f"max {figures.get('flaky_max_ms', 0.0):.1f} ms; <= {TARGET_FLAKY_MS:g} ms "
            f"{verdict(flaky <= TARGET_FLAKY_MS)}",
        ),
        (
            "baseline: count the window",
            f"{figures.get('window_count_median_ms', 0.0):.1f} ms",
            f"flaky list / baseline {figures.get('flaky_vs_window_count')}x",
        ),
        (
            "archiving",
            f"{per_s:.0f} cases/s",
            f"{figures.get('archive_cases')} cases in {figures.get('archive_s')} s; "
            f">= {TARGET_ARCHIVE_CASES_PER_S:g} {verdict(per_s >= TARGET_ARCHIVE_CASES_PER_S)}",
        ),
        (
            "database size per 1 M attempts",
            f"{figures.get('size_mb_per_million_attempts', 0.0):.1f} MB",
            f"{figures.get('size_bytes', 0) / MB:.1f} MB in all, indexes included",
        ),
    ]
