"""Chaos: the Redis primary SIGKILLed mid-run behind Sentinel; the replica takes over.

Three Sentinels (Debian's redis-sentinel) watch a primary and its replica. The
API, the gateway and two workers use ``sentinel://`` (the shipped settings but
the Redis URL). ``testfleet run`` follows a run when the primary dies; the
Sentinels promote the replica; every component finds the new primary by
itself; the run ends with every case once, none lost, none run twice at once,
within a lease period + 10 s of the kill, and ``testfleet run`` exits 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testfleet.fleet import redisconn
from testfleet.fleet.auth import KeyStore
from testfleet.settings import Settings
from tests.chaos.evidence import analyse, assert_goals, record
from tests.chaos.fleetops import now_ms
from tests.chaos.localworkers import LocalWorkers, events, settings_for, site
from tests.conftest import free_port
from tests.fixtures_sentinel import Cluster, sentinel_cluster
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.fullchaos,
    pytest.mark.redis,
    pytest.mark.browser,
    pytest.mark.slow,
]

CASES = 8


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with sentinel_cluster() as cluster:
        yield cluster


def suite(directory: Path, base_url: str) -> Path:
    steps = (
        "      - navigate: /\n      - wait: 2\n      - navigate: /next\n"
        "      - assert_visible: '#done'\n"
    )
    tests = "\n".join(f"  - name: case {i}\n    steps:\n{steps}" for i in range(CASES))
    path = directory / "sentinel.yaml"
    path.write_text(f"name: Sentinel\nbase_url: {base_url}\ntests:\n{tests}\n")
    return path


def test_primary_failover_mid_run_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    settings = settings_for(cluster.url, tmp_path)
    assert redisconn.sentinel_target(settings.redis.url) is not None
    key = KeyStore(redisconn.connect(settings.redis)).create("default", ["admin"])[1]
    api_port, gateway_port = free_port(), free_port()
    ports = {"TESTFLEET_API__PORT": str(api_port), "TESTFLEET_GATEWAY__PORT": str(gateway_port)}
    api = f"http://127.0.0.1:{api_port}"
    fleet = LocalWorkers(settings, tmp_path / "logs")
    try:
        fleet.component("api", "api", **ports)
        fleet.component("gateway", "gateway", **ports)
        for name in ("tfworker-a", "tfworker-b"):
            fleet.start(name)
        for url in (api, f"http://127.0.0.1:{gateway_port}"):
            wait_until(
                f"{url} to be ready",
                lambda u=url: httpx.get(f"{u}/ready").status_code == 200,
                60,
                ignore=(httpx.HTTPError,),
            )
        with site() as base_url:
            command = fleet.component(
                "cli", "run", str(suite(tmp_path, base_url)), "--server", api, "--key", key
            )
            headers = {"Authorization": f"Bearer {key}"}

            def running() -> list[str]:
                runs = httpx.get(f"{api}/api/v1/runs", headers=headers, timeout=10).json()["runs"]
                if not runs:
                    return []
                run = httpx.get(
                    f"{api}/api/v1/runs/{runs[0]['runId']}", headers=headers, timeout=10
                ).json()
                return [
                    t["case_id"] for t in run["tests"] if t["status"] == "running" and t["steps"]
                ]

            hit = wait_until("cases to run", running, 120, interval_s=0.2)
            run_id = hit[0].rsplit("-", 1)[0]
            killed_ms = now_ms()
            cluster.kill_primary()
            cluster.wait_failover()
            exit_code = command.wait(timeout=240)
    finally:
        fleet.stop_all()

    stream = events(settings, run_id)
    submitted = sorted({e["correlationId"] for e in stream if e["type"] == "test_started"})
    fault = "Sentinel failover (primary SIGKILL)"
    figures = record(analyse(fault, stream, submitted, dict.fromkeys(hit, killed_ms)))

    assert exit_code == 0, fleet.log("cli")
    assert "Traceback" not in fleet.log("cli")
    assert [e["type"] for e in stream].count("run_completed") == 1
    assert len(submitted) == CASES
    assert_goals(figures, Settings())
