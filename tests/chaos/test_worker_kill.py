"""Chaos: a worker SIGKILLed mid-test loses nothing and reports nothing twice.

The whole worker (Celery's main process and its pool child) is killed, as when a
container dies. Its unacknowledged task is restored by the surviving worker once
the visibility timeout passes (shortened here so the test is quick), runs again,
and the run ends with every case reported exactly once.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from testfleet import keys
from tests.conftest import Fleet, start_fleet
from tests.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.redis, pytest.mark.grid, pytest.mark.browser,
              pytest.mark.slow]  # fmt: skip


@pytest.fixture(scope="module")
def chaos_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield from start_fleet(
        tmp_path_factory.mktemp("chaos"),
        TESTFLEET_WORKER__VISIBILITY_TIMEOUT_S="12",
        TESTFLEET_WORKER__RESTORE_INTERVAL_S="1",
    )


def test_sigkill_a_worker_mid_test(chaos_fleet: Fleet, tmp_path: Path) -> None:
    tests = "\n".join(
        f"""  - name: slow {i}
    steps:
      - navigate: /
      - wait: 3
      - navigate: /login
      - assert_visible: "#user\""""
        for i in range(4)
    )
    suite = tmp_path / "slow.yaml"
    suite.write_text(f"name: Slow\nbase_url: ${{DEMO_URL}}\ntests:\n{tests}\n")
    submitted = chaos_fleet.run("run", str(suite), "--no-follow")
    assert submitted.returncode == 0, submitted
    run_id = submitted.stdout.split()[1].rstrip(":")

    api = str(chaos_fleet.status["api_url"])
    headers = {"Authorization": f"Bearer {chaos_fleet.admin_key}"}

    def get_run() -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{api}/api/v1/runs/{run_id}", headers=headers).json()
        return data

    running = wait_until(
        "a test to be running",
        lambda: [t for t in get_run()["tests"] if t["status"] == "running" and t["worker"]],
        120,
    )
    victim_case = running[0]
    victim_node = victim_case["worker"].split("@")[0]  # tfworker-N
    procs = {p["name"]: p["pid"] for p in chaos_fleet.state["processes"]}  # type: ignore[attr-defined]
    pgid = procs["worker-" + victim_node.removeprefix("tfworker-")]
    os.killpg(pgid, signal.SIGKILL)

    final = wait_until(
        "the run to complete",
        lambda: (r := get_run())["status"] in ("passed", "failed") and r,
        240,
    )
    assert final["status"] == "passed", final
    by_id = {t["case_id"]: t for t in final["tests"]}
    assert by_id[victim_case["case_id"]]["attempts"] >= 2, "the killed test ran again"
    survivor = {t["worker"].split("@")[0] for t in final["tests"]} - {victim_node}
    assert survivor, "another worker finished the work"

    client = redis.Redis.from_url(str(chaos_fleet.status["redis_url"]), decode_responses=True)
    events = [json.loads(f["d"]) for _, f in client.xrange(keys.run_events(run_id))]
    finals = [e["correlationId"] for e in events
              if e["type"] in ("test_completed", "test_failed", "test_cancelled")]  # fmt: skip
    assert sorted(finals) == sorted(by_id), "every case reported exactly once"
    assert [e["type"] for e in events].count("run_completed") == 1
