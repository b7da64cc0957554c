"""Keys on the gateway, over real sockets from a real Redis: a revoked key's streams
close, every streaming endpoint counts against the key's limit, stream tickets work
once, no key reaches a log line, and a long replay is capped with a gap notice.

Revocation is tested at the shipped ``key_check_interval_s``.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from websockets.sync.client import connect

from gateway.app import build_server
from testfleet import logs
from testfleet.fleet.auth import KeyStore
from testfleet.settings import LogSettings, Settings
from testfleet.store import RunStore
from tests.fixtures_redis_api import serving
from tests.integration.gateway.test_gateway_sse import (
    complete_run,
    messages,
    new_run,
    parse,
    stream_ids,
)
from tests.integration.gateway.test_gateway_ws import (
    _settings,
    closed_with,
    events_until,
    login,
    recv,
    subscribe,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.redis

REVOKED_WITHIN_S = 30.0
"""Deadline of the waits below: generous for a loaded machine; the interval is 2 s."""


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _settings(
        redis_url, tmp_path_factory.mktemp("keys"), metrics_interval_s=0,
        connections_per_key=2, replay_max_events=5,
    )  # fmt: skip


@pytest.fixture(scope="module")
def http_url(settings: Settings) -> Iterator[str]:
    with serving(build_server(settings)):
        yield f"http://127.0.0.1:{settings.gateway.port}"


@pytest.fixture
def ws_url(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http")


@pytest.fixture
def keystore(r: redis.Redis) -> KeyStore:
    return KeyStore(r)


def _key(keystore: KeyStore) -> tuple[str, str]:
    record, key = keystore.create("alpha", ["test:read"])
    return record.id, key


def test_revoking_a_key_closes_its_websocket_and_sse_streams(
    ws_url: str, http_url: str, keystore: KeyStore, store: RunStore
) -> None:
    key_id, key = _key(keystore)
    run_id = new_run(store)[0].run_id
    sse_lines: list[str] = []
    sse_done = threading.Event()

    def follow_sse() -> None:
        params = {"runId": run_id, "follow": "1"}
        with httpx.stream("GET", f"{http_url}/sse/events", params=params,
                          headers={"X-API-Key": key}, timeout=60) as response:  # fmt: skip
            for line in response.iter_lines():
                sse_lines.append(line)
        sse_done.set()

    reader = threading.Thread(target=follow_sse, daemon=True)
    with login(ws_url, key) as ws:
        subscribe(ws, filters={"runIds": [run_id]})
        reader.start()
        wait_until("the SSE stream to open", lambda: any("run_started" in x for x in sse_lines), 30)
        keystore.revoke(key_id)
        code, seen = closed_with(ws)
    assert code == 3000
    assert seen[-1]["payload"]["code"] == "AUTH_FAILED"
    assert "revoked" in seen[-1]["payload"]["message"]
    assert sse_done.wait(REVOKED_WITHIN_S), "the SSE stream of a revoked key ends"
    assert "event: error" in sse_lines
    assert any("revoked" in line for line in sse_lines)


def test_a_revoked_keys_run_stream_closes_too(
    ws_url: str, keystore: KeyStore, store: RunStore
) -> None:
    key_id, key = _key(keystore)
    run_id = new_run(store)[0].run_id
    with connect(f"{ws_url}/ws/events/{run_id}?token={key}", open_timeout=10) as ws:
        assert recv(ws)["type"] == "batch"
        keystore.revoke(key_id)
        code, seen = closed_with(ws)
    assert code == 3000
    assert seen[-1]["payload"]["code"] == "AUTH_FAILED"


def test_every_streaming_endpoint_counts_against_the_keys_limit(
    ws_url: str, http_url: str, keystore: KeyStore, store: RunStore
) -> None:
    _, key = _key(keystore)
    run_id = new_run(store)[0].run_id
    headers = {"X-API-Key": key}
    params = {"runId": run_id, "follow": "1"}
    with (
        connect(f"{ws_url}/ws/events/{run_id}", additional_headers=headers) as first,
        httpx.stream("GET", f"{http_url}/sse/events", params=params, headers=headers) as second,
    ):
        assert recv(first)["type"] == "batch"
        assert second.status_code == 200
        # A third stream of the same key, on any endpoint, is refused.
        third = httpx.get(f"{http_url}/sse/events", params=params, headers=headers, timeout=10)
        assert third.status_code == 429
        assert "TESTFLEET_GATEWAY__CONNECTIONS_PER_KEY" in third.json()["error"]["message"]
        assert third.headers["Retry-After"]
        with connect(f"{ws_url}/ws/events/{run_id}", additional_headers=headers) as fourth:
            code, seen = closed_with(fourth)
        assert code == 1008
        assert seen[0]["payload"]["code"] == "CONNECTION_LIMIT_EXCEEDED"
    # Closing them frees the key's slots.
    wait_until("the slots to free", lambda: _sse_status(http_url, run_id, key) == 200, 30)


def _sse_status(http_url: str, run_id: str, key: str) -> int:
    params = {"runId": run_id, "follow": "1"}
    with httpx.stream("GET", f"{http_url}/sse/events", params=params,
                      headers={"X-API-Key": key}, timeout=10) as response:  # fmt: skip
        return response.status_code


def test_a_stream_ticket_works_once_and_stands_for_its_key(
    ws_url: str, http_url: str, keystore: KeyStore, store: RunStore
) -> None:
    key_id, key = _key(keystore)
    cases = new_run(store, n_tests=1)  # 5 events: within the replay cap
    complete_run(store, cases)
    run_id = cases[0].run_id

    def ticket() -> str:
        answer = httpx.post(f"{http_url}/api/stream-tickets", headers={"X-API-Key": key})
        assert answer.status_code == 201, answer.text
        assert answer.json()["expiresInS"] == 60
        return str(answer.json()["ticket"])

    once = ticket()
    response = httpx.get(f"{http_url}/sse/events", params={"runId": run_id, "ticket": once})
    assert response.status_code == 200
    got = list(messages(parse(iter(response.text.splitlines()))))
    assert [m.id for m in got] == stream_ids(store.redis, run_id)
    again = httpx.get(f"{http_url}/sse/events", params={"runId": run_id, "ticket": once})
    assert again.status_code == 401
    assert "used or expired" in again.json()["error"]["message"]

    with connect(f"{ws_url}/ws/events/{run_id}?ticket={ticket()}") as ws:
        assert events_until(ws, "run_completed")[-1]["type"] == "run_completed"
    with login(ws_url, ticket()) as ws:  # the full protocol's auth message takes one too
        subscribe(ws, filters={"runIds": [run_id]}, options={"includeHistory": True})
        assert events_until(ws, "run_completed")[-1]["type"] == "run_completed"

    unused = ticket()
    keystore.revoke(key_id)
    refused = httpx.get(f"{http_url}/sse/events", params={"runId": run_id, "ticket": unused})
    assert refused.status_code == 401, "a revoked key's ticket is refused"
    assert httpx.post(f"{http_url}/api/stream-tickets").status_code == 401


def test_no_key_or_ticket_reaches_a_log_line(
    ws_url: str, http_url: str, keystore: KeyStore, store: RunStore
) -> None:
    _, key = _key(keystore)
    cases = new_run(store, n_tests=1)
    complete_run(store, cases)
    run_id = cases[0].run_id
    ticket = httpx.post(f"{http_url}/api/stream-tickets", headers={"X-API-Key": key})
    # The product's log output (testfleet.logs), fed by uvicorn's own loggers whatever
    # earlier tests' uvicorn configs left them as.
    out = io.StringIO()
    handler = logs.configure(LogSettings(format="text", level="INFO"), "gateway", stream=out)
    loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.access", "uvicorn.error")]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
        logger.propagate = True
    try:
        assert httpx.get(f"{http_url}/sse/events?runId={run_id}&token={key}").status_code == 200
        with connect(f"{ws_url}/ws/events/{run_id}?token={key}") as ws:
            events_until(ws, "run_completed")
        with connect(f"{ws_url}/ws/events/{run_id}?ticket={ticket.json()['ticket']}") as ws:
            events_until(ws, "run_completed")
        httpx.get(f"{http_url}/sse/events?runId={run_id}&token={key}x")  # a bad key: 401
    finally:
        logging.getLogger().removeHandler(handler)
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.propagate = propagate
    lines = out.getvalue().splitlines()
    access = [line for line in lines if f"/events?runId={run_id}" in line or "/ws/events/" in line]
    assert len(access) >= 4, lines
    secret = key.split("_", 2)[2]
    assert not any(secret in line for line in lines)
    assert not any(ticket.json()["ticket"] in line for line in lines)
    assert any("token=***" in line for line in access)
    assert any("ticket=***" in line for line in access)


def test_a_long_replay_is_capped_with_a_gap_notice(
    ws_url: str, http_url: str, keystore: KeyStore, store: RunStore, r: redis.Redis
) -> None:
    _, key = _key(keystore)
    cases = new_run(store, n_tests=3)
    complete_run(store, cases)
    run_id = cases[0].run_id
    ids = stream_ids(r, run_id)
    assert len(ids) > 10

    with login(ws_url, key) as ws:
        subscribe(ws, filters={"runIds": [run_id]}, options={"includeHistory": True})
        got: list[dict[str, Any]] = events_until(ws, "run_completed")
    assert got[0]["type"] == "gap"
    assert got[0]["payload"]["reason"] == "replay_capped"
    assert "TESTFLEET_GATEWAY__REPLAY_MAX_EVENTS" in got[0]["payload"]["message"]
    assert got[0]["payload"]["firstAvailableId"] == ids[-5]
    assert [e["id"] for e in got[1:]] == ids[-5:]

    response = httpx.get(f"{http_url}/sse/events", params={"runId": run_id},
                         headers={"Last-Event-ID": ids[1], "X-API-Key": key})  # fmt: skip
    sse = list(messages(parse(iter(response.text.splitlines()))))
    assert sse[0].event == "gap"
    assert sse[0].json["payload"]["reason"] == "replay_capped"
    assert [m.id for m in sse[1:]] == ids[-5:]

    # A cursor within the cap replays exactly what follows it, with no notice.
    response = httpx.get(f"{http_url}/sse/events", params={"runId": run_id},
                         headers={"Last-Event-ID": ids[-4], "X-API-Key": key})  # fmt: skip
    assert [m.id for m in messages(parse(iter(response.text.splitlines())))] == ids[-3:]


def test_key_ids_are_64_bits_and_a_taken_id_is_never_overwritten(
    keystore: KeyStore, monkeypatch: pytest.MonkeyPatch, r: redis.Redis
) -> None:
    first, _ = keystore.create("alpha", ["test:read"])
    assert len(first.id) == 16
    drawn = iter([first.id, first.id, "0123456789abcdef"])
    monkeypatch.setattr("testfleet.fleet.auth.new_key_id", lambda: next(drawn))
    second, key = keystore.create("beta", ["test:read"])
    assert second.id == "0123456789abcdef"
    assert keystore.verify(key).project == "beta"
    assert {k.id: k.project for k in keystore.list()}[first.id] == "alpha"
    monkeypatch.setattr("testfleet.fleet.auth.new_key_id", lambda: first.id)
    with pytest.raises(Exception, match="unused key id"):
        keystore.create("gamma", ["test:read"])
    assert r.hlen("tf:apikey-ids") == 2
