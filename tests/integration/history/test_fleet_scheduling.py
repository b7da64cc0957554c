"""Scheduling from history on the local fleet: the dispatch order the events say (longest
first, failed first, suite order), stopping at N failures, and re-running what failed.

History is seeded straight into the fleet's own database (``seed``), for suites of names
no other test uses; the order is read from ``run_started`` (each case's
``dispatchPosition`` and ``expectedMs``) and the stops from the run's events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import Engine, create_engine

from testfleet import keys
from testfleet.stream import Entry
from tests.conftest import Fleet
from tests.integration.history.seed import SeedRun, Try, seed

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.grid, pytest.mark.browser]

PROJECT = "default"
"""The project of the local fleet's admin key."""
PASS = "      - navigate: /\n"
FAIL = "      - navigate: /\n      - assert_text: {selector: h1, contains: Nowhere, timeout: 1}\n"


@pytest.fixture
def engine(fleet: Fleet) -> Iterator[Engine]:
    bound = create_engine(str(fleet.state["database_url"]))
    yield bound
    bound.dispose()


def unique(what: str) -> str:
    return f"{what} {uuid.uuid4().hex[:8]}"


def suite(path: Path, name: str, tests: dict[str, str], head: str = "") -> Path:
    body = "".join(f"  - name: {test}\n    steps:\n{steps}" for test, steps in tests.items())
    path.write_text(f"name: {name}\nenv: [DEMO_URL]\nbase_url: ${{DEMO_URL}}\n{head}tests:\n{body}")
    return path


def submitted_id(out: str) -> str:
    line = next(line for line in out.splitlines() if line.startswith("run "))
    return line.split()[1].rstrip(":")


def events(fleet: Fleet, run_id: str) -> list[dict[str, Any]]:
    client = redis.Redis.from_url(str(fleet.status["redis_url"]), decode_responses=True)
    try:
        return [Entry.of(i, f).message() for i, f in client.xrange(keys.run_events(run_id))]
    finally:
        client.close()


def dispatch_order(fleet: Fleet, run_id: str) -> list[tuple[str, int | None]]:
    """(test name, expected ms) in dispatch order, as ``run_started`` says it."""
    [started] = [e for e in events(fleet, run_id) if e["type"] == "run_started"]
    tests = sorted(started["payload"]["tests"], key=lambda t: t["dispatchPosition"])
    assert [t["dispatchPosition"] for t in tests] == list(range(1, len(tests) + 1))
    return [(t["name"], t["expectedMs"]) for t in tests]


def get_run(fleet: Fleet, run_id: str) -> dict[str, Any]:
    api = str(fleet.status["api_url"])
    headers = {"Authorization": f"Bearer {fleet.admin_key}"}
    data: dict[str, Any] = httpx.get(f"{api}/api/v1/runs/{run_id}", headers=headers).json()
    return data


def seeded_suite(engine: Engine, tmp_path: Path, branch: str, head: str = "") -> Path:
    """A suite of its own name (each run of it is history too: one suite per submission
    keeps the order asked about from the runs before), with three seeded runs on
    ``branch``: "quick" failed and "flaky one" passed on a retry in the latest."""
    name = unique("Skewed")
    durations = {"quick": 1_000, "slow": 9_000, "medium": 5_000, "flaky one": 2_000}
    runs = [
        SeedRun(
            f"seed-{uuid.uuid4().hex[:8]}",
            hour,
            branch=branch,
            tests={(name, t): [Try("passed", ms + hour)] for t, ms in durations.items()},
        )
        for hour in range(3)
    ]
    runs[-1].tests[(name, "quick")] = [Try("failed", 1_002, "boom", "sig-boom")]
    runs[-1].tests[(name, "flaky one")] = [Try("failed", 10), Try("passed", 2_002)]
    seed(engine, PROJECT, runs)
    tests = {t: PASS for t in SKEWED_TESTS}
    return suite(tmp_path / f"{uuid.uuid4().hex[:8]}.yaml", name, tests, head)


SKEWED_TESTS = ("quick", "slow", "fresh", "medium", "flaky one")


def test_cases_go_longest_first_and_failures_first_as_asked(
    fleet: Fleet, engine: Engine, tmp_path: Path
) -> None:
    branch = unique("branch").replace(" ", "-")

    def order(*options: str, head: str = "") -> list[str]:
        path = seeded_suite(engine, tmp_path, branch, head)
        done = fleet.run("run", str(path), "--no-follow", "--branch", branch, *options)
        assert done.returncode == 0, done.stdout + done.stderr
        return [test for test, _ in dispatch_order(fleet, submitted_id(done.stdout))]

    # "fresh" has no history: its suite's mean of P50s (1001, 9001, 5001, 2000) places it.
    by_duration = order()
    assert by_duration == ["slow", "medium", "fresh", "flaky one", "quick"], by_duration
    assert order("--order", "duration") == by_duration
    assert order("--order", "suite") == list(SKEWED_TESTS)
    failed_first = order("--order", "failed-first")
    assert failed_first == ["flaky one", "quick", "slow", "medium", "fresh"], failed_first
    # The suite's own setting, when the command line says nothing; the command line wins.
    assert order(head="order: suite\n") == list(SKEWED_TESTS)
    assert order("--order", "duration", head="order: suite\n") == by_duration


