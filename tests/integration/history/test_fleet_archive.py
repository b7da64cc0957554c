"""End to end: ``testfleet up`` starts its private PostgreSQL and an archiver; a run that
``testfleet run`` finishes lands in the history database with each attempt."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from testfleet.history import migrate
from testfleet.history.models import Attempt, Run
from testfleet.history.signature import signature
from tests.conftest import Fleet
from tests.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.grid, pytest.mark.browser]


def test_a_run_of_the_local_fleet_is_archived_with_its_retry(fleet: Fleet, tmp_path: Path) -> None:
    key = uuid.uuid4().hex  # the demo site's /flaky fails the first visit per key
    path = tmp_path / "flaky.yaml"
    path.write_text(
        "name: Flaky\nenv: [DEMO_URL]\nbase_url: ${DEMO_URL}\ntests:\n"
        "  - name: sometimes broken\n    retry_count: 1\n    steps:\n"
        f"      - navigate: /flaky?key={key}\n"
        "      - assert_text: {selector: h1, contains: Works, timeout: 1}\n"
    )
    result = tmp_path / "result.json"
    done = fleet.run("run", str(path), "--json", str(result))
    assert done.returncode == 0, done
    run_id = json.loads(result.read_text())["runId"]

    engine = create_engine(str(fleet.state["database_url"]))
    try:
        assert migrate.schema_is_current(engine)

        def archived() -> list[tuple[int, str, str]]:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(Attempt.attempt, Attempt.status, Attempt.case_status)
                    .join(Run, Run.run_id == Attempt.run_id)
                    .where(Run.run_id == run_id)
                    .order_by(Attempt.attempt)
                )
                return [tuple(r) for r in rows]

        rows = wait_until(f"run {run_id} in the history database", archived, 60)
        assert rows == [(1, "failed", "flaky"), (2, "passed", "flaky")]
    finally:
        engine.dispose()


def test_a_failed_steps_selector_is_archived_and_in_its_signature(
    fleet: Fleet, tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "name: Broken\nenv: [DEMO_URL]\nbase_url: ${DEMO_URL}\ntests:\n"
        "  - name: misses its button\n    steps:\n"
        "      - navigate: /flaky?key=always-archived\n"
        "      - click: {selector: '#no-such-button', timeout: 1}\n"
    )
    result = tmp_path / "result.json"
    done = fleet.run("run", str(path), "--json", str(result))
    assert done.returncode == 1, done
    run_id = json.loads(result.read_text())["runId"]

    engine = create_engine(str(fleet.state["database_url"]))
    try:

        def archived() -> list[tuple[str | None, str | None, str | None, str | None]]:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(
                        Attempt.failing_step_kind,
                        Attempt.failing_step_selector,
                        Attempt.error,
                        Attempt.error_signature,
                    ).where(Attempt.run_id == run_id)
                )
                return [tuple(r) for r in rows]

        ((kind, selector, error, digest),) = wait_until(
            f"run {run_id} in the history database", archived, 60
        )
        assert (kind, selector) == ("click", "#no-such-button")
        assert digest == signature(error, "click", "#no-such-button").digest
    finally:
        engine.dispose()
