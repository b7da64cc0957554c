"""The spine, end to end: suite file -> API -> Celery -> Grid -> Chromium -> events -> CLI.

Every test here drives the real ``testfleet`` command against a real local fleet
(see ``conftest.fleet``): Redis, a Selenium Grid hub and node from the jar, two
Celery workers, the API, the gateway and the demo site.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from testfleet import keys
from testfleet.fleet.state import WorkerBeat, read_fleet
from testfleet.settings import Settings
from testfleet.stream import Entry
from tests.conftest import ROOT, Fleet
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run_json(fleet: Fleet, tmp_path: Path, *paths: str | Path) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "result.json"
    done = fleet.run(
        "run", *map(str, paths), "--json", str(out), "--junit", str(tmp_path / "j.xml")
    )
    result = json.loads(out.read_text()) if out.exists() else {}
    return done.returncode, result, done.stdout + done.stderr


def stream_events(fleet: Fleet, run_id: str) -> list[dict[str, Any]]:
    client = redis.Redis.from_url(str(fleet.status["redis_url"]), decode_responses=True)
    return [Entry.of(i, f).message() for i, f in client.xrange(keys.run_events(run_id))]


def test_status_reports_every_url_and_process(fleet: Fleet) -> None:
    status = fleet.status
    for key in ("api_url", "gateway_url", "redis_url", "grid_url"):
        assert isinstance(status[key], str)
        assert str(status[key]).startswith(("http://", "redis://"))
    assert status["running"] is True
    names = {p["name"] for p in status["processes"]}  # type: ignore[attr-defined]
    assert {"redis", "grid-hub", "grid-node", "api", "gateway", "worker-1", "worker-2"} <= names
    assert status["grid"]["total_slots"] == 2  # type: ignore[index]
    assert status["grid"]["queue_size"] == 0  # type: ignore[index]


def test_every_worker_announces_itself_with_its_pool_size(fleet: Fleet) -> None:
    client = redis.Redis.from_url(str(fleet.status["redis_url"]), decode_responses=True)
    settings = Settings(redis={"url": str(fleet.status["redis_url"])})

    def two_workers() -> list[WorkerBeat]:
        workers = read_fleet(client, settings, grid_timeout_s=1).workers
        return workers if len(workers) == 2 else []

    workers = wait_until("both workers' heartbeats", two_workers, timeout_s=30)
    assert all(w.concurrency >= 1 and w.busy >= 0 for w in workers)


def test_passing_examples_pass(fleet: Fleet, tmp_path: Path) -> None:
    code, result, output = run_json(fleet, tmp_path, ROOT / "examples" / "suites")
    assert code == 0, output
    assert result["status"] == "passed"
    assert result["tests"], result
    assert {t["status"] for t in result["tests"]} <= {"passed", "flaky"}
    junit = ET.parse(tmp_path / "j.xml").getroot()
    assert int(junit.get("failures", "0")) == 0
    assert int(junit.get("tests", "0")) == len(result["tests"])


def test_failing_suite_fails_at_the_right_step_with_a_screenshot(
    fleet: Fleet, tmp_path: Path
) -> None:
    text = """
name: Wrong text
env: [DEMO_URL]
base_url: ${DEMO_URL}
tests:
  - name: greeting is wrong
    steps:
      - navigate: /login
      - type: {selector: "#user", text: alice}
      - type: {selector: "#pass", text: wonderland, secret: true}
      - click: "button[type=submit]"
      - assert_text: {selector: h1, contains: Goodbye, timeout: 2}
      - screenshot: never-reached
"""
    suite = write(tmp_path / "s" / "wrong.yaml", text)
    code, result, output = run_json(fleet, tmp_path, suite)
    assert code == 1, output
    [test] = result["tests"]
    assert test["status"] == "failed"
    assert test["failed_step"] == 5
    assert "Goodbye" in test["error"]
    assert "Welcome" in test["error"]  # says what it saw instead
    failing = test["steps"][4]
    assert failing["status"] == "failed"
    assert failing["screenshot"], "a failing step takes a screenshot"
    api = str(fleet.status["api_url"])
    png = httpx.get(
        f"{api}/api/v1/runs/{result['runId']}/artifacts/{failing['screenshot']}",
        headers={"Authorization": f"Bearer {fleet.admin_key}"},
    )
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG")
    assert "wonderland" not in json.dumps(result), "secrets never reach results"
    assert all("wonderland" not in json.dumps(e) for e in stream_events(fleet, result["runId"]))
    failure = ET.parse(tmp_path / "j.xml").getroot().find(".//failure")
    assert failure is not None
    assert "step 5" in failure.get("message", "")


def test_wrong_selector_fails_within_its_step_timeout(fleet: Fleet, tmp_path: Path) -> None:
    text = """
name: Missing element
env: [DEMO_URL]
base_url: ${DEMO_URL}
tests:
  - name: clicks what is not there
    steps:
      - navigate: /
      - click: {selector: "#does-not-exist", timeout: 1.5}
      - assert_title: never
