"""The REST API over real HTTP (uvicorn in a thread), real Redis, real Celery dispatch.

Worker progress is simulated through ``RunStore`` (what workers call), so no
browser is needed; the tasks the API queues are read back from the broker lists.
"""

from __future__ import annotations

import base64
import http.client
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from api.app import create_app
from api.dispatch import Dispatcher, plan_run
from testfleet import keys
from testfleet.artifacts import open_store
from testfleet.errors import InfrastructureError, UsageError
from testfleet.events import Event
from testfleet.fleet.auth import KeyStore
from testfleet.fleet.broker import queue_lists
from testfleet.results import StepResult
from testfleet.settings import (
    ApiSettings,
    PathSettings,
    RedisSettings,
    Settings,
)
from testfleet.store import RunStore
from testfleet.suites.loader import load_document
from testfleet.suites.model import CaseSpec
from tests.fixtures_redis_api import serving
from tests.integration.api.helpers import (
    MAX_BODY_BYTES,
    QUEUE,
    Keys,
    case,
    client_for,
    error_of,
    submit,
    suite,
)
from tests.ports import held_port

pytestmark = pytest.mark.redis


def queued_tasks(r: redis.Redis) -> dict[str, list[dict[str, Any]]]:
    """Task messages on the broker, per priority list (as kombu's Redis transport stores them)."""
    lists = {}
    for name in sorted(r.scan_iter(f"{QUEUE}*")):
        if r.type(name) == "list":
            lists[name] = [json.loads(m) for m in reversed(r.lrange(name, 0, -1))]
    return lists


# --- planning and dispatch ---------------------------------------------------------------


def test_plan_run_numbers_cases_and_takes_the_suites_priority() -> None:
    suites = [
        load_document(suite("A", case("a1", priority="low"), case("a2"), priority="critical"), {}),
        load_document(suite("B", case("b1", priority="high", tags=["smoke"]), case("b2")), {}),
    ]
    record, cases, specs = plan_run("r1", "alpha", suites, set(), "nightly")
    assert [c.case_id for c in cases] == ["r1-0001", "r1-0002", "r1-0003", "r1-0004"]
    assert [c.priority for c in cases] == ["critical", "critical", "high", "medium"]
    assert record.total == 4
    assert record.suites == ["A", "B"]
    assert json.loads(specs["r1-0003"])["test"]["name"] == "b1"
    _, smoke, _ = plan_run("r2", "alpha", suites, {"smoke"}, "smoke")
    assert [c.name for c in smoke] == ["b1"]
    assert smoke[0].case_id == "r2-0001"


def test_plan_run_with_tags_matching_nothing_names_the_tags_that_exist() -> None:
    suites = [load_document(suite("A", case("a", tags=["smoke", "login"])), {})]
    with pytest.raises(UsageError, match="smoke") as caught:
        plan_run("r1", "alpha", suites, {"nightly"}, "x")
    assert "login" in str(caught.value)
    assert "nightly" in str(caught.value)


def test_dispatcher_queues_a_thousand_cases_by_priority(settings: Settings, r: redis.Redis) -> None:
    tests = [
        case(f"t{i}", priority=("critical", "high", "medium", "low")[i % 4]) for i in range(1000)
    ]
    [loaded] = [load_document(suite("Bulk", *tests), {})]
    _, cases, _ = plan_run("bulk", "alpha", [loaded], set(), "bulk")
    dispatcher = Dispatcher(settings)
    try:
        assert dispatcher.dispatch(cases) == 1000
    finally:
        dispatcher.close()
    lists = queued_tasks(r)
    names = queue_lists(QUEUE)  # Celery's own list names, one per priority
    assert {name: len(msgs) for name, msgs in lists.items()} == {
        names[0]: 250,
        names[3]: 250,
        names[6]: 250,
        names[9]: 250,
    }


