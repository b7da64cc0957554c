"""The gateway's SSE stream over real HTTP (uvicorn in a thread) from a real Redis.

Worker progress is simulated with ``RunStore`` (what workers call); every
assertion on ids compares with the run's own stream, read back with XRANGE.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from api.dispatch import plan_run
from gateway.app import build_server
from testfleet import keys
from testfleet.events import Event
from testfleet.fleet.auth import KeyStore
from testfleet.results import CaseResult
from testfleet.settings import GatewaySettings, PathSettings, RedisSettings, Settings
from testfleet.store import RunStore
from testfleet.suites.loader import load_document
from tests.fixtures_redis import redis_server
from tests.fixtures_redis_api import serving
from tests.ports import held_port
from tests.waiting import wait_until

pytestmark = pytest.mark.redis

PING_S = 0.5


def gateway_settings(redis_url: str, state_dir: Path) -> Settings:
    return Settings(
        redis=RedisSettings(url=redis_url),
        gateway=GatewaySettings(
            host="127.0.0.1",
            port=held_port(),
            read_block_ms=100,
            sse_ping_s=PING_S,
            metrics_interval_s=0,
        ),
        paths=PathSettings(state_dir=state_dir),
    )


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return gateway_settings(redis_url, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def gateway_url(settings: Settings) -> Iterator[str]:
    with serving(build_server(settings)):
        yield f"http://127.0.0.1:{settings.gateway.port}"


@dataclass
class Keys:
    alpha: str
    beta: str
    dashboard_only: str
    metrics: str
    """The scraper's key (``metrics:read``): ``/metrics`` needs it."""


@pytest.fixture
def api_keys(r: redis.Redis) -> Keys:
    ks = KeyStore(r)
    return Keys(
        alpha=ks.create("alpha", ["test:read"])[1],
        beta=ks.create("beta", ["test:read"])[1],
        dashboard_only=ks.create("alpha", ["dashboard:read"])[1],
        metrics=ks.create("ops", ["metrics:read"])[1],
    )


@pytest.fixture
def client(gateway_url: str, api_keys: Keys) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {api_keys.alpha}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=10) as c:
        yield c


# --- simulating a run ----------------------------------------------------------------------


def new_run(store: RunStore, n_tests: int = 2, project: str = "alpha") -> list[CaseResult]:
    document = {"name": "Login", "base_url": "http://demo.test", "tests": [
        {"name": f"t{i}", "steps": [{"navigate": "/"}, {"click": "#go"}]}
        for i in range(n_tests)]}  # fmt: skip
    suite = load_document(document, {})
    run_id = f"run-{time.monotonic_ns()}"
    record, cases, specs = plan_run(run_id, project, [suite], set(), "sse")
    started = Event(type="run_started", run_id=run_id, project_id=project, correlation_id=run_id,
                    payload={"runId": run_id, "total": len(cases)})  # fmt: skip
    store.create_run(record, cases, specs, started)
    return cases


def event(case: CaseResult, kind: str, **payload: Any) -> Event:
    return Event(type=kind, run_id=case.run_id, project_id="alpha", correlation_id=case.case_id,
                 payload={"testId": case.case_id, **payload})  # fmt: skip


def start(store: RunStore, case: CaseResult) -> CaseResult:
    attempt = store.begin_case(case.run_id, case.case_id)
    running = case.model_copy(update={"status": "running", "attempts": attempt})
    assert store.update_case(running, event(case, "test_started", attempt=attempt))
    return running


def progress(store: RunStore, case: CaseResult, step: int) -> None:
    assert store.update_case(case, event(case, "test_progress", progress={"stepNumber": step}))


def finish(store: RunStore, case: CaseResult, status: str = "passed") -> None:
    kind = "test_completed" if status == "passed" else "test_failed"
    done = case.model_copy(update={"status": status})
    assert store.finish_case(done, event(case, kind, result={"status": status}))


def complete_run(store: RunStore, cases: list[CaseResult]) -> None:
    for i, case in enumerate(cases):
        running = start(store, case)
        progress(store, running, 1)
        finish(store, running, "failed" if i == 1 else "passed")


def stream_ids(r: redis.Redis, run_id: str) -> list[str]:
    return [str(entry_id) for entry_id, _ in r.xrange(keys.run_events(run_id)) or []]


