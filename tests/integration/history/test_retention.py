"""History retention on a real PostgreSQL: runs older than the retention go with their
attempts and labels, tests left without attempts go too, the rest stays; the archiver
prunes on its own, and ``testfleet db prune`` does it on demand."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert

from cli.archiver import Archiver
from testfleet.history import db, retention
from testfleet.history.models import Attempt, Case, FailureLabel, Run
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.conftest import ROOT, cli
from tests.integration.history.seed import T0, SeedRun, Try, seed

pytestmark = pytest.mark.postgres

DAY_H = 24
OLD, NEW = ("checkout", "old only"), ("checkout", "still run")


def _history(engine: Engine) -> None:
    """Three runs 100, 95 and 91 days before T0, two in the last 2 days; ``OLD`` ran only
    in the old ones, ``NEW`` in all. One old run's failure has a label."""
    fail = [Try("failed", 300, "boom", "sig1"), Try("passed", 100)]
    runs = [
        SeedRun(f"old-{days}", -days * DAY_H, tests={OLD: fail, NEW: [Try("passed", 100)]})
        for days in (100, 95, 91)
    ]
    runs += [SeedRun(f"new-{h}", h, tests={NEW: [Try("passed", 100)]}) for h in (0, DAY_H)]
    seed(engine, "shop", runs)
    with engine.begin() as conn:
        old_case = conn.scalar(select(Case.id).where(Case.test == OLD[1]))
        conn.execute(
            insert(FailureLabel).values(
                run_id="old-100", run_case="old-100-0", case_id=old_case, labels=["flaky"]
            )
        )


def _left(engine: Engine) -> tuple[list[str], list[str], int, int]:
    with engine.connect() as conn:
        return (
            sorted(conn.scalars(select(Run.run_id))),
            sorted(conn.scalars(select(Case.test))),
            conn.scalar(select(func.count()).select_from(Attempt)) or 0,
            conn.scalar(select(func.count()).select_from(FailureLabel)) or 0,
        )


def test_prune_deletes_old_runs_in_batches_and_the_tests_they_leave_behind(
    engine: Engine,
) -> None:
    _history(engine)
    before = T0 - timedelta(days=90)

    # One run per transaction: three batches for the three old runs.
    pruned = retention.prune(db.sessions(engine), before, batch_runs=1)

    assert pruned == retention.Pruned(runs=3, attempts=9, cases=1)
    assert _left(engine) == (["new-0", "new-24"], [NEW[1]], 2, 0)
    assert retention.prune(db.sessions(engine), before, batch_runs=1) == retention.Pruned()


def test_prune_stops_between_batches_when_asked(engine: Engine) -> None:
    _history(engine)
    asked = iter([False, True])

    pruned = retention.prune(
        db.sessions(engine), T0 - timedelta(days=90), 1, stopping=lambda: next(asked, True)
    )

    assert pruned == retention.Pruned(runs=1, attempts=3, cases=0)
    assert len(_left(engine)[0]) == 4


def test_retention_of_zero_days_keeps_history_forever() -> None:
    assert retention.cutoff(0) is None
    assert retention.cutoff(90, T0) == T0 - timedelta(days=90)


@pytest.fixture
def settings(redis_url: str, database_url: str, tmp_path: Path) -> Settings:
    """The archiver's (``store`` builds the run store from it)."""
    return Settings(
        redis={"url": redis_url},
        database={"url": database_url},
        history={"retention_days": 30, "prune_interval_s": 3600},
        paths={"state_dir": tmp_path},
    )


@pytest.mark.redis
def test_the_archiver_prunes_once_per_interval(
    engine: Engine, settings: Settings, store: RunStore
) -> None:
    _history(engine)
    archiver = Archiver(settings, store, db.sessions(engine), name="a1")

    first = archiver.prune_if_due()
    # An old run archived late (its archiver was down) waits for the next interval.
    seed(engine, "shop", [SeedRun("late", -100 * DAY_H, tests={NEW: [Try("passed", 100)]})])
    second = archiver.prune_if_due()

    assert first == retention.Pruned(runs=3, attempts=9, cases=1)
    assert second is None
    assert _left(engine)[0] == ["late", "new-0", "new-24"]


def test_db_prune_command_prunes_past_the_days_given(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    _history(engine)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TESTFLEET_DATABASE__URL": database_url,
        "TESTFLEET_PATHS__STATE_DIR": str(tmp_path),
    }

    kept = cli("db", "prune", "--days", "0", env=env)
    # T0 is 3 days ago: the old runs are 94 to 103 days old, the new ones 1 to 3.
    pruned = cli("db", "prune", "--days", "30", env=env)
    wrong = cli("db", "prune", "--days", "-1", env=env)

    assert kept.returncode == 0, kept.stderr
    assert "kept forever" in kept.stdout
    assert pruned.returncode == 0, pruned.stderr
    assert "pruned 3 runs (9 attempts) and 1 tests" in pruned.stdout
    assert _left(engine)[0] == ["new-0", "new-24"]
    assert wrong.returncode == 2
    assert "--days" in wrong.stderr
