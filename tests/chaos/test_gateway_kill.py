"""SIGKILL of the gateway mid-stream: the client resumes on the next one with 0 gaps, 0 dups.

A graceful restart (clients told 1001) is tested in tests/integration/testfleet/test_wsclient.py;
here the gateway process dies without a word, as under the OOM killer or kill -9, and
the events published while no gateway runs must still reach the client, once each.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from testfleet.client.ws import follow_run
from testfleet.fleet.auth import KeyStore
from testfleet.settings import RedisSettings, Settings
from testfleet.store import RunStore
from tests.chaos.evidence import Figures, record
from tests.conftest import ROOT
from tests.integration.gateway.test_gateway_sse import complete_run, event, new_run, stream_ids
from tests.ports import port_of
from tests.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.redis]


def start_gateway(
    redis_url: str, port: int, state_dir: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """``testfleet gateway`` as its own process, ready to serve on ``port`` (0: the port it
    binds, read from the kernel); the process and its port."""
    env = {
        **os.environ,
        "TESTFLEET_REDIS__URL": redis_url,
        "TESTFLEET_GATEWAY__PORT": str(port),
        "TESTFLEET_GATEWAY__READ_BLOCK_MS": "100",
        "TESTFLEET_GATEWAY__METRICS_INTERVAL_S": "0",
        "TESTFLEET_PATHS__STATE_DIR": str(state_dir),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "gateway"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = port or port_of(process)

    def healthy() -> bool:
        assert process.poll() is None, f"the gateway exited with {process.returncode}"
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200

    wait_until("the gateway to serve", healthy, timeout_s=60, ignore=(httpx.HTTPError,))
    return process, port


def test_a_client_resumes_after_the_gateway_is_killed(redis_url: str, tmp_path: Path) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    r.flushdb()
    store = RunStore(r, Settings(redis=RedisSettings(url=redis_url)), source="worker@chaos")
    key = KeyStore(r).create("alpha", ["test:read"])[1]
    cases = new_run(store, n_tests=2)
    run_id = cases[0].run_id
    for step in range(5):
        store.publish(event(cases[0], "test_progress", progress={"stepNumber": step}))
    first, port = start_gateway(redis_url, 0, tmp_path)
    second: subprocess.Popen[bytes] | None = None
    try:
        events = follow_run(f"http://127.0.0.1:{port}", key, run_id)
        got = [next(events) for _ in range(4)]
        first.send_signal(signal.SIGKILL)
        killed_s = time.monotonic()
        first.wait(timeout=10)
        # Published while no gateway runs: only the stream keeps them.
        for step in range(5, 10):
            store.publish(event(cases[0], "test_progress", progress={"stepNumber": step}))
        # The same port (the client reconnects to the URL it has), free since the kill.
        second, _ = start_gateway(redis_url, port, tmp_path)
        got.append(next(events))
        resumed_s = time.monotonic() - killed_s
        complete_run(store, cases)
        got.extend(events)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    expected = stream_ids(r, run_id)
    ids = [e["id"] for e in got]
    figures = Figures(
        fault="gateway SIGKILL (events)",
        submitted=len(expected),
        completed=len(set(ids) & set(expected)),
        lost=len(set(expected) - set(ids)),
        twice_at_once=0,
        duplicate_finals=len(ids) - len(set(ids)),
        recovery_s=round(resumed_s, 1),
        affected=1,
        note="counts are events; recovery = until the client resumed",
    )
    record(figures)
    assert ids == expected, "no gap, no duplicate"
    assert got[-1]["type"] == "run_completed"
