"""Labels of a run's failures and its failure clusters, on a real PostgreSQL (and a real
Redis for the archiver's event): seeded histories give the labels the rules say, kept
with the run in one transaction; the ``run_labels`` event carries them; the JUnit, JSON
and HTML reports show them."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from api import reports
from cli.archiver import Archiver
from testfleet import payloads
from testfleet.artifacts import open_store
from testfleet.history import db, labels
from testfleet.history.archive import write_run
from testfleet.history.models import FailureLabel
from testfleet.history.rules import Identity
from testfleet.results import AttemptSummary, CaseResult, RunMetadata, RunRecord, RunResult
from testfleet.settings import HistorySettings, Settings
from testfleet.store import RunStore
from tests.integration.history.runs import archive_settings, drain, finish_run

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

PROJECT = "shop"
SUITE = "checkout"
RULES = HistorySettings(default_branch="main", new_window_runs=3, flaky_rate_threshold=0.1)
TIMEOUT = "timed out after {ms} ms waiting for #go"
"""One cause: the signature strips the duration."""


@pytest.fixture
def settings(redis_url: str, database_url: str, tmp_path: Path) -> Settings:
    return archive_settings(redis_url, database_url, tmp_path)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return db.sessions(engine)


def _case(run_id: str, test: str, tries: list[tuple[str, str | None]], at_ms: int) -> CaseResult:
    history = [
        AttemptSummary(attempt=i, status=status, worker="w1", duration_ms=100, error=error)
        for i, (status, error) in enumerate(tries, start=1)
    ]
    final = tries[-1][0]
    status = "flaky" if final == "passed" and len(tries) > 1 else final
    return CaseResult(
        case_id=f"{run_id}:{test}",
        run_id=run_id,
        suite=SUITE,
        name=test,
        status=status,
        attempts=len(tries),
        started_ms=at_ms,
        finished_ms=at_ms + 100,
        duration_ms=100 * len(tries),
        error=tries[-1][1],
        history=history,
    )


def archive(
    sessions: sessionmaker[Session],
    run_id: str,
    at_ms: int,
    branch: str,
    tests: dict[str, list[tuple[str, str | None]]],
    quarantined: Collection[Identity] = (),
) -> bool:
    """Archive a finished run of ``tests`` (name -> its attempts: status, error)."""
    cases = [_case(run_id, name, tries, at_ms) for name, tries in tests.items()]
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.status] = counts.get(case.status, 0) + 1
    failed = any(c.status == "failed" for c in cases)
    result = RunResult(
        runId=run_id,
        projectId=PROJECT,
        name="nightly",
        status="failed" if failed else "passed",
        createdMs=at_ms,
        finishedMs=at_ms + 1000,
        counts=counts,
        tests=cases,
    )
    record = RunRecord(
        run_id=run_id,
        project_id=PROJECT,
        name="nightly",
        suites=[SUITE],
        created_ms=at_ms,
        total=len(cases),
        metadata=RunMetadata(branch=branch, commit=f"{at_ms:07x}"),  # a commit per run
    )
    return write_run(
        sessions, result, record, RULES, lambda _s, _p, ids: set(ids) & set(quarantined)
    )


PASS: list[tuple[str, str | None]] = [("passed", None)]


def fail(error: str) -> list[tuple[str, str | None]]:
    return [("failed", error), ("failed", error)]


def seed_history(sessions: sessionmaker[Session]) -> None:
    """Two runs on main, then one on a branch where four tests fail:

    - login: passed on main both times;
    - cart: failed on main both times (main's latest run failed it);
    - search: passed on main both times; in quarantine;
    - pay: failed then passed on its retry in main's first run (a flake), passed after.
    """
    archive(
        sessions,
        "m1",
        1_000_000,
        "main",
        {
            "login": PASS,
            "cart": fail(TIMEOUT.format(ms=900)),
            "search": PASS,
            "pay": [("failed", "boom 1"), ("passed", None)],
        },
    )
    archive(
        sessions,
        "m2",
        2_000_000,
        "main",
        {"login": PASS, "cart": fail(TIMEOUT.format(ms=950)), "search": PASS, "pay": PASS},
    )
    archive(
        sessions,
        "r",
        3_000_000,
        "feature",
        {
            "login": fail(TIMEOUT.format(ms=1500)),
            "cart": fail(TIMEOUT.format(ms=3000)),
            "search": fail("element #logo is not visible"),
            "pay": fail(TIMEOUT.format(ms=20)),
            "home": PASS,
        },
        quarantined={Identity(SUITE, "search")},
    )


def test_seeded_histories_give_the_labels_of_the_rules(sessions: sessionmaker[Session]) -> None:
    seed_history(sessions)

    with sessions() as session:
        found = labels.run_labels(session, "r")
    assert found is not None
    by_name = {t.name: t.labels for t in found.tests}
    # The rules, with new_window_runs=3 and flaky_rate_threshold=0.1, over runs before r:
    # new: no failed attempt on main; failing-on-main: main's latest run ended failed;
    # flaky: flaky runs / runs (r included) > 0.1 (pay: m1 passed on retry: 1 of 3).
    assert by_name == {
        "login": ["new"],
        "cart": ["failing-on-main"],
        "search": ["new", "quarantined"],
        "pay": ["flaky"],
    }
    assert "home" not in by_name  # a test that passed has no failure to label


def test_a_flaky_test_of_the_run_is_labelled_and_main_runs_are_labelled_too(
    sessions: sessionmaker[Session],
) -> None:
    seed_history(sessions)

    with sessions() as session:
        first = labels.run_labels(session, "m1")
    assert first is not None
    # m1 is the first run: nothing failed before it on main, and pay's flake is 1 of 1.
    assert {t.name: t.labels for t in first.tests} == {
        "cart": ["new"],
        "pay": ["new", "flaky"],
    }


def test_clusters_group_the_failures_of_one_signature_across_tests(
    sessions: sessionmaker[Session],
) -> None:
    seed_history(sessions)

    with sessions() as session:
        found = labels.run_labels(session, "r")
    assert found is not None
    assert [(c.count, sorted(c.tests)) for c in found.clusters] == [
        (3, ["r:cart", "r:login", "r:pay"]),
        (1, ["r:search"]),
    ]
    signatures = {t.testId: t.signature for t in found.tests}
    assert signatures["r:cart"] == signatures["r:login"] == found.clusters[0].signature
    assert found.clusters[0].error is not None
    assert "timed out" in found.clusters[0].error


def test_labels_are_written_once_with_the_run(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    seed_history(sessions)

    again = archive(sessions, "r", 3_000_000, "feature", {"login": fail("other")})

    assert again is False
    with engine.connect() as conn:
        rows = conn.scalar(
            select(func.count()).select_from(FailureLabel).where(FailureLabel.run_id == "r")
        )
    assert rows == 4


def test_a_run_not_archived_or_of_another_project_has_no_labels(
    sessions: sessionmaker[Session],
) -> None:
    seed_history(sessions)

    with sessions() as session:
        assert labels.run_labels(session, "nope") is None
        assert labels.run_labels(session, "r", project="other") is None
        assert labels.run_labels(session, "r", project=PROJECT) is not None


def test_reports_show_the_labels_and_clusters(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    seed_history(sessions)
    with sessions() as session:
        found = labels.run_labels(session, "r")
    assert found is not None
    run = RunResult(
        runId="r",
        projectId=PROJECT,
        name="nightly",
        status="failed",
        createdMs=3_000_000,
        finishedMs=3_001_000,
        counts={"failed": 4},
        tests=[_case("r", t, fail("x"), 3_000_000) for t in ("login", "cart", "search", "pay")],
    )

    junit = reports.junit_xml(run, found)
    result = reports.json_result(run, found)
    artifacts = open_store(settings)
    page = reports.html_report(run, artifacts, found)

    assert '<property name="testfleet.label" value="failing-on-main" />' in junit
    assert '<property name="testfleet.label" value="quarantined" />' in junit
    assert {t["name"]: t["labels"] for t in result["tests"]} == {
        "login": ["new"],
        "cart": ["failing-on-main"],
        "search": ["new", "quarantined"],
        "pay": ["flaky"],
    }
    assert result["labelled"] is True
    assert [c["count"] for c in result["clusters"]] == [3, 1]
    assert "4 failure(s), 2 cause(s)" in page
    assert '<span class="label l-flaky">flaky</span>' in page
    unlabelled = reports.json_result(run)
    assert unlabelled["labelled"] is False
    assert all(t["labels"] == [] for t in unlabelled["tests"])


def test_the_archiver_publishes_run_labels_after_writing_the_run(
    store: RunStore, archiver: Archiver
) -> None:
    finish_run(store, "run-1")  # passed, flaky (failed then passed), failed twice

    drain(archiver)

    events = [e for e in store.read_run_events("run-1") if e["type"] == "run_labels"]
    assert len(events) == 1
    payload = payloads.parse("run_labels", events[0]["payload"])
    assert isinstance(payload, payloads.RunLabels)
    assert payloads.unknown_fields(payload) == []
    # Both failures are the first on this project's main: new; test 1's retry is a flake.
    assert {t.name: t.labels for t in payload.tests} == {
        "test 1": ["new", "flaky"],
        "test 2": ["new"],
    }
    assert [(c.count, sorted(c.tests)) for c in payload.clusters] == [(2, ["run-1-1", "run-1-2"])]
