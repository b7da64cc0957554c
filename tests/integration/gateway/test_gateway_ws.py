"""The WebSocket protocol (SPEC §6) over real sockets (uvicorn in a thread) from a real Redis.

Clients are the ``websockets`` package's own (sync) client; worker progress is
simulated with ``RunStore`` as in the SSE tests. Two servers: ``gateway_url``
with roomy limits for the protocol itself, ``tight_url`` with small limits to
reach each of them quickly.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from gateway.app import build_server
from testfleet import keys
from testfleet.events import Event
from testfleet.fleet.auth import KeyStore
from testfleet.settings import GatewaySettings, PathSettings, RedisSettings, Settings
from testfleet.store import RunStore
from tests.fixtures_redis_api import serving
from tests.integration.gateway.test_gateway_sse import complete_run, event, new_run, stream_ids
from tests.payload_checks import checked
from tests.ports import held_port

pytestmark = pytest.mark.redis

RECV_S = 10.0


def _settings(redis_url: str, state_dir: Path, **gateway: Any) -> Settings:
    return Settings(
        redis=RedisSettings(url=redis_url),
        gateway=GatewaySettings(host="127.0.0.1", port=held_port(), read_block_ms=100, **gateway),
        paths=PathSettings(state_dir=state_dir),
    )


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _settings(
        redis_url, tmp_path_factory.mktemp("state"), metrics_interval_s=0,
        messages_per_minute=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def gateway_url(settings: Settings) -> Iterator[str]:
    with serving(build_server(settings)):
        yield f"ws://127.0.0.1:{settings.gateway.port}"


@pytest.fixture(scope="module")
def tight(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = _settings(
        redis_url, tmp_path_factory.mktemp("tight"), auth_timeout_s=0.5, messages_per_minute=30,
        subscriptions_limit=2, max_frame_bytes=1024, connections_per_key=2, queue_events=200,
        metrics_interval_s=0,
    )  # fmt: skip
    with serving(build_server(settings)):
        yield f"ws://127.0.0.1:{settings.gateway.port}"


@pytest.fixture
def alpha(r: redis.Redis) -> str:
    return KeyStore(r).create("alpha", ["test:read"])[1]


@pytest.fixture
def beta(r: redis.Redis) -> str:
    return KeyStore(r).create("beta", ["test:read", "dashboard:read"])[1]


# --- a small client ----------------------------------------------------------------------


def recv(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=RECV_S))
    return message


def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    ws.send(json.dumps(message))


@contextmanager
def login(url: str, key: str, **options: Any) -> Iterator[ClientConnection]:
    with connect(f"{url}/ws/v1", open_timeout=RECV_S, **options) as ws:
        send(ws, {"type": "auth", "id": "m1", "payload": {"apiKey": key}})
        answer = recv(ws)
        assert answer["type"] == "auth_response", answer
        yield ws


def subscribe(ws: ClientConnection, channel: str = "test_execution", **payload: Any) -> str:
    send(ws, {"type": "subscribe", "id": "s1", "payload": {"channel": channel, **payload}})
    answer = recv(ws)
    # An earlier subscription's periodic pushes may arrive before this confirmation.
    while answer["type"] == "metrics_update":
        answer = recv(ws)
    assert answer["type"] == "subscription_confirmed", answer
    assert answer["id"] == "s1"
    return str(answer["payload"]["subscriptionId"])


def closed_with(ws: ClientConnection) -> tuple[int, list[dict[str, Any]]]:
    """Read until the server closes; its close code and the messages before it."""
    seen = []
    try:
        while True:
            seen.append(recv(ws))
    except ConnectionClosed as closed:
        frame = closed.rcvd
    assert frame is not None, "the server sent a close frame"
    return frame.code, seen


def events_until(ws: ClientConnection, last_type: str) -> list[dict[str, Any]]:
    out = []
    while True:
        message = recv(ws)
        if message["type"] == "batch":
            out.extend(message["events"])
        else:
            out.append(message)
        if out and out[-1]["type"] == last_type:
            return out


def alive(ws: ClientConnection) -> None:
    send(ws, {"type": "heartbeat", "id": "hb"})
    answer = recv(ws)
    assert answer["type"] == "heartbeat_ack", answer
    assert answer["id"] == "hb"


def finish_beta(store: RunStore, run_id: str) -> None:
    """Events of a run of project beta (``complete_run`` publishes as alpha)."""
    for kind in ("test_started", "run_completed"):
        store.publish(Event(type=kind, run_id=run_id, project_id="beta", payload={}))


# --- auth --------------------------------------------------------------------------------


def test_auth_response_says_who_and_what(gateway_url: str, alpha: str) -> None:
    with connect(f"{gateway_url}/ws/v1") as ws:
        send(ws, {"type": "auth", "id": "m1", "payload": {"apiKey": alpha}})
        answer = recv(ws)
    assert answer["id"] == "m1"
    payload = answer["payload"]
    assert payload["success"] is True
    assert payload["user"]["projectId"] == "alpha"
    assert payload["permissions"] == ["test:read"]
    assert payload["sessionInfo"]["rateLimits"] == {
        "messagesPerMinute": 600, "subscriptionsLimit": 50, "maxMessageBytes": 65536}  # fmt: skip


@pytest.mark.parametrize(
    "first",
    [
        {"type": "auth", "payload": {"apiKey": "tfk_nope_nope"}},
        {"type": "auth", "payload": {}},
        {"type": "subscribe", "payload": {"channel": "test_execution"}},
        "not json",
    ],
)
def test_bad_auth_gets_auth_failed_then_3000(gateway_url: str, first: Any) -> None:
    with connect(f"{gateway_url}/ws/v1") as ws:
        ws.send(first if isinstance(first, str) else json.dumps(first))
        code, seen = closed_with(ws)
    assert code == 3000
    # Unparseable text says so; anything else that is not a valid auth is AUTH_FAILED.
    expected = "INVALID_MESSAGE_FORMAT" if first == "not json" else "AUTH_FAILED"
    assert [m["payload"]["code"] for m in seen] == [expected]
    assert set(seen[0]["payload"]) == {"code", "message", "details", "retryAfter", "severity"}


def test_no_auth_in_time_closes_3000(tight: str) -> None:
    with connect(f"{tight}/ws/v1") as ws:
        code, seen = closed_with(ws)
    assert code == 3000
    assert seen[0]["payload"]["code"] == "AUTH_FAILED"


# --- delivery ----------------------------------------------------------------------------


def test_single_events_of_own_project_only(
    gateway_url: str, alpha: str, store: RunStore, r: redis.Redis
) -> None:
    with login(gateway_url, alpha) as ws:
        subscribe(ws)
        other = new_run(store, n_tests=1, project="beta")
        finish_beta(store, other[0].run_id)
        cases = new_run(store, n_tests=2)
        complete_run(store, cases)
        got = events_until(ws, "run_completed")
    assert [e["id"] for e in got] == stream_ids(r, cases[0].run_id)
    assert {e["projectId"] for e in got} == {"alpha"}


def test_filters_cannot_widen_the_project(gateway_url: str, beta: str, store: RunStore) -> None:
    alpha_cases = new_run(store, n_tests=1)
    with login(gateway_url, beta) as ws:
        subscribe(ws, filters={"projectId": "alpha", "runIds": [alpha_cases[0].run_id]},
                  options={"includeHistory": True})  # fmt: skip
        subscribe(ws, filters={"runIds": [alpha_cases[0].run_id]})
        subscribe(ws)
        complete_run(store, alpha_cases)
        mine = new_run(store, n_tests=1, project="beta")
        finish_beta(store, mine[0].run_id)
        got = events_until(ws, "run_completed")
    assert {e["runId"] for e in got} == {mine[0].run_id}


def test_filters_and_batches(gateway_url: str, alpha: str, store: RunStore) -> None:
    cases = new_run(store, n_tests=3)
    run_id = cases[0].run_id
    with login(gateway_url, alpha) as ws:
        filters = {"runIds": [run_id], "statuses": ["failed"], "eventTypes": ["test_failed"]}
        batching = {"size": 50, "windowMs": 50}
        subscribe(ws, filters=filters, options={"includeHistory": True, "batch": batching})
        complete_run(store, cases)
        batch = recv(ws)
    assert batch["type"] == "batch"
    assert batch["count"] == len(batch["events"]) == 1
    assert batch["events"][0]["type"] == "test_failed"
    assert isinstance(batch["timestamp"], int)


def test_since_replays_then_goes_live_without_gap_or_duplicate(
    gateway_url: str, alpha: str, store: RunStore, r: redis.Redis
) -> None:
    cases = new_run(store, n_tests=1)
    run_id = cases[0].run_id
    first = stream_ids(r, run_id)[0]
    case = cases[0]

    def pour() -> None:
        for step in range(300):
            store.publish(event(case, "test_progress", progress={"stepNumber": step}))
        store.publish(Event(type="run_completed", run_id=run_id, project_id="alpha", payload={}))

    writer = threading.Thread(target=pour)
    writer.start()
    try:
        with login(gateway_url, alpha) as ws:
            subscribe(ws, filters={"runIds": [run_id]}, options={"since": first})
            got = events_until(ws, "run_completed")
    finally:
        writer.join()
    assert [e["id"] for e in got] == stream_ids(r, run_id)[1:], "no gap, no duplicate"


def test_a_trimmed_cursor_gets_a_gap_first(
    gateway_url: str, alpha: str, store: RunStore, r: redis.Redis
) -> None:
    cases = new_run(store, n_tests=3)
    complete_run(store, cases)
    ids = [str(i) for i, _ in r.xrange(keys.EVENTS_STREAM)]
    r.xtrim(keys.EVENTS_STREAM, maxlen=3, approximate=False)
    with login(gateway_url, alpha) as ws:
        sid = subscribe(ws, options={"since": ids[2]})
        gap = recv(ws)
        rest = [recv(ws) for _ in range(3)]
    assert gap["type"] == "gap"
    assert gap["subscriptionId"] == sid
    assert gap["payload"]["lastEventId"] == ids[2]
    assert gap["payload"]["firstAvailableId"] == ids[-3]
    assert [e["id"] for e in rest] == ids[-3:]


def test_unsubscribe_stops_delivery(gateway_url: str, alpha: str, store: RunStore) -> None:
    with login(gateway_url, alpha) as ws:
        sid = subscribe(ws)
        send(ws, {"type": "unsubscribe", "id": "u1", "payload": {"subscriptionId": sid}})
        answer = recv(ws)
        assert answer["type"] == "unsubscribe_confirmed"
        complete_run(store, new_run(store, n_tests=1))
        alive(ws)  # the ack comes, and no event before it


def test_dashboard_and_system_channels(
    redis_url: str, tmp_path: Path, alpha: str, beta: str, r: redis.Redis
) -> None:
    settings = _settings(redis_url, tmp_path, metrics_interval_s=0.2)
    url = f"ws://127.0.0.1:{settings.gateway.port}"
    beat = {"name": "w1@host", "host": "host", "pid": 1, "concurrency": 2, "busy": 1,
            "started_ms": 1, "beat_ms": int(1000 * time.time())}  # fmt: skip
    r.hset(keys.WORKERS, "w1@host", json.dumps(beat))
    with serving(build_server(settings)):
        with login(url, alpha) as ws:
            send(ws, {"type": "subscribe", "payload": {"channel": "dashboard_metrics"}})
            assert recv(ws)["payload"]["code"] == "PERMISSION_DENIED"
        with login(url, beta) as ws:
            subscribe(ws, "dashboard_metrics")
            # The gateway announced the worker at its first tick, maybe before we came.
            subscribe(ws, "system_events", filters={"serviceNames": ["w1@host"]},
                      options={"includeHistory": True})  # fmt: skip
            seen: dict[str, dict[str, Any]] = {}
            while len(seen) < 2:
                message = recv(ws)
                if message["type"] in ("metrics_update", "service_status_change"):
                    seen.setdefault(message["type"], message)
            r.hdel(keys.WORKERS, "w1@host")  # the worker stops cleanly
            while (message := recv(ws))["type"] != "service_status_change":
                pass
        assert r.get(keys.GATEWAY_PUBLISHER_LOCK), "the publisher holds the lock"
    checked([*seen.values(), message])
    metrics = seen["metrics_update"]["payload"]["metrics"]
    assert metrics["busyWorkers"] == 1
    assert metrics["workerList"] == [{"name": "w1@host", "busy": 1, "concurrency": 2}]
    assert metrics["queueByPriority"] == {"critical": 0, "high": 0, "medium": 0, "low": 0}
    assert metrics["workerSlots"] == 2
    assert {"testsPerMinute", "passRate", "queueDepth", "freeGridSlots"} <= metrics.keys()
    up = seen["service_status_change"]["payload"]
    assert (up["serviceName"], up["status"]) == ("w1@host", "up")
    down = message["payload"]
    assert (down["serviceName"], down["status"], down["previousStatus"]) == (
        "w1@host", "down", "up")  # fmt: skip
    assert not r.get(keys.GATEWAY_PUBLISHER_LOCK), "a clean stop hands the lock over"


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "INVALID_MESSAGE_FORMAT"),
        ("[1, 2]", "INVALID_MESSAGE_FORMAT"),
        (json.dumps({"type": "launch"}), "INVALID_MESSAGE_FORMAT"),
        (json.dumps({"type": 7}), "INVALID_MESSAGE_FORMAT"),
        (json.dumps({"type": "subscribe", "payload": []}), "INVALID_MESSAGE_FORMAT"),
        (json.dumps({"type": "subscribe", "payload": {"channel": "x"}}), "CHANNEL_NOT_FOUND"),
        (
            json.dumps(
                {
                    "type": "subscribe",
                    "payload": {"channel": "test_execution", "filters": {"runIds": "r1"}},
                }
            ),
            "INVALID_MESSAGE_FORMAT",
        ),
        (
            json.dumps(
                {
                    "type": "subscribe",
                    "payload": {"channel": "test_execution", "options": {"since": "yesterday"}},
                }
            ),
            "INVALID_MESSAGE_FORMAT",
        ),
        (
            json.dumps({"type": "unsubscribe", "payload": {"subscriptionId": 5}}),
            "INVALID_MESSAGE_FORMAT",
        ),
        (b"\x00\x01binary", "INVALID_MESSAGE_FORMAT"),
    ],
)
def test_bad_messages_get_an_error_and_the_connection_lives(
    gateway_url: str, alpha: str, message: str | bytes, code: str
) -> None:
    with login(gateway_url, alpha) as ws:
        ws.send(message)
        answer = recv(ws)
        assert answer["type"] == "error"
        assert answer["payload"]["code"] == code
        assert answer["payload"]["message"]
        alive(ws)


def test_a_huge_frame_gets_message_too_large_and_1009(tight: str, alpha: str) -> None:
    with login(tight, alpha) as ws:
        ws.send(json.dumps({"type": "heartbeat", "pad": "x" * 2000}))
        code, seen = closed_with(ws)
    assert code == 1009
    assert seen[-1]["payload"]["code"] == "MESSAGE_TOO_LARGE"


def test_a_flood_gets_rate_limited_and_3001(tight: str, alpha: str) -> None:
    with login(tight, alpha) as ws:
        for _ in range(40):
            try:
                send(ws, {"type": "heartbeat"})
            except ConnectionClosed:
                break
        code, seen = closed_with(ws)
    assert code == 3001
    error = seen[-1]["payload"]
    assert error["code"] == "RATE_LIMITED"
    assert error["retryAfter"] > 0


def test_subscription_and_connection_limits(tight: str, alpha: str) -> None:
    with login(tight, alpha) as ws, login(tight, alpha):
        subscribe(ws)
        subscribe(ws)
        send(ws, {"type": "subscribe", "payload": {"channel": "test_execution"}})
        assert recv(ws)["payload"]["code"] == "RATE_LIMITED"
        with connect(f"{tight}/ws/v1") as third:
            send(third, {"type": "auth", "payload": {"apiKey": alpha}})
            code, seen = closed_with(third)
    assert code == 1008
    assert seen[-1]["payload"]["code"] == "CONNECTION_LIMIT_EXCEEDED"


class RawClient:
    """A WebSocket client on a bare socket with a tiny receive buffer that reads only when
    told to (the ``websockets`` client reads eagerly into its own buffers)."""

    def __init__(self, url: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(RECV_S)
        self.sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /ws/v1 HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.data = b""
        while b"\r\n\r\n" not in self.data:
            self.data += self.sock.recv(4096)
        assert self.data.startswith(b"HTTP/1.1 101"), self.data[:80]
        self.data = self.data.split(b"\r\n\r\n", 1)[1]

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert len(body) < 126
        self.sock.sendall(bytes([0x81, 0x80 | len(body)]) + b"\0\0\0\0" + body)

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """(opcode, payload) of each frame until the server closes the connection."""
        while True:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                break
            self.data += chunk
        data = self.data
        while data:
            opcode, length, at = data[0] & 0x0F, data[1] & 0x7F, 2
            if length == 126:
                length, at = int.from_bytes(data[2:4], "big"), 4
            elif length == 127:
                length, at = int.from_bytes(data[2:10], "big"), 10
            yield opcode, data[at : at + length]
            data = data[at + length :]


def test_a_slow_client_is_dropped_without_delaying_others(
    tight: str, alpha: str, store: RunStore
) -> None:
    cases = new_run(store, n_tests=1)
    run_id = cases[0].run_id
    big = "x" * 20_000
    total = 1000  # ~20 MB: far more than the socket buffers and the queue (200) hold

    def pour() -> None:
        for step in range(total):
            store.publish(event(cases[0], "test_progress", step=step, pad=big))

    slow = RawClient(tight)
    slow.send({"type": "auth", "payload": {"apiKey": alpha}})
    slow.send({"type": "subscribe", "payload": {"channel": "test_execution"}})
    with login(tight, alpha) as fast:
        subscribe(fast, filters={"runIds": [run_id]})
        writer = threading.Thread(target=pour)
        writer.start()
        try:
            for _ in range(total):
                message = recv(fast)
                assert message["type"] == "test_progress", message
        finally:
            writer.join()
    frames = list(slow.frames())
    slow.sock.close()
    texts = [json.loads(p) for op, p in frames if op == 1]
    assert len(texts) < total, "the slow client did not get everything"
    error = texts[-1]["payload"]
    assert error["code"] == "SERVER_ERROR"
    assert error["details"]["reason"] == "slow_consumer"
    assert error["details"]["lastEventId"]
    opcode, close = frames[-1]
    assert opcode == 8
    assert int.from_bytes(close[:2], "big") == 1008


# --- the simple stream, metrics and shutdown ----------------------------------------------


def test_ws_events_batches_one_run_for_its_project_only(
    gateway_url: str, alpha: str, beta: str, store: RunStore, r: redis.Redis
) -> None:
    cases = new_run(store, n_tests=2)
    run_id = cases[0].run_id
    complete_run(store, cases)
    store.publish(Event(type="run_completed", run_id=run_id, project_id="alpha", payload={}))
    url = f"{gateway_url}/ws/events/{run_id}?token={alpha}&batch_size=3&poll_interval=20"
    with connect(url) as ws:
        got = []
        while not got or got[-1]["type"] != "run_completed":
            batch = recv(ws)
            assert batch["type"] == "batch"
            assert batch["count"] <= 3
            got.extend(batch["events"])
    assert [e["id"] for e in got] == stream_ids(r, run_id)
    with connect(f"{gateway_url}/ws/events/{run_id}?token={beta}") as ws:
        code, seen = closed_with(ws)
    assert code == 1008
    assert seen[-1]["payload"]["code"] == "PERMISSION_DENIED"
    with connect(f"{gateway_url}/ws/events/{run_id}?token=bad") as ws:
        code, _ = closed_with(ws)
    assert code == 3000
    flt = quote(json.dumps({"eventTypes": ["test_failed"]}))
    with connect(f"{gateway_url}/ws/events/{run_id}?token={alpha}&filter={flt}") as ws:
        batch = recv(ws)
    assert [e["type"] for e in batch["events"]] == ["test_failed"]
    http = gateway_url.replace("ws://", "http://")
    report = httpx.get(f"{http}/api/websocket-metrics", headers={"X-API-Key": alpha}).json()
    assert report["runs"][run_id]["eventsSent"] >= len(got)
    assert report["eventsSent"] >= len(got)
    assert report["bytesSent"] > 0
    other = httpx.get(f"{http}/api/websocket-metrics", headers={"X-API-Key": beta}).json()
    assert run_id not in other["runs"], "per-run figures stay within the project"
    scraper = KeyStore(r).create("ops", ["metrics:read"])[1]
    prometheus = httpx.get(f"{http}/metrics", headers={"Authorization": f"Bearer {scraper}"}).text
    assert 'testfleet_gateway_events_sent_total{transport="ws"}' in prometheus
    assert "testfleet_gateway_ws_clients" in prometheus


def test_shutdown_closes_websockets_with_1001(redis_url: str, tmp_path: Path, alpha: str) -> None:
    settings = _settings(redis_url, tmp_path, metrics_interval_s=0)
    server = build_server(settings)
    with serving(server), login(f"ws://127.0.0.1:{settings.gateway.port}", alpha) as ws:
        subscribe(ws)
        server.should_exit = True
        code, _ = closed_with(ws)
    assert code == 1001


def test_of_two_gateways_only_one_publishes_fleet_metrics(
    redis_url: str, tmp_path: Path, beta: str
) -> None:
    first = _settings(redis_url, tmp_path / "a", metrics_interval_s=0.5)
    second = _settings(redis_url, tmp_path / "b", metrics_interval_s=0.5)
    sources = set()
    with (
        serving(build_server(first)),
        serving(build_server(second)),
        login(f"ws://127.0.0.1:{first.gateway.port}", beta) as ws,
    ):
        subscribe(ws, "dashboard_metrics")
        for _ in range(4):
            while (message := recv(ws))["type"] != "metrics_update":
                pass
            sources.add(message["metadata"]["source"])
    assert len(sources) == 1, sources