def test_a_dead_broker_is_an_infrastructure_error_that_says_what_to_do() -> None:
    settings = Settings(redis=RedisSettings(url=f"redis://127.0.0.1:{held_port()}/0"))
    _, cases, _ = plan_run("r", "alpha", [load_document(suite("A", case("a")), {})], set(), "x")
    dispatcher = Dispatcher(settings)
    try:
        with pytest.raises(InfrastructureError, match="testfleet status"):
            dispatcher.dispatch(cases)
    finally:
        dispatcher.close()


def test_a_run_whose_tasks_cannot_be_sent_is_cancelled_not_left_waiting(
    settings: Settings, api_keys: Keys, r: redis.Redis
) -> None:
    port = held_port()
    app = create_app(settings.model_copy(update={"api": ApiSettings(port=port)}))
    dead = Settings(redis=RedisSettings(url=f"redis://127.0.0.1:{held_port()}/0"))
    app.state.services.dispatcher.close()
    app.state.services.dispatcher = Dispatcher(dead)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    with (
        serving(uvicorn.Server(config)),
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": api_keys.alpha}
        ) as client,
    ):
        answer = client.post("/api/v1/runs", json={"suites": [suite("A", case("a"))]})
        assert answer.status_code == 503
        assert error_of(answer)["code"] == "unavailable"
        [run] = client.get("/api/v1/runs").json()["runs"]
        assert run["status"] == "cancelled"
    assert queued_tasks(r) == {}


# --- submitting --------------------------------------------------------------------------


def test_submit_queues_each_case_as_a_task_with_its_priority(
    alpha: httpx.Client, api_url: str, r: redis.Redis
) -> None:
    # Critical work needs the scope an operator grants (tests/integration/api/test_api_quotas.py).
    _, key = KeyStore(r).create("alpha", ["test:read", "test:write", "priority:critical"])
    with client_for(api_url, key) as critical:
        answer = submit(
            critical,
            suite("Checkout", case("pay"), case("refund"), priority="critical"),
            suite(
                "Search", case("find", priority="high"), case("browse", priority="low"), case("x")
            ),
            name="nightly",
        )
    run_id = answer["runId"]
    assert answer["status"] == "queued"
    assert answer["total"] == 5
    assert answer["links"] == {
        "self": f"/api/v1/runs/{run_id}",
        "events": f"https://gw.example.test:8443/sse/events?runId={run_id}",
        "websocket": f"wss://gw.example.test:8443/ws/events/{run_id}",
        "report": f"/api/v1/runs/{run_id}/report.html",
        "junit": f"/api/v1/runs/{run_id}/junit.xml",
        "dashboard": f"https://gw.example.test:8443/dashboard#/runs/{run_id}",
    }
    lists = queued_tasks(r)
    names = queue_lists(QUEUE)
    expected = {
        names[0]: ["0001", "0002"],
        names[3]: ["0003"],
        names[9]: ["0004"],
        names[6]: ["0005"],
    }
    assert {n: [m["headers"]["id"] for m in msgs] for n, msgs in lists.items()} == {
        n: [f"{run_id}-{i}" for i in ids] for n, ids in expected.items()
    }
    for name, messages in lists.items():
        level = names.index(name)
        for message in messages:
            assert message["headers"]["task"] == "testfleet.run_case"
            assert message["properties"]["priority"] == level
            args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            assert args == [run_id, message["headers"]["id"]]
            assert kwargs == {}

    run = alpha.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "queued"
    assert run["name"] == "nightly"
    assert [t["status"] for t in run["tests"]] == ["queued"] * 5
    assert run["links"]["events"].endswith(f"runId={run_id}")
    [started] = [e for e in RunStore(r, Settings()).read_run_events(run_id)]
    assert started["type"] == "run_started"
    assert started["payload"]["runId"] == run_id
    assert started["payload"]["total"] == 5
    assert started["payload"]["suites"] == ["Checkout", "Search"]
    assert started["payload"]["tests"][2] == {
        "testId": f"{run_id}-0003",
        "name": "find",
        "suite": "Search",
        "tags": [],
        "priority": "high",
        # Third to go: after the two critical cases (no history here: suite order).
        "dispatchPosition": 3,
        "expectedMs": None,
    }


