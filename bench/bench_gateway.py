"""Streaming: the gateway's shared reader against a naive relay, through a real Redis stream.

Both relays run as separate processes (their CPU time is read from
``/proc/<pid>/stat``); this process is the load: it XADDs 1,000 events/s in
all, round robin over 100 runs (envelopes as workers write them, the send time
in the payload), to 100 clients each following one run (unbatched) plus 10
dashboard clients taking every event in batches (50 events / 50 ms). Latency is
XADD -> client receive; lost and duplicated events are counted per client by
id. ``TESTFLEET_BENCH_QUICK=1`` shortens the 30 s window to 5 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio as aredis
from websockets.asyncio.client import ClientConnection, connect

from bench.common import percentile, ratio, verdict
from testfleet import keys, stream
from testfleet.events import Event
from testfleet.fleet.auth import KeyStore
from testfleet.settings import Settings
from tests.fixtures_redis import redis_server
from tests.ports import port_of

TITLE = "Gateway: 100 per-run + 10 dashboard WebSocket clients, 1,000 events/s via Redis"
RUNS = 100
DASHBOARDS = 10
RATE_PER_S = 1000
TICK_S = 0.01
DRAIN_S = 5.0
"""After the last XADD, how long clients may take to receive what is still in flight."""


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid``."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Client:
    run_id: str | None
    """The run it follows; None for a dashboard (every event)."""
    ids: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    def take(self, event: dict[str, Any], now_s: float) -> None:
        if event.get("type") != "test_progress":
            return
        self.ids.append(event["id"])
        self.latencies_ms.append((now_s - event["payload"]["sentS"]) * 1000)


async def _listen(ws: ClientConnection, client: Client) -> None:
    async for raw in ws:
        now_s = time.time()
        message = json.loads(raw)
        if message.get("type") == "batch":
            for event in message["events"]:
                client.take(event, now_s)
        else:
            client.take(message, now_s)


async def _open_gateway(url: str, key: str, client: Client) -> ClientConnection:
    ws = await connect(f"{url}/ws/v1", max_size=None, open_timeout=30)
    await ws.send(json.dumps({"type": "auth", "payload": {"apiKey": key}}))
    assert json.loads(await ws.recv())["type"] == "auth_response"
    options: dict[str, Any] = {}
    filters: dict[str, Any] = {}
    if client.run_id is None:
        options["batch"] = {"size": 50, "windowMs": 50}
    else:
        filters["runIds"] = [client.run_id]
    payload = {"channel": "test_execution", "filters": filters, "options": options}
    await ws.send(json.dumps({"type": "subscribe", "payload": payload}))
    assert json.loads(await ws.recv())["type"] == "subscription_confirmed"
    return ws


async def _open_naive(url: str, _key: str, client: Client) -> ClientConnection:
    query = f"run={client.run_id}" if client.run_id else "batch=1"
    ws = await connect(f"{url}/naive?{query}", max_size=None, open_timeout=30)
    assert json.loads(await ws.recv())["type"] == "ready"
    return ws


async def _load(
    redis_url: str, url: str, key: str, pid: int, duration_s: float, naive: bool
) -> tuple[list[Client], int, dict[str, int], float]:
    """Open every client, publish for ``duration_s``, drain; (clients, sent, per run, CPU s)."""
    runs = [f"bench-run-{i}" for i in range(RUNS)]
    clients = [Client(r) for r in runs] + [Client(None) for _ in range(DASHBOARDS)]
    opener = _open_naive if naive else _open_gateway
    sockets = [await opener(url, key, c) for c in clients]
    listeners = [
        asyncio.create_task(_listen(ws, c)) for ws, c in zip(sockets, clients, strict=True)
    ]
    publisher = aredis.Redis.from_url(redis_url, decode_responses=True)
    per_tick = int(RATE_PER_S * TICK_S)
    cpu_before = _cpu_s(pid)
    counts: dict[str, int] = {}
    sent = 0
    began = time.monotonic()
    while time.monotonic() - began < duration_s:
        pipe = publisher.pipeline(transaction=False)
        for _ in range(per_tick):
            run_id = runs[sent % RUNS]
            counts[run_id] = counts.get(run_id, 0) + 1
            payload = {"sentS": time.time(), "progress": {"stepNumber": sent}}
            event = Event(type="test_progress", run_id=run_id, project_id="bench", payload=payload)
            fields: dict[Any, Any] = dict(
                zip(stream.ENTRY_FIELDS, stream.entry_values(event), strict=True)
            )
            pipe.xadd(keys.EVENTS_STREAM, fields)
            sent += 1
        await pipe.execute()
        next_tick = began + (sent // per_tick) * TICK_S
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
    deadline = time.monotonic() + DRAIN_S
    while time.monotonic() < deadline:
        if all(len(c.ids) >= (counts.get(c.run_id, 0) if c.run_id else sent) for c in clients):
            break
        await asyncio.sleep(0.05)
    cpu_s = _cpu_s(pid) - cpu_before
    for task in listeners:
        task.cancel()
    for ws in sockets:
        await ws.close()
    await publisher.aclose()
    return clients, sent, counts, cpu_s


def _figures(
    clients: list[Client], sent: int, counts: dict[str, int], cpu_s: float
) -> dict[str, Any]:
    followers = [c for c in clients if c.run_id]
    dashboards = [c for c in clients if c.run_id is None]
    lost = sum(counts.get(c.run_id or "", 0) - len(set(c.ids)) for c in followers)
    lost += sum(sent - len(set(c.ids)) for c in dashboards)
    duplicated = sum(len(c.ids) - len(set(c.ids)) for c in clients)
    run_lat = [x for c in followers for x in c.latencies_ms]
    dash_lat = [x for c in dashboards for x in c.latencies_ms]
    delivered = sum(len(c.ids) for c in clients)
    return {
        "p50_ms": round(percentile(run_lat, 50), 2),
        "p95_ms": round(percentile(run_lat, 95), 2),
        "p99_ms": round(percentile(run_lat, 99), 2),
        "dashboard_p50_ms": round(percentile(dash_lat, 50), 2),
        "dashboard_p99_ms": round(percentile(dash_lat, 99), 2),
        "lost": max(0, lost),
        "duplicated": duplicated,
        "events_published": sent,
        "messages_delivered": delivered,
        "relay_cpu_s": round(cpu_s, 3),
        "msgs_per_cpu_s": round(delivered / cpu_s, 1) if cpu_s else 0.0,
    }


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(15)


def _serve(cmd: list[str], env: dict[str, str], stack: ExitStack) -> tuple[int, int]:
    """Start ``cmd``, which binds port 0 (stopped when ``stack`` closes); its pid and the
    port the kernel gave it, once it listens."""
    log = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (the stack closes it)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    stack.callback(_stop, proc)
    try:
        port = port_of(proc)
    except RuntimeError as exc:
        log.seek(0)
        raise RuntimeError(f"{exc}: {log.read().decode()[-2000:]}") from exc
    return proc.pid, port


def run(settings: Settings) -> dict[str, Any]:
    """Both relays, one after the other, against the same load."""
    duration_s = 5.0 if os.environ.get("TESTFLEET_BENCH_QUICK") else 30.0
    out: dict[str, Any] = {"duration_s": duration_s}
    with redis_server() as redis_url, tempfile.TemporaryDirectory() as state:
        sync = redis.Redis.from_url(redis_url, decode_responses=True)
        key = KeyStore(sync).create("bench", ["test:read"])[1]
        sync.close()
        env = dict(
            os.environ,
            TESTFLEET_REDIS__URL=redis_url,
            TESTFLEET_PATHS__STATE_DIR=state,
            TESTFLEET_GATEWAY__CONNECTIONS_PER_KEY="1000",
            TESTFLEET_GATEWAY__METRICS_INTERVAL_S="0",
        )
        for name in ("gateway", "naive"):
            with ExitStack() as stack:
                if name == "gateway":
                    env["TESTFLEET_GATEWAY__PORT"] = "0"
                    code = (
                        "from gateway.app import main; from testfleet.settings import "
                        "Settings; main(Settings())"
                    )
                    pid, port = _serve([sys.executable, "-c", code], env, stack)
                else:
                    naive = [sys.executable, "-m", "bench.naive_relay", "0", redis_url]
                    pid, port = _serve(naive, env, stack)
                url = f"ws://127.0.0.1:{port}"
                result = asyncio.run(_load(redis_url, url, key, pid, duration_s, name == "naive"))
            figures = _figures(*result)
            if name == "gateway":
                out |= figures
            else:
                out["naive_msgs_per_cpu_s"] = figures["msgs_per_cpu_s"]
                out["naive_p99_ms"] = figures["p99_ms"]
                out["naive_lost"] = figures["lost"]
    out["vs_naive"] = ratio(out["msgs_per_cpu_s"], out["naive_msgs_per_cpu_s"])
    return out


def rows(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        ("per-run P50 (ms)", f"{f['p50_ms']}", f"<= 5 {verdict(f['p50_ms'] <= 5)}"),
        ("per-run P95 (ms)", f"{f['p95_ms']}", ""),
        ("per-run P99 (ms)", f"{f['p99_ms']}", f"<= 50 {verdict(f['p99_ms'] <= 50)}"),
        (
            "dashboard P99 (ms)",
            f"{f['dashboard_p99_ms']}",
            f"<= 100 {verdict(f['dashboard_p99_ms'] <= 100)}",
        ),
        ("lost", f"{f['lost']}", f"0 {verdict(f['lost'] == 0)}"),
        ("duplicated", f"{f['duplicated']}", f"0 {verdict(f['duplicated'] == 0)}"),
        ("msgs per CPU-s", f"{f['msgs_per_cpu_s']}", ""),
        ("naive msgs per CPU-s", f"{f['naive_msgs_per_cpu_s']}", ""),
        ("vs naive", f"{f['vs_naive']}x", f">= 5x {verdict(f['vs_naive'] >= 5)}"),
    ]