def test_expected_durations_are_in_the_events_and_the_summary(
    fleet: Fleet, engine: Engine, tmp_path: Path
) -> None:
    name = unique("Timed")
    seed(
        engine,
        PROJECT,
        [SeedRun(f"seed-{uuid.uuid4().hex[:8]}", 0, tests={(name, "a"): [Try("passed", 700)]})],
    )
    path = suite(tmp_path / "timed.yaml", name, {"a": PASS, "b": PASS})
    result = tmp_path / "result.json"
    done = fleet.run("run", str(path), "--json", str(result))
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = submitted_id(done.stdout)
    assert dispatch_order(fleet, run_id) == [("a", 700), ("b", 700)]
    schedule = json.loads(result.read_text())["schedule"]
    assert schedule["order"] == "duration"
    assert schedule["known"] == 2
    slots = schedule["worker_slots"]
    assert schedule["expected_wall_ms"] == (700 if slots >= 2 else 1400)
    assert schedule["ideal_wall_ms"] == (700 if slots >= 2 else 1400)
    assert f"wall time: order duration, {slots} worker slot(s); actual " in done.stdout
    expected = schedule["expected_wall_ms"] / 1000
    assert f"expected {expected:.1f}s; ideal lower bound " in done.stdout


def test_max_failures_cancels_the_queued_cases_and_says_why(fleet: Fleet, tmp_path: Path) -> None:
    name = unique("Doomed")
    # Long enough that none ends before "breaks" fails, however loaded the machine; a
    # cancelled case stops at its next step, so the length costs nothing.
    waiting = PASS + "".join("      - wait: 1\n" for _ in range(8))
    tests = {"breaks": FAIL} | {f"waits {i}": waiting for i in range(8)}
    path = suite(tmp_path / "doomed.yaml", name, tests)
    result = tmp_path / "result.json"
    done = fleet.run(
        "run", str(path), "--order", "suite", "--max-failures", "1", "--json", str(result)
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "stopped after 1 failed test(s) (--max-failures 1)" in done.stdout
    run = json.loads(result.read_text())
    assert run["status"] == "failed"
    assert run["stopReason"] == "stopped after 1 failed test(s) (--max-failures 1)"
    statuses = {t["name"]: t["status"] for t in run["tests"]}
    assert statuses["breaks"] == "failed"
    cancelled = [t for t, s in statuses.items() if s == "cancelled"]
    # Only cases already running when "breaks" failed may have run on (the fleet's slots);
    # every other was cancelled in the queue.
    slots = run["schedule"]["worker_slots"]
    assert len(cancelled) >= len(tests) - 1 - slots, statuses
    stream = events(fleet, run["runId"])
    failed_at = next(i for i, e in enumerate(stream) if e["type"] == "test_failed")
    started_after = [e for e in stream[failed_at:] if e["type"] == "test_started"]
    assert started_after == [], "no case starts once the failure is recorded"


def test_last_failed_runs_only_the_branchs_last_failures(
    fleet: Fleet, engine: Engine, tmp_path: Path
) -> None:
    name, branch = unique("Rerun"), unique("rerun").replace(" ", "-")
    last = f"seed-{uuid.uuid4().hex[:8]}"
    seed(
        engine,
        PROJECT,
        [
            SeedRun(
                f"seed-{uuid.uuid4().hex[:8]}",
                0,
                branch=branch,
                tests={(name, "one"): [Try("failed", 10)], (name, "two"): [Try("passed", 10)]},
            ),
            SeedRun(
                last,
                1,
                branch=branch,
                tests={(name, "one"): [Try("passed", 10)], (name, "two"): [Try("failed", 10)]},
            ),
        ],
    )
    path = suite(tmp_path / "rerun.yaml", name, {"one": PASS, "two": PASS, "three": PASS})
    done = fleet.run("run", str(path), "--last-failed", "--branch", branch)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"re-running 1 failed test(s) from run {last} (branch {branch})" in done.stdout
    run = get_run(fleet, submitted_id(done.stdout))
    assert [t["name"] for t in run["tests"]] == ["two"]
    assert run["schedule"]["picked_from"] == last

    nothing = fleet.run("run", str(path), "--last-failed", "--branch", "never-ran-here")
    assert nothing.returncode == 0, nothing.stdout + nothing.stderr
    assert "no archived run of these suites on branch never-ran-here" in nothing.stdout
    assert "nothing to run" in nothing.stdout
