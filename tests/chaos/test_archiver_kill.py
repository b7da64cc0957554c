"""Chaos: the archiver SIGKILLed mid-batch, and PostgreSQL restarted, at the shipped
settings: every finished run ends in the history database exactly once.

Runs finish through the real run store (its completion script appends each to the
archive stream); a real ``testfleet archiver`` process writes them. It is SIGKILLed
while it archives, PostgreSQL is stopped while more runs finish, the archiver is
started again (under its default name, so it reads what the dead one held at once)
and PostgreSQL comes back: nothing is lost, nothing is written twice, nothing is left
pending.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select

from testfleet import keys
from testfleet.history import migrate
from testfleet.history.models import Attempt, Run
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.conftest import ROOT
from tests.fixtures_postgres import PgServer, database_url, postgres  # noqa: F401 (fixtures)
from tests.integration.history.runs import finish_run
from tests.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

BEFORE_KILL = 150
"""Runs waiting when the first archiver starts: enough that the kill lands mid-way."""
DURING_OUTAGE = 20
ATTEMPTS_PER_RUN = 5
"""``finish_run``'s cases: passed (1 attempt), flaky (2), failed (2)."""


def archiver(settings: Settings, state_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TESTFLEET_REDIS__URL": settings.redis.url,
        "TESTFLEET_DATABASE__URL": settings.database.url,
        "TESTFLEET_PATHS__STATE_DIR": str(state_dir),
    }
    log = open(state_dir / "archiver.log", "ab")  # noqa: SIM115 (the process keeps it)
    with log:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "archiver"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def archived(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        runs = conn.scalar(select(func.count()).select_from(Run)) or 0
        attempts = conn.scalar(select(func.count()).select_from(Attempt)) or 0
        return runs, attempts


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:  # noqa: F811 (the fixture)
    bound = create_engine(database_url, pool_pre_ping=True)
    migrate.upgrade(bound)
    yield bound
    bound.dispose()


def test_archiver_kill_and_postgresql_restart_lose_nothing(
    postgres: PgServer,  # noqa: F811 (the fixture)
    database_url: str,  # noqa: F811 (the fixture)
    redis_url: str,
    engine: Engine,
    tmp_path: Path,
) -> None:
    settings = Settings(redis={"url": redis_url}, database={"url": database_url})
    store = RunStore.connect(settings, source="chaos")
    store.redis.flushdb()
    for i in range(BEFORE_KILL):
        finish_run(store, f"before-{i}")
    first = archiver(settings, tmp_path)
    try:
        wait_until("the archiver to write some runs", lambda: archived(engine)[0] > 0, 60)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        killed_at = archived(engine)[0]

        postgres.stop()
        for i in range(DURING_OUTAGE):
            finish_run(store, f"during-{i}")
        second = archiver(settings, tmp_path)
        try:
            postgres.start()
            total = BEFORE_KILL + DURING_OUTAGE
            wait_until(
                "every finished run archived",
                lambda: archived(engine)[0] == total,
                120,
                ignore=(Exception,),
            )
            assert archived(engine) == (total, total * ATTEMPTS_PER_RUN)
            wait_until(
                "the archive stream emptied",
                lambda: store.redis.xlen(keys.ARCHIVE_STREAM) == 0,
                30,
            )
            pending = store.redis.xpending(keys.ARCHIVE_STREAM, keys.ARCHIVE_GROUP)
            assert pending["pending"] == 0
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    print(f"archiver killed after {killed_at} of {BEFORE_KILL} runs were archived")