def test_a_raw_yaml_suite_and_a_raw_json_suite_are_accepted(
    alpha: httpx.Client, r: redis.Redis
) -> None:
    yaml_text = """
name: Login
tests:
  - name: valid login
    tags: [smoke]
    steps: [{navigate: "http://demo.test/login"}]
  - name: other
    steps: [{navigate: "http://demo.test/"}]
"""
    answer = alpha.post(
        "/api/v1/runs?tags=smoke&name=smoke+only",
        content=yaml_text,
        headers={"Content-Type": "application/yaml"},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["total"] == 1
    run = alpha.get(f"/api/v1/runs/{answer.json()['runId']}").json()
    assert run["name"] == "smoke only"
    assert [t["name"] for t in run["tests"]] == ["valid login"]

    single = suite(
        "Canonical",
        {"name": "c", "steps": [{"order_index": 1, "step_type": "navigate", "input_data": "/"}]},
    )
    answer = alpha.post("/api/v1/runs", json=single)
    assert answer.status_code == 202, answer.text
    assert answer.json()["total"] == 1


def test_invalid_suites_are_422_with_every_problem_and_nothing_is_queued(
    alpha: httpx.Client, r: redis.Redis
) -> None:
    bad_short = {
        "name": "Bad",
        "tests": [
            {
                "name": "one",
                "steps": [{"navigate": "/"}, {"click": {}}, {"assert_count": {"selector": "li"}}],
            }
        ],
    }
    bad_text = "name: Worse\ntests:\n  - name: two\n    steps:\n      - hover: {}\n"
    answer = alpha.post(
        "/api/v1/runs",
        json={
            "suites": [bad_short, suite("Good", case("fine")), bad_text],
            "sources": ["bad.yaml", "good.yaml", "worse.yaml"],
        },
    )
    assert answer.status_code == 422
    error = error_of(answer)
    assert error["code"] == "invalid_suite"
    assert "fix them" in error["message"]
    assert error["problems"] == [
        "bad.yaml: tests[0].steps[1].click: selector is required",
        "bad.yaml: tests[0].steps[2].assert_count: count, at_least or at_most is required",
        "worse.yaml: tests[0].steps[0].hover: selector is required",
    ]
    assert queued_tasks(r) == {}
    assert r.zcard(keys.project_runs("alpha")) == 0
    assert alpha.get("/api/v1/runs").json() == {"runs": [], "nextCursor": None}


def test_variables_come_only_from_the_request_and_secrets_never_show(
    alpha: httpx.Client, r: redis.Redis
) -> None:
    login = suite(
        "Login",
        {
            "name": "log in as ${LOGIN_USER}",
            "steps": [
                {"navigate": "/login"},
                {"type": {"selector": "#pass", "text": "${LOGIN_PASSWORD}", "secret": True}},
            ],
        },
    )
    answer = alpha.post("/api/v1/runs", json={"suites": [login], "variables": {"LOGIN_USER": "al"}})
    assert answer.status_code == 422
    [problem] = error_of(answer)["problems"]
    assert "LOGIN_PASSWORD" in problem
    assert "variables" in problem
    assert "PATH" not in json.dumps(answer.json())

    answer = alpha.post(
        "/api/v1/runs",
        json={
            "suites": [login],
            "variables": {"LOGIN_USER": "al", "LOGIN_PASSWORD": "hunter2-secret"},
        },
    )
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["runId"]
    run = alpha.get(f"/api/v1/runs/{run_id}")
    assert run.json()["tests"][0]["name"] == "log in as al"
    events = RunStore(r, Settings()).read_run_events(run_id)
    served = run.text + json.dumps(events) + alpha.get(f"/api/v1/runs/{run_id}/junit.xml").text
    assert "hunter2-secret" not in served
    spec = CaseSpec.model_validate_json(r.hget(keys.run_specs(run_id), f"{run_id}-0001") or "")
    assert spec.secrets == ["hunter2-secret"], "the worker gets the secret; nobody else"


JSON = "application/json"
YAML = "application/yaml"
HUGE_JSON = b"[" * 100_000 + b"]" * 100_000
DEEP_JSON = b"[" * 20_000 + b"]" * 20_000
MULTIPART = "multipart/form-data; boundary=x"


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code", "says"),
    [
        (JSON, b'{"suites": [', 400, "invalid_json", "not valid JSON"),
        (JSON, b"[1, 2]", 422, "invalid_request", '"suites"'),
        (JSON, b'{"suites": "x"}', 422, "invalid_request", "suites"),
        (JSON, b'{"suites": [], "name": 3}', 422, "invalid_request", "name"),
        (JSON, b'{"suites": [{"tests": []}], "bogus": 1}', 422, "invalid_request", "bogus"),
        (JSON, HUGE_JSON, 413, "payload_too_large", "larger than"),
        (JSON, DEEP_JSON, 400, "invalid_json", "nested too deeply"),
        (YAML, b"name: [unclosed\ntests: 1", 422, "invalid_suite", "line 2"),
        (YAML, b"- just\n- a list", 422, "invalid_suite", "mapping"),
        (YAML, b"\xff\xfe", 400, "invalid_encoding", "UTF-8"),
        ("text/yaml", b"   ", 400, "empty_body", "empty"),
        (MULTIPART, b"--x--", 415, "unsupported_media_type", "application/json"),
    ],
)
def test_malformed_bodies_are_4xx_with_a_message_never_500(
    alpha: httpx.Client, content_type: str, body: bytes, status: int, code: str, says: str
) -> None:
    answer = alpha.post("/api/v1/runs", content=body, headers={"Content-Type": content_type})
    assert answer.status_code == status, answer.text
    error = error_of(answer)
    assert error["code"] == code
    assert says in error["message"] + json.dumps(error.get("problems")), error


