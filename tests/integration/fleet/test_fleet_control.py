"""Priority and cancel on a real fleet with one worker running one case at a time.

One worker with concurrency 1 makes the order of ``test_started`` events the
order in which the fleet chose cases, so what overtook what is visible.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from testfleet import keys
from testfleet.stream import Entry
from tests.conftest import Fleet, start_fleet
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

BULK = 6


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield from start_fleet(
        tmp_path_factory.mktemp("control"), workers=1, TESTFLEET_WORKER__CONCURRENCY="1"
    )


def suite(path: Path, name: str, tests: int, steps: str, priority: str = "") -> Path:
    body = "\n".join(f"  - name: {name} {i}\n    steps:\n{steps}" for i in range(tests))
    head = f"name: {name}\nenv: [DEMO_URL]\nbase_url: ${{DEMO_URL}}\n"
    head += f"priority: {priority}\n" if priority else ""
    path.write_text(f"{head}tests:\n{body}\n")
    return path


def submit(fleet: Fleet, path: Path) -> str:
    done = fleet.run("run", str(path), "--no-follow")
    assert done.returncode == 0, done
    return done.stdout.split()[1].rstrip(":")


def run_events(fleet: Fleet, run_id: str) -> list[dict[str, Any]]:
    client = redis.Redis.from_url(str(fleet.status["redis_url"]), decode_responses=True)
    try:
        return [Entry.of(i, f).message() for i, f in client.xrange(keys.run_events(run_id))]
    finally:
        client.close()


def get_run(fleet: Fleet, run_id: str) -> dict[str, Any]:
    api = str(fleet.status["api_url"])
    headers = {"Authorization": f"Bearer {fleet.admin_key}"}
    data: dict[str, Any] = httpx.get(f"{api}/api/v1/runs/{run_id}", headers=headers).json()
    return data


def finished(fleet: Fleet, run_id: str) -> dict[str, Any] | None:
    run = get_run(fleet, run_id)
    return run if run.get("finishedMs") else None


def stream_order(event_id: str) -> tuple[int, int]:
    ms, seq = event_id.split("-")
    return int(ms), int(seq)


def test_a_critical_suite_overtakes_a_bulk_run_already_queued(
    one_worker: Fleet, tmp_path: Path
) -> None:
    steps = "      - navigate: /\n      - wait: 1\n"
    bulk_run = submit(one_worker, suite(tmp_path / "bulk.yaml", "Bulk", BULK, steps, "low"))
    wait_until(
        "the first bulk case to start",
        lambda: any(e["type"] == "test_started" for e in run_events(one_worker, bulk_run)),
        120,
    )
    critical_run = submit(
        one_worker, suite(tmp_path / "urgent.yaml", "Urgent", 1, steps, "critical")
    )
    wait_until(
        "both runs to finish",
        lambda: finished(one_worker, bulk_run) and finished(one_worker, critical_run),
        300,
    )

    def starts(run_id: str) -> list[tuple[int, int]]:
        events = run_events(one_worker, run_id)
        return [stream_order(e["id"]) for e in events if e["type"] == "test_started"]

    [critical_start] = starts(critical_run)
    bulk_starts = starts(bulk_run)
    assert len(bulk_starts) == BULK
    before = [s for s in bulk_starts if s < critical_start]
    # The bulk case running at submission (and at most one the worker had already
    # taken off the queue) may precede it; every other bulk case waits for it.
    assert len(before) <= 2, (before, critical_start)
    assert len(bulk_starts) - len(before) >= BULK - 2
    assert get_run(one_worker, critical_run)["status"] == "passed"
    assert get_run(one_worker, bulk_run)["status"] == "passed"


def test_cancel_stops_the_running_case_and_queued_ones_never_start(
    one_worker: Fleet, tmp_path: Path
) -> None:
    # Long enough that the cancel (a CLI process, slow to start on a busy machine) lands
    # mid-case; a cancelled case stops at its next step, so the length costs nothing.
    steps = "".join("      - wait: 1\n" for _ in range(60))
    steps = "      - navigate: /\n" + steps + "      - navigate: /login\n"
    run_id = submit(one_worker, suite(tmp_path / "long.yaml", "Long", 4, steps))
    wait_until(
        "the first case to be past its first step",
        lambda: any(e["type"] == "test_progress" for e in run_events(one_worker, run_id)),
        120,
    )
    cancelled = one_worker.run("cancel", run_id)
    assert cancelled.returncode == 0, cancelled

    run = wait_until("the run to finish", lambda: finished(one_worker, run_id), 120)
    assert run["status"] == "cancelled"
    tests = run["tests"]
    assert {t["status"] for t in tests} == {"cancelled"}
    events = run_events(one_worker, run_id)
    started = {e["correlationId"] for e in events if e["type"] == "test_started"}
    assert len(started) == 1, "only the case running at the cancel ever started"
    [running] = [t for t in tests if t["case_id"] in started]
    statuses = [s["status"] for s in running["steps"]]
    assert statuses[0] == "passed"
    assert statuses[-1] != "passed", f"the running case stopped before its last step: {statuses}"
    assert "skipped" in statuses, statuses
    for queued in (t for t in tests if t["case_id"] not in started):
        assert queued["attempts"] == 0
    finals = [e["correlationId"] for e in events if e["type"] == "test_cancelled"]
    assert sorted(finals) == sorted(t["case_id"] for t in tests), "one test_cancelled each"
    assert [e["type"] for e in events].count("run_completed") == 1
    completed = next(e for e in events if e["type"] == "run_completed")
    assert completed["payload"]["status"] == "cancelled"


def test_a_pass_on_retry_is_flaky_in_the_result_and_the_junit(
    one_worker: Fleet, tmp_path: Path
) -> None:
    key = uuid.uuid4().hex  # the demo site's /flaky fails the first visit per key
    path = tmp_path / "flaky.yaml"
    path.write_text(
        "name: Flaky\nenv: [DEMO_URL]\nbase_url: ${DEMO_URL}\ntests:\n"
        "  - name: sometimes broken\n    retry_count: 1\n    steps:\n"
        f"      - navigate: /flaky?key={key}\n"
        "      - assert_text: {selector: h1, contains: Works, timeout: 1}\n"
    )
    junit, result = tmp_path / "junit.xml", tmp_path / "result.json"
    done = one_worker.run("run", str(path), "--junit", str(junit), "--json", str(result))

    assert done.returncode == 0, done  # flaky counts as a pass for CI
    [test] = json.loads(result.read_text())["tests"]
    assert (test["status"], test["attempts"]) == ("flaky", 2)
    assert [h["status"] for h in test["history"]] == ["failed", "passed"]
    assert 'got "Broken"' in test["history"][0]["error"]
    case = ET.fromstring(junit.read_bytes()).find(".//testcase")
    assert case is not None
    assert case.find("failure") is None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["flaky"] == "true"