# --- reading SSE -------------------------------------------------------------------------


@dataclass
class Message:
    id: str | None
    event: str
    data: str

    @property
    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.data)
        return body


def parse(lines: Iterator[str]) -> Iterator[Message | str]:
    """SSE messages as they arrive; comments (pings) as their text."""
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in fields:
                yield Message(fields.get("id"), fields.get("event", "message"), fields["data"])
            fields = {}
        elif line.startswith(":"):
            yield line[1:].strip()
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data" and "data" in fields:
                value = f"{fields['data']}\n{value}"
            fields[name] = value


def messages(items: Iterator[Message | str]) -> Iterator[Message]:
    return (item for item in items if isinstance(item, Message))


def take(items: Iterator[Message], n: int) -> list[Message]:
    return [next(items) for _ in range(n)]


# --- the stream --------------------------------------------------------------------------


def test_replays_then_continues_live_and_ends_after_run_completed(
    client: httpx.Client, store: RunStore, r: redis.Redis
) -> None:
    cases = new_run(store)
    run_id = cases[0].run_id
    first = start(store, cases[0])
    progress(store, first, 1)
    with client.stream("GET", "/sse/events", params={"runId": run_id}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        received = messages(parse(response.iter_lines()))
        replayed = take(received, 3)
        assert [m.event for m in replayed] == ["run_started", "test_started", "test_progress"]
        progress(store, first, 2)  # live from here on
        finish(store, first)
        second = start(store, cases[1])
        finish(store, second, "failed")
        live = list(received)  # the body ends after run_completed
    got = replayed + live
    assert [m.id for m in got] == stream_ids(r, run_id)
    assert [m.event for m in live] == [
        "test_progress", "test_completed", "test_started", "test_failed", "run_completed"
    ]  # fmt: skip
    for message in got:
        body = message.json
        assert body["id"] == message.id
        assert body["type"] == message.event
        assert body["runId"] == run_id
        assert set(body) == {"id", "type", "timestamp", "correlationId", "runId", "projectId",
                             "payload", "metadata"}  # fmt: skip


def test_last_event_id_resumes_with_exactly_the_missing_events(
    client: httpx.Client, store: RunStore, r: redis.Redis
) -> None:
    cases = new_run(store, n_tests=3)
    run_id = cases[0].run_id
    complete_run(store, cases)
    ids = stream_ids(r, run_id)
    assert len(ids) == 1 + 3 * 3 + 1
    for k in (0, 4, len(ids) - 2):
        headers = {"Last-Event-ID": ids[k]}
        with client.stream("GET", "/sse/events", params={"runId": run_id}, headers=headers) as s:
            assert [m.id for m in messages(parse(s.iter_lines()))] == ids[k + 1 :]
    query = {"runId": run_id, "lastEventId": ids[5]}
    with client.stream("GET", "/sse/events", params=query) as s:
        assert [m.id for m in messages(parse(s.iter_lines()))] == ids[6:]
    with client.stream("GET", "/sse/events", params={"runId": run_id},
                       headers={"Last-Event-ID": ids[-1]}) as s:  # fmt: skip
        assert list(messages(parse(s.iter_lines()))) == [], "resuming at the end: nothing, end"


def test_resuming_while_events_pour_in_has_no_gap_and_no_duplicate(
    client: httpx.Client, store: RunStore, r: redis.Redis
) -> None:
    cases = new_run(store, n_tests=1)
    run_id = cases[0].run_id
    running = start(store, cases[0])
    for step in range(50):
        progress(store, running, step)
    cursor = stream_ids(r, run_id)[20]
    writing = threading.Event()

    def writer() -> None:
        writing.set()
        for step in range(50, 1550):
            progress(store, running, step)
        finish(store, running)

    thread = threading.Thread(target=writer)
    with client.stream("GET", "/sse/events", params={"runId": run_id},
                       headers={"Last-Event-ID": cursor}) as response:  # fmt: skip
        received = messages(parse(response.iter_lines()))
        first = next(received)
        thread.start()
        writing.wait(timeout=5)
        got = [first, *received]
    thread.join(timeout=30)
    ids = stream_ids(r, run_id)
    assert [m.id for m in got] == ids[ids.index(cursor) + 1 :]
    assert got[-1].event == "run_completed"


def test_types_filter_keeps_only_those_types_and_still_ends(
    client: httpx.Client, store: RunStore
) -> None:
    cases = new_run(store, n_tests=3)
    complete_run(store, cases)
    params = {"runId": cases[0].run_id, "types": "test_failed,test_completed"}
    with client.stream("GET", "/sse/events", params=params) as s:
        got = [m.event for m in messages(parse(s.iter_lines()))]
    assert got == ["test_completed", "test_failed", "test_completed"]


def test_follow_keeps_the_stream_open_with_pings_and_a_disconnect_frees_it(
    client: httpx.Client, store: RunStore, api_keys: Keys
) -> None:
    cases = new_run(store, n_tests=1)
    complete_run(store, cases)
    params = {"runId": cases[0].run_id, "follow": "1"}
    with client.stream("GET", "/sse/events", params=params) as response:
        items = parse(response.iter_lines())
        kinds = []
        for item in items:
            kinds.append(item if isinstance(item, str) else item.event)
            if item == "ping":
                break
        assert kinds[-2:] == ["run_completed", "ping"]
        assert open_streams(client, api_keys.metrics) == 1
    wait_until(
        "the gateway to notice the disconnect",
        lambda: open_streams(client, api_keys.metrics) == 0,
        10,
    )


def scrape(client: httpx.Client, metrics_key: str) -> str:
    """``/metrics`` as Prometheus scrapes it (its key as ``Authorization: Bearer``)."""
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {metrics_key}"})
    assert answer.status_code == 200, answer.text
    return answer.text


def open_streams(client: httpx.Client, metrics_key: str) -> int:
    for line in scrape(client, metrics_key).splitlines():
        if line.startswith("testfleet_gateway_sse_clients "):
            return int(float(line.split()[1]))
    raise AssertionError("no testfleet_gateway_sse_clients metric")


def test_an_idle_stream_gets_pings(client: httpx.Client, store: RunStore) -> None:
    cases = new_run(store, n_tests=1)
    began = time.monotonic()
    with client.stream("GET", "/sse/events", params={"runId": cases[0].run_id}) as response:
        items = parse(response.iter_lines())
        first = next(items)
        assert isinstance(first, Message)
        assert first.event == "run_started"
        assert next(items) == "ping"
        assert next(items) == "ping"
    assert time.monotonic() - began >= PING_S


def test_a_trimmed_cursor_gets_an_explicit_gap_first(
    client: httpx.Client, store: RunStore, r: redis.Redis
) -> None:
    cases = new_run(store, n_tests=3)
    run_id = cases[0].run_id
    complete_run(store, cases)
    ids = stream_ids(r, run_id)
    r.xtrim(keys.run_events(run_id), maxlen=3, approximate=False)
    with client.stream("GET", "/sse/events", params={"runId": run_id},
                       headers={"Last-Event-ID": ids[2]}) as s:  # fmt: skip
        got = list(messages(parse(s.iter_lines())))
    assert got[0].event == "gap"
    assert got[0].id is None, "a gap notice does not move the client's cursor"
    assert got[0].json["payload"] == {
        "lastEventId": ids[2], "firstAvailableId": ids[-3], "reason": "trimmed",
        "message": got[0].json["payload"]["message"]}  # fmt: skip
    assert [m.id for m in got[1:]] == ids[-3:]
    with client.stream("GET", "/sse/events", params={"runId": run_id},
                       headers={"Last-Event-ID": ids[-3]}) as s:  # fmt: skip
        assert [m.id for m in messages(parse(s.iter_lines()))] == ids[-2:], "no gap: no notice"


# --- who may read what -------------------------------------------------------------------


def test_keys_scopes_and_projects(gateway_url: str, api_keys: Keys, store: RunStore) -> None:
    [alpha_case] = new_run(store, n_tests=1)
    [beta_case] = new_run(store, n_tests=1, project="beta")
    complete_run(store, [alpha_case])
    url = f"{gateway_url}/sse/events"
    run = {"runId": alpha_case.run_id}
    with httpx.Client(timeout=10) as c:
        anonymous = c.get(url, params=run)
        assert anonymous.status_code == 401
        assert "X-API-Key" in anonymous.json()["error"]["message"]
        assert c.get(url, params={**run, "token": "tfk_no_no"}).status_code == 401
        by_token = c.get(url, params={**run, "token": api_keys.alpha})
        assert by_token.status_code == 200
        assert "event: run_completed" in by_token.text
        by_header = c.get(url, params=run, headers={"X-API-Key": api_keys.alpha})
        assert by_header.text.count("event: ") == by_token.text.count("event: ")
        theirs = c.get(url, params=run, headers={"X-API-Key": api_keys.beta})
        unknown = c.get(url, params={"runId": "nope"}, headers={"X-API-Key": api_keys.beta})
        assert theirs.status_code == unknown.status_code == 404
        assert "beta" in theirs.json()["error"]["message"]
        assert alpha_case.run_id not in theirs.text.replace(f"run {alpha_case.run_id} ", "")
        ours = c.get(url, params={"runId": beta_case.run_id}, headers={"X-API-Key": api_keys.alpha})
        assert ours.status_code == 404
        scope = c.get(url, params=run, headers={"X-API-Key": api_keys.dashboard_only})
        assert scope.status_code == 403
        assert "test:read" in scope.json()["error"]["message"]
        for params, headers, says in (
            ({}, {}, "runId is required"),
            ({**run, "types": "test_progress,bogus"}, {}, "bogus"),
            (run, {"Last-Event-ID": "yesterday"}, "Last-Event-ID"),
        ):
            bad = c.get(url, params=params, headers={"X-API-Key": api_keys.alpha, **headers})
            assert bad.status_code == 400, bad.text
            assert says in bad.json()["error"]["message"]


def test_health_ready_and_metrics(client: httpx.Client, store: RunStore, api_keys: Keys) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}
    cases = new_run(store, n_tests=1)
    complete_run(store, cases)
    with client.stream("GET", "/sse/events", params={"runId": cases[0].run_id}) as s:
        n = len(list(messages(parse(s.iter_lines()))))
    text = scrape(client, api_keys.metrics)
    assert 'testfleet_gateway_events_sent_total{transport="sse"}' in text
    assert n == 5
    missing = client.get("/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_server_shutdown_ends_open_streams_cleanly(
    redis_url: str, tmp_path: Path, store: RunStore, api_keys: Keys
) -> None:
    settings = gateway_settings(redis_url, tmp_path)
    cases = new_run(store, n_tests=1)
    server = build_server(settings)
    with serving(server), httpx.Client(timeout=10) as c:
        params = {"runId": cases[0].run_id, "follow": "1"}
        url = f"http://127.0.0.1:{settings.gateway.port}/sse/events"
        with c.stream("GET", url, params=params, headers={"X-API-Key": api_keys.alpha}) as s:
            received = messages(parse(s.iter_lines()))
            assert next(received).event == "run_started"
            began = time.monotonic()
            server.should_exit = True
            assert list(received) == [], "the body ends cleanly (no protocol error)"
            took_s = time.monotonic() - began
    assert took_s < 5, "streams end at once, not at the graceful-shutdown timeout (10 s)"


def test_a_redis_failure_ends_the_stream_cleanly_for_the_client_to_resume(tmp_path: Path) -> None:
    with ExitStack() as redis_alive:
        url = redis_alive.enter_context(redis_server())
        settings = gateway_settings(url, tmp_path / "state")
        r = redis.Redis.from_url(url, decode_responses=True)
        redis_alive.callback(r.close)
        cases = new_run(RunStore(r, settings), n_tests=1)
        key = KeyStore(r).create("alpha", ["test:read"])[1]
        with serving(build_server(settings)), httpx.Client(timeout=10) as c:
            params = {"runId": cases[0].run_id, "follow": "1"}
            gateway = f"http://127.0.0.1:{settings.gateway.port}"
            with c.stream("GET", f"{gateway}/sse/events", params=params,
                          headers={"X-API-Key": key}) as s:  # fmt: skip
                received = messages(parse(s.iter_lines()))
                assert next(received).event == "run_started"
                redis_alive.close()  # redis-server stops under the open stream
                assert list(received) == [], "the body ends cleanly (no protocol error)"
            assert c.get(f"{gateway}/ready").status_code == 503