def test_yaml_alias_bombs_are_refused(alpha: httpx.Client) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb = "\n".join([*lines, "name: bomb", "tests: *a8"])
    answer = alpha.post("/api/v1/runs", content=bomb, headers={"Content-Type": "text/yaml"})
    assert answer.status_code == 413
    error = error_of(answer)
    assert error["code"] == "limit_exceeded"
    assert "bytes once YAML aliases" in error["message"]
    assert "TESTFLEET_LIMITS__MAX_EXPANDED_BYTES" in error["message"]


def test_a_tag_filter_matching_nothing_says_which_tags_exist(alpha: httpx.Client) -> None:
    answer = alpha.post(
        "/api/v1/runs",
        json={"suites": [suite("A", case("a", tags=["smoke"]), tags=["web"])], "tags": ["nightly"]},
    )
    assert answer.status_code == 400
    message = error_of(answer)["message"]
    assert "nightly" in message
    assert "smoke, web" in message


def test_a_body_over_the_limit_is_413_even_without_content_length(alpha: httpx.Client) -> None:
    big = json.dumps({"suites": [suite("Big", case("t", description="x" * MAX_BODY_BYTES))]})
    answer = alpha.post("/api/v1/runs", content=big, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert "TESTFLEET_API__MAX_BODY_BYTES" in error_of(answer)["message"]

    def chunks() -> Iterator[bytes]:
        yield big[: len(big) // 2].encode()
        yield big[len(big) // 2 :].encode()

    answer = alpha.post(
        "/api/v1/runs", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert error_of(answer)["code"] == "payload_too_large"


# --- keys and projects -------------------------------------------------------------------


def test_every_api_route_needs_a_valid_key_with_the_right_scope(
    api_url: str, api_keys: Keys
) -> None:
    with httpx.Client(base_url=api_url) as anonymous:
        for method, path in (
            ("GET", "/api/v1/runs"),
            ("POST", "/api/v1/runs"),
            ("GET", "/api/v1/runs/x"),
            ("POST", "/api/v1/runs/x/cancel"),
            ("GET", "/api/v1/runs/x/report.html"),
            ("GET", "/api/v1/runs/x/artifacts/a.png"),
        ):
            answer = anonymous.request(method, path)
            assert answer.status_code == 401, (method, path)
            assert "Authorization: Bearer" in error_of(answer)["message"]
        wrong = anonymous.get("/api/v1/runs", headers={"Authorization": "Bearer tfk_nope_nope"})
        assert wrong.status_code == 401
        assert "testfleet keys create" in error_of(wrong)["message"]
        basic = anonymous.get("/api/v1/runs", headers={"Authorization": "Basic dTpw"})
        assert basic.status_code == 401
        read_only = {"X-API-Key": api_keys.alpha_read}
        assert anonymous.get("/api/v1/runs", headers=read_only).status_code == 200
        denied = anonymous.post("/api/v1/runs", headers=read_only, json={"suites": []})
        assert denied.status_code == 403
        assert "test:write" in error_of(denied)["message"]
        assert anonymous.get("/health").json() == {"status": "ok"}
        assert anonymous.get("/ready").json() == {"status": "ready"}


def test_another_projects_run_is_indistinguishable_from_a_missing_one(
    alpha: httpx.Client, beta: httpx.Client, settings: Settings
) -> None:
    run_id = submit(alpha, suite("A", case("a")))["runId"]
    open_store(settings).save(run_id, "shot.png", b"\x89PNG alpha only")
    assert alpha.get(f"/api/v1/runs/{run_id}/artifacts/shot.png").status_code == 200
    for method, path in (
        ("GET", ""),
        ("POST", "/cancel"),
        ("GET", "/report.html"),
        ("GET", "/junit.xml"),
        ("GET", "/artifacts/shot.png"),
    ):
        theirs = beta.request(method, f"/api/v1/runs/{run_id}{path}")
        missing = beta.request(method, f"/api/v1/runs/20990101-000000-000000{path}")
        assert theirs.status_code == missing.status_code == 404, path
        assert error_of(theirs)["code"] == error_of(missing)["code"] == "not_found"
        assert "alpha" not in theirs.text
    assert beta.get("/api/v1/runs").json() == {"runs": [], "nextCursor": None}
    assert alpha.get(f"/api/v1/runs/{run_id}").json()["tests"][0]["status"] == "queued"


# --- reading runs ------------------------------------------------------------------------


def test_runs_are_listed_newest_first_with_limit_and_status(alpha: httpx.Client) -> None:
    ids = [submit(alpha, suite(f"S{i}", case("t")), name=f"run {i}")["runId"] for i in range(3)]
    assert alpha.post(f"/api/v1/runs/{ids[1]}/cancel").status_code == 202
    runs = alpha.get("/api/v1/runs").json()["runs"]
    assert [r["runId"] for r in runs] == ids[::-1]
    assert [r["status"] for r in runs] == ["queued", "cancelled", "queued"]
    assert runs[0]["name"] == "run 2"
    assert runs[0]["total"] == 1
    assert runs[0]["links"] == {"self": f"/api/v1/runs/{ids[2]}"}
    assert [r["runId"] for r in alpha.get("/api/v1/runs?limit=2").json()["runs"]] == ids[:0:-1]
    cancelled = alpha.get("/api/v1/runs?status=cancelled").json()["runs"]
    assert [r["runId"] for r in cancelled] == [ids[1]]
    assert cancelled[0]["counts"] == {"cancelled": 1}
    bad = alpha.get("/api/v1/runs?status=sideways&limit=0")
    assert bad.status_code == 422
    assert {p.split(":")[0] for p in error_of(bad)["problems"]} == {"query.status", "query.limit"}


def test_cancel_stops_queued_cases_and_completes_the_run(
    alpha: httpx.Client, store: RunStore
) -> None:
    run_id = submit(alpha, suite("A", case("a"), case("b"), case("c")))["runId"]
    first = store.get_case(run_id, f"{run_id}-0001")
    assert store.begin_case(run_id, first.case_id) == 1  # a worker took the first
    store.update_case(first.model_copy(update={"status": "running", "attempts": 1}))
    answer = alpha.post(f"/api/v1/runs/{run_id}/cancel")
    assert answer.status_code == 202
    assert answer.json() == {
        "runId": run_id,
        "cancelled": 2,
        "status": "cancelled",
        "counts": {"running": 1, "cancelled": 2},
    }
    types = [e["type"] for e in store.read_run_events(run_id)]
    assert types == ["run_started", "test_cancelled", "test_cancelled"]
    assert store.begin_case(run_id, f"{run_id}-0002") == 0, "a cancelled case never starts"
    assert store.is_cancelled(run_id), "the running case sees the flag at its next step"
    finish(store, run_id, 1, "cancelled")
    assert store.read_run_events(run_id)[-1]["type"] == "run_completed"
    run = alpha.get(f"/api/v1/runs/{run_id}").json()
    assert (run["status"], run["counts"]) == ("cancelled", {"cancelled": 3})


def finish(store: RunStore, run_id: str, n: int, status: str, **fields: Any) -> None:
    case = store.get_case(run_id, f"{run_id}-{n:04d}")
    store.begin_case(run_id, case.case_id)
    done = case.model_copy(update={"status": status, "attempts": 1, "duration_ms": 1200, **fields})
    event_type = {
        "passed": "test_completed",
        "flaky": "test_completed",
        "cancelled": "test_cancelled",
    }.get(status, "test_failed")
    event = Event(
        type=event_type,
        run_id=run_id,
        project_id="alpha",
        correlation_id=case.case_id,
        payload={"testId": case.case_id, "result": {"status": status}},
    )
    assert store.finish_case(done, event)


def test_results_reports_and_artifacts_of_a_finished_run(
    alpha: httpx.Client, store: RunStore, settings: Settings
) -> None:
    run_id = submit(alpha, suite("Login", case("ok"), case("broken")), name="<nightly>")["runId"]
    artifacts = open_store(settings)
    shot = f"{run_id}-0002-2-failure.png"
    artifacts.save(run_id, shot, b"\x89PNG full")
    artifacts.save(run_id, shot.replace(".png", ".thumb.png"), b"\x89PNG thumb")
    artifacts.save(run_id, f"{run_id}-0002.log", b"step 2 failed")
    finish(store, run_id, 1, "passed")
    steps = [
        StepResult(index=1, label="open /", step_type="navigate", status="passed"),
        StepResult(
            index=2,
            label="click #go",
            step_type="click",
            status="failed",
            error="no such element #go",
            screenshot=shot,
        ),
    ]
    finish(
        store,
        run_id,
        2,
        "failed",
        steps=steps,
        failed_step=2,
        error="no such element #go",
        artifacts=[shot, f"{run_id}-0002.log"],
    )

    run = alpha.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "failed"
    assert run["counts"] == {"passed": 1, "failed": 1}
    assert run["tests"][1]["failed_step"] == 2

    junit = alpha.get(f"/api/v1/runs/{run_id}/junit.xml")
    assert junit.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(junit.content)
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    failure = root.find(".//failure")
    assert failure is not None
    assert failure.get("message") == "step 2 (click #go): no such element #go"

    report = alpha.get(f"/api/v1/runs/{run_id}/report.html")
    assert report.headers["content-type"].startswith("text/html")
    assert "data:image/png;base64," + base64.b64encode(b"\x89PNG thumb").decode() in report.text
    assert "&lt;nightly&gt;" in report.text

    png = alpha.get(f"/api/v1/runs/{run_id}/artifacts/{shot}")
    assert png.status_code == 200
    assert png.content == b"\x89PNG full"
    assert png.headers["content-type"] == "image/png"
    assert png.headers["x-content-type-options"] == "nosniff"
    log = alpha.get(f"/api/v1/runs/{run_id}/artifacts/{run_id}-0002.log")
    assert log.headers["content-type"] == "text/plain; charset=utf-8"
    missing = alpha.get(f"/api/v1/runs/{run_id}/artifacts/nope.png")
    assert missing.status_code == 404
    assert "nope.png" in error_of(missing)["message"]


@pytest.mark.parametrize(
    "name",
    [
        "../../secret.txt",
        "..%2F..%2Fsecret.txt",
        "%2e%2e%2fsecret.txt",
        "..",
        "%2E%2E",
        ".",
        ".secret.txt",
        "..%5C..%5Csecret.txt",
        "..\\..\\secret.txt",
        "a%00b.png",
        "%2Fetc%2Fpasswd",
        "..%252F..%252Fsecret.txt",
        "x/../../../secret.txt",
        "/etc/passwd",
        "%00",
        "shot.png%00.txt",
        "%5C%5Chost%5Cshare%5Csecret.txt",
        "%c0%ae%c0%ae%c0%afsecret.txt",
    ],
)
def test_artifact_names_cannot_leave_the_runs_directory(
    alpha: httpx.Client, api_url: str, api_keys: Keys, settings: Settings, name: str
) -> None:
    run_id = submit(alpha, suite("A", case("a")))["runId"]
    root = settings.paths.artifacts
    root.mkdir(parents=True, exist_ok=True)
    (root / "secret.txt").write_text("TOP SECRET")
    (root / "runs" / run_id).mkdir(parents=True, exist_ok=True)
    (root / "runs" / run_id / ".secret.txt").write_text("TOP SECRET")
    (root / "runs" / "secret.txt").write_text("TOP SECRET")
    # http.client sends the path as written (httpx would resolve the dot segments first).
    connection = http.client.HTTPConnection(httpx.URL(api_url).host, httpx.URL(api_url).port)
    try:
        connection.request(
            "GET", f"/api/v1/runs/{run_id}/artifacts/{name}", headers={"X-API-Key": api_keys.alpha}
        )
        answer = connection.getresponse()
        status, body = answer.status, answer.read().decode()
    finally:
        connection.close()
    assert status in (400, 404), body
    assert "TOP SECRET" not in body
    assert json.loads(body)["error"]["message"]


def test_unknown_endpoints_and_methods_answer_json(alpha: httpx.Client) -> None:
    missing = alpha.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert "/api/v1/nothing-here" in error_of(missing)["message"]
    wrong = alpha.delete("/api/v1/runs")
    assert wrong.status_code == 405
    assert error_of(wrong)["code"] == "method_not_allowed"
    assert alpha.get("/openapi.json").json()["paths"]["/api/v1/runs"]["post"]["requestBody"]


def test_metrics_count_requests_by_route_runs_and_cases(
    alpha: httpx.Client, api_keys: Keys
) -> None:
    run_id = submit(alpha, suite("A", case("a"), case("b")))["runId"]
    alpha.get(f"/api/v1/runs/{run_id}")
    text = alpha.get("/metrics", headers={"Authorization": f"Bearer {api_keys.metrics}"}).text
    assert (
        'testfleet_api_requests_total{method="GET",route="/api/v1/runs/{run_id}",status="200"}'
        in text
    )
    assert 'route="/api/v1/runs",status="202"' in text
    assert run_id not in text, "labels use route templates, not raw paths"
    assert "testfleet_api_runs_submitted_total" in text
    assert "testfleet_api_cases_queued_total" in text


def test_ready_is_503_when_redis_is_gone(tmp_path: Path) -> None:
    port = held_port()
    settings = Settings(
        redis=RedisSettings(url=f"redis://127.0.0.1:{held_port()}/0"),
        api=ApiSettings(port=port),
        paths=PathSettings(state_dir=tmp_path),
    )
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    with serving(uvicorn.Server(config)), httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        assert c.get("/health").status_code == 200
        ready = c.get("/ready")
        assert ready.status_code == 503
        assert "TESTFLEET_REDIS__URL" in error_of(ready)["message"]
        runs = c.get("/api/v1/runs", headers={"X-API-Key": "tfk_x_y"})
        assert runs.status_code == 503
        assert error_of(runs)["code"] == "unavailable"
