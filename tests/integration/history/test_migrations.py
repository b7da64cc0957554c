"""The history schema on a real PostgreSQL: migrations from empty, and processes that
refuse an old schema with the command that fixes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from testfleet.errors import InfrastructureError
from testfleet.history import migrate
from testfleet.history.models import COVERED, FAILURES_INDEX
from tests.conftest import ROOT
from tests.integration.history.seed import SeedRun, Try, seed

pytestmark = pytest.mark.postgres


def test_upgrade_from_empty_creates_the_schema_and_is_then_a_no_op(database_url: str) -> None:
    engine = create_engine(database_url)
    assert migrate.current(engine) is None
    assert not migrate.schema_is_current(engine)

    migrate.upgrade(engine)
    migrate.upgrade(engine)

    assert migrate.schema_is_current(engine)
    assert migrate.current(engine) == migrate.head()
    found = inspect(engine)
    assert {"runs", "cases", "attempts", "alembic_version"} <= set(found.get_table_names())
    indexes = {i["name"] for i in found.get_indexes("attempts")}
    assert "ix_attempts_case_id_started_at" in indexes
    engine.dispose()


def test_require_current_names_the_upgrade_command(database_url: str) -> None:
    engine = create_engine(database_url)
    with pytest.raises(InfrastructureError, match="testfleet db upgrade"):
        migrate.require_current(engine)
    engine.dispose()


def _testfleet(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TESTFLEET_DATABASE__URL": database_url,
        "TESTFLEET_PATHS__STATE_DIR": str(tmp_path),
        "TESTFLEET_REDIS__URL": "redis://127.0.0.1:1/0",
    }
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("component", ["archiver", "api"])
def test_components_refuse_an_old_schema_and_say_what_fixes_it(
    database_url: str, tmp_path: Path, component: str
) -> None:
    engine = create_engine(database_url)
    migrate.upgrade(engine, "base")  # an empty database is the oldest schema
    engine.dispose()

    done = _testfleet(database_url, tmp_path, component)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "testfleet db upgrade" in done.stderr


def test_db_upgrade_command_migrates_then_says_it_is_current(
    database_url: str, tmp_path: Path
) -> None:
    first = _testfleet(database_url, tmp_path, "db", "upgrade")
    again = _testfleet(database_url, tmp_path, "db", "upgrade")

    assert first.returncode == 0, first.stderr
    assert f"upgraded from empty to revision {migrate.head()}" in first.stdout
    assert f"already at revision {migrate.head()}" in again.stdout


def _attempt_indexes(engine: Engine) -> dict[str, str]:
    """The attempts table's indexes, by name, as PostgreSQL defines them."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'attempts'")
        )
        return {name: definition for name, definition in rows}


def test_revision_0004_adds_the_flaky_list_indexes_and_keeps_the_history(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    migrate.upgrade(engine, "0003")
    seed(engine, "shop", [SeedRun("r1", 0, tests={("s", "t"): [Try("failed", 5, "x", "sig")]})])
    before = _attempt_indexes(engine)

    migrate.upgrade(engine)
    after = _attempt_indexes(engine)
    migrate.downgrade(engine, "0003")  # an upgrade is only safe with its way back
    back = _attempt_indexes(engine)

    assert FAILURES_INDEX not in before
    assert "INCLUDE" not in before["ix_attempts_case_id_started_at"]
    assert "WHERE ((status)::text = ANY" in after[FAILURES_INDEX]
    covering = after["ix_attempts_case_id_started_at"]
    assert f"INCLUDE ({', '.join(COVERED)})" in covering
    assert back == before
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM attempts")) == 1
    engine.dispose()