"""
    suite = write(tmp_path / "s" / "missing.yaml", text)
    code, result, output = run_json(fleet, tmp_path, suite)
    assert code == 1, output
    [test] = result["tests"]
    assert test["failed_step"] == 2
    assert "#does-not-exist" in test["error"]
    step = test["steps"][1]
    # Waited for the element up to the step's own timeout (1.5 s), not the default 10 s.
    assert 1500 <= step["duration_ms"] < 10_000, step
    assert test["steps"][2]["status"] == "skipped", "steps after a failure do not run"


def test_canonical_and_short_forms_give_the_same_result(fleet: Fleet, tmp_path: Path) -> None:
    text = """
name: Login
env: [DEMO_URL]
base_url: ${DEMO_URL}
tests:
  - name: valid login
    steps:
      - navigate: /login
      - type: {selector: "#user", text: alice}
      - type: {selector: "#pass", text: wonderland, secret: true}
      - click: "button[type=submit]"
      - assert_text: {selector: h1, contains: Welcome}
      - assert_url: /dashboard
"""
    short = write(tmp_path / "short" / "login.yaml", text)
    steps = [
        {"order_index": 1, "step_type": "navigate", "input_data": "/login"},
        {"order_index": 2, "step_type": "type", "selector": "#user", "input_data": "alice"},
        {
            "order_index": 3,
            "step_type": "type",
            "selector": "#pass",
            "input_data": "wonderland",
            "secret": True,
        },
        {"order_index": 4, "step_type": "click", "selector": "button[type=submit]"},
        {"order_index": 5, "step_type": "assert", "selector": "h1", "expected_result": "Welcome"},
        {
            "order_index": 6,
            "step_type": "assert",
            "assertion": "url",
            "expected_result": "/dashboard",
        },
    ]
    tests = [{"name": "valid login", "steps": steps}]
    login = {"name": "Login", "env": ["DEMO_URL"], "base_url": "${DEMO_URL}", "tests": tests}
    canonical = write(tmp_path / "canonical" / "login.json", json.dumps(login))
    outcomes = []
    for path in (short, canonical):
        code, result, output = run_json(fleet, tmp_path, path)
        assert code == 0, output
        [test] = result["tests"]
        outcomes.append((test["status"], [(s["label"], s["status"]) for s in test["steps"]]))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == "passed"


def test_bad_suites_exit_2_with_every_problem_and_queue_nothing(
    fleet: Fleet, tmp_path: Path
) -> None:
    text = """
name: Bad
tests:
  - name: one
    steps:
      - navigate: /
      - click: {}
      - assert_count: {selector: li}
"""
    bad = write(tmp_path / "bad" / "login.yaml", text)
    before = fleet.run("runs").stdout
    for command in ("validate", "run"):
        done = fleet.run(command, str(bad))
        assert done.returncode == 2, done
        assert f"{bad}: tests[0].steps[1].click: selector is required" in done.stderr
        assert (
            f"{bad}: tests[0].steps[2].assert_count: count, at_least or at_most is required"
            in done.stderr
        )
        assert "Traceback" not in done.stderr
    assert fleet.run("runs").stdout == before, "nothing was queued"


def test_two_workers_share_a_ten_test_suite(fleet: Fleet, tmp_path: Path) -> None:
    tests = "\n".join(
        f"""  - name: page {i}
    steps:
      - navigate: /form
      - type: {{selector: "input[name=name]", text: "user {i}"}}
      - assert_title: {{contains: ""}}"""
        for i in range(10)
    )
    suite = write(
        tmp_path / "ten" / "ten.yaml",
        f"name: Ten\nenv: [DEMO_URL]\nbase_url: ${{DEMO_URL}}\ntests:\n{tests}\n",
    )
    code, result, output = run_json(fleet, tmp_path, suite)
    assert code == 0, output
    assert len(result["tests"]) == 10
    workers = {t["worker"].split("@")[0] for t in result["tests"]}
    assert len(workers) == 2, f"both workers ran tests: {workers}"


def test_events_follow_the_envelope_and_each_case_ends_once(fleet: Fleet, tmp_path: Path) -> None:
    code, result, output = run_json(fleet, tmp_path, ROOT / "examples" / "suites" / "login.yaml")
    assert code == 0, output
    events = stream_events(fleet, result["runId"])
    assert events[0]["type"] == "run_started"
    [end] = [i for i, e in enumerate(events) if e["type"] == "run_completed"]
    # After it, only what the archiver says of the finished run (docs/events.md) may follow.
    assert {e["type"] for e in events[end + 1 :]} <= {"run_labels"}
    for event in events:
        assert set(event) >= {
            "id",
            "type",
            "timestamp",
            "correlationId",
            "runId",
            "projectId",
            "payload",
            "metadata",
        }
        assert event["runId"] == result["runId"]
    finals = [e["correlationId"] for e in events if e["type"] in ("test_completed", "test_failed")]
    assert sorted(finals) == sorted(t["case_id"] for t in result["tests"])
    progress = [e for e in events if e["type"] == "test_progress"]
    assert progress
    assert set(progress[0]["payload"]["progress"]) >= {
        "percentage",
        "currentStep",
        "stepNumber",
        "totalSteps",
        "duration",
        "screenshot",
    }


def test_nothing_listening_is_one_line_and_exit_2(fleet: Fleet, tmp_path: Path) -> None:
    done = fleet.run("run", str(ROOT / "examples" / "suites"), "--server", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert "testfleet up" in done.stderr
    assert "Traceback" not in done.stderr
