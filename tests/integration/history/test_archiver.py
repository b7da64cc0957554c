"""The archiver on a real Redis and a real PostgreSQL: every finished run is written
once, whole; redeliveries write nothing twice; an outage of the database loses nothing;
a run that expired from Redis first is named in a warning."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select

from cli.archiver import Archiver
from testfleet import keys
from testfleet.history import db
from testfleet.history.models import Attempt, Case, Run
from testfleet.history.signature import signature
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.fixtures_postgres import PgServer
from tests.integration.history.runs import (
    FAILED_STEPS,
    archive_settings,
    archived_runs,
    counts,
    drain,
    finish_run,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def settings(redis_url: str, database_url: str, tmp_path: Path) -> Settings:
    return archive_settings(redis_url, database_url, tmp_path)


def test_a_finished_run_is_archived_whole_with_its_attempts(
    store: RunStore, archiver: Archiver, engine: Engine
) -> None:
    finish_run(store, "run-1", failed_steps=FAILED_STEPS)
    drain(archiver)

    assert counts(engine) == (1, 3, 5)
    with engine.connect() as conn:
        run = conn.execute(select(Run)).one()
        assert (run.project, run.status, run.total, run.submitted_by) == (
            "shop",
            "failed",
            3,
            "ci",
        )
        assert run.counts == {"passed": 1, "flaky": 1, "failed": 1}
        assert (run.branch, run.commit, run.ci_provider) == ("main", "3816a68", "github")
        assert run.finished_at is not None
        rows = conn.execute(
            select(Case.test, Attempt.attempt, Attempt.retry, Attempt.status, Attempt.case_status)
            .join(Case, Case.id == Attempt.case_id)
            .order_by(Case.test, Attempt.attempt)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("test 0", 1, 0, "passed", "passed"),
            ("test 1", 1, 0, "failed", "flaky"),
            ("test 1", 2, 1, "passed", "flaky"),
            ("test 2", 1, 0, "failed", "failed"),
            ("test 2", 2, 1, "failed", "failed"),
        ]
        failing = conn.execute(
            select(
                Attempt.failing_step_index,
                Attempt.failing_step_kind,
                Attempt.failing_step_selector,
                Attempt.error,
                Attempt.artifacts,
                Attempt.error_signature,
            ).where(Attempt.last, Attempt.status == "failed")
        ).one()
        error = "element #go not found"
        # The failing step's kind and selector are part of the last attempt's signature;
        # earlier attempts keep no steps, so theirs has neither.
        assert tuple(failing) == (
            2,
            "click",
            "#go",
            error,
            ["shot.png"],
            signature(error, "click", "#go").digest,
        )
        signatures = conn.scalars(
            select(Attempt.error_signature).where(Attempt.status == "failed", ~Attempt.last)
        ).all()
        assert signatures == [signature(error, None, None).digest] * 2
        passed = conn.scalars(select(Attempt.error_signature).where(Attempt.status == "passed"))
        assert set(passed) == {None}
    # acknowledged and deleted: nothing left to read
    assert store.redis.xlen(keys.ARCHIVE_STREAM) == 0


def test_a_run_is_written_once_however_often_it_is_delivered(
    store: RunStore, archiver: Archiver, engine: Engine
) -> None:
    finish_run(store, "run-1")
    finish_run(store, "run-2")
    drain(archiver)
    before = counts(engine)
    # Redelivered: an archiver died after committing, before acknowledging.
    store.redis.xadd(keys.ARCHIVE_STREAM, {keys.ARCHIVE_RUN_FIELD: "run-1"})
    store.redis.xadd(keys.ARCHIVE_STREAM, {keys.ARCHIVE_RUN_FIELD: "run-1"})
    drain(archiver)

    assert counts(engine) == before == (2, 3, 10)  # the tests' identities are shared
    assert archived_runs(engine) == ["run-1", "run-2"]


def test_a_run_expired_before_archiving_is_named_in_a_warning(
    store: RunStore, archiver: Archiver, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    finish_run(store, "run-gone")
    store.remove_runs(["run-gone"])
    with caplog.at_level(logging.WARNING):
        drain(archiver)

    assert counts(engine) == (0, 0, 0)
    assert any("run-gone" in r.getMessage() for r in caplog.records)
    assert store.redis.xlen(keys.ARCHIVE_STREAM) == 0


def test_entries_of_a_dead_archiver_are_taken_over(
    settings: Settings, store: RunStore, engine: Engine
) -> None:
    quick = settings.model_copy(
        update={"database": settings.database.model_copy(update={"archive_claim_idle_ms": 1000})}
    )
    dead = Archiver(quick, store, db.sessions(engine), name="dead")
    dead.ensure_group()
    finish_run(store, "run-1")
    # "dead" read the entry and died before writing it: the entry is pending under its name.
    taken = store.redis.xreadgroup(keys.ARCHIVE_GROUP, "dead", {keys.ARCHIVE_STREAM: ">"}, count=10)
    assert taken
    other = Archiver(quick, store, db.sessions(engine), name="other")

    wait_until("another archiver to take the run over", lambda: other.step() == 1, 30)

    assert archived_runs(engine) == ["run-1"]
    assert store.redis.xpending(keys.ARCHIVE_STREAM, keys.ARCHIVE_GROUP)["pending"] == 0


def test_postgresql_down_loses_nothing(
    postgres: PgServer, settings: Settings, store: RunStore, engine: Engine
) -> None:
    archiver = Archiver(
        settings,
        RunStore(redis.Redis.from_url(settings.redis.url, decode_responses=True), settings),
        db.sessions(engine),
        name="a1",
    )
    worker = threading.Thread(target=archiver.run)
    finish_run(store, "before")
    worker.start()
    try:
        wait_until("the first run archived", lambda: archived_runs(engine) == ["before"], 30)
        postgres.stop()
        finish_run(store, "during-1")
        finish_run(store, "during-2")
        wait_until(
            "the archiver to hold a run it could not write",
            lambda: store.redis.xpending(keys.ARCHIVE_STREAM, keys.ARCHIVE_GROUP)["pending"],
            30,
        )
        postgres.start()
        wait_until(
            "the runs finished meanwhile archived",
            lambda: archived_runs(engine) == ["before", "during-1", "during-2"],
            60,
            ignore=(Exception,),
        )
    finally:
        archiver.stopping.set()
        worker.join(30)
    assert counts(engine) == (3, 3, 15)
