"""Chaos: workers SIGKILLed mid-test, again and again, lose nothing and report nothing twice.

The whole worker (Celery's main process and its pool child) is killed, as when a
container dies, while it runs a test; a replacement worker is started, as an
orchestrator would. Each killed worker's unacknowledged task is restored once the
visibility timeout passes (shortened here so the test is quick), runs again, and
the run ends with every case reported exactly once.

``CHAOS_KILLS`` sets how many kills (default 3, for CI time; ``make chaos`` runs
the 20 of the spec).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from testfleet import keys
from tests.conftest import ROOT, Fleet, start_fleet
from tests.waiting import WaitTimeout, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.redis, pytest.mark.grid, pytest.mark.browser,
              pytest.mark.slow]  # fmt: skip

KILLS = int(os.environ.get("CHAOS_KILLS", "3"))
"""Workers killed mid-test in one run."""
VISIBILITY_TIMEOUT_S = 12


@pytest.fixture(scope="module")
def chaos_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield from start_fleet(
        tmp_path_factory.mktemp("chaos"),
        TESTFLEET_WORKER__VISIBILITY_TIMEOUT_S=str(VISIBILITY_TIMEOUT_S),
        TESTFLEET_WORKER__RESTORE_INTERVAL_S="1",
        # A killed worker's browser session is never closed: let the node reclaim its
        # slot soon, or a few kills fill the Grid (the wait step sends no command for
        # 3 s, well within this).
        TESTFLEET_GRID__SESSION_TIMEOUT_S="10",
    )


class Workers:
    """The fleet's workers and the replacements this test starts, by node name."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        procs = {p["name"]: p["pid"] for p in fleet.state["processes"]}  # type: ignore[attr-defined]
        # `testfleet up` starts each worker in its own session: pid = process group id.
        self.alive = {f"tfworker-{n.removeprefix('worker-')}": pid
                      for n, pid in procs.items() if n.startswith("worker-")}  # fmt: skip
        self.started: list[subprocess.Popen[bytes]] = []

    def kill(self, node: str) -> None:
        os.killpg(self.alive.pop(node), signal.SIGKILL)

    def replace(self, number: int) -> None:
        name = f"tfworker-r{number}"
        log = (self.fleet.state_dir / "logs" / f"{name}.log").open("ab")
        popen = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "worker", "--name", name],
            env=self.fleet.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        log.close()
        self.started.append(popen)
        self.alive[name] = popen.pid

    def stop_replacements(self) -> None:
        """Warm-stop every replacement at once; kill those still up after a while."""
        for popen in self.started:
            if popen.poll() is None:
                os.killpg(popen.pid, signal.SIGTERM)
        try:
            wait_until("replacement workers to stop",
                       lambda: all(p.poll() is not None for p in self.started), 30)  # fmt: skip
        except WaitTimeout:
            pass  # a replacement still finishing a case: killed below, as the fleet would
        finally:
            for popen in self.started:
                if popen.poll() is None:
                    os.killpg(popen.pid, signal.SIGKILL)
                    popen.wait()


@pytest.mark.timeout(300 + 45 * KILLS)
def test_sigkill_workers_mid_test_repeatedly(chaos_fleet: Fleet, tmp_path: Path) -> None:
    cases = 3 * KILLS + 4  # enough that the run is still going at the last kill
    tests = "\n".join(
        f"""  - name: slow {i}
    steps:
      - navigate: /
      - wait: 3
      - navigate: /login
      - assert_visible: "#user\""""
        for i in range(cases)
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

    workers = Workers(chaos_fleet)
    victims: list[str] = []
    try:
        for kill in range(KILLS):

            def running_on_a_live_worker() -> dict[str, Any] | None:
                for t in get_run()["tests"]:
                    node = (t["worker"] or "").split("@")[0]
                    if t["status"] == "running" and node in workers.alive:
                        return t
                return None

            victim = wait_until(f"a test running on a live worker (kill {kill + 1} of "
                                f"{KILLS})", running_on_a_live_worker, 180)  # fmt: skip
            workers.kill(victim["worker"].split("@")[0])
            victims.append(victim["case_id"])
            workers.replace(kill)

        final = wait_until(
            "the run to complete",
            lambda: (r := get_run())["status"] in ("passed", "failed") and r,
            240 + 30 * KILLS,
        )
    finally:
        workers.stop_replacements()

    assert final["status"] == "passed", final
    by_id = {t["case_id"]: t for t in final["tests"]}
    assert len(by_id) == cases, "no case lost"
    assert {t["status"] for t in by_id.values()} == {"passed"}
    for case_id in victims:
        assert by_id[case_id]["attempts"] >= 2, f"{case_id} was killed and ran again"

    client = redis.Redis.from_url(str(chaos_fleet.status["redis_url"]), decode_responses=True)
    events = [json.loads(f["d"]) for _, f in client.xrange(keys.run_events(run_id))]
    finals = [e["correlationId"] for e in events
              if e["type"] in ("test_completed", "test_failed", "test_cancelled")]  # fmt: skip
    assert sorted(finals) == sorted(by_id), "every case reported exactly once"
    assert [e["type"] for e in events].count("run_completed") == 1
