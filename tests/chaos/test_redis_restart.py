"""Chaos: Redis SIGKILLed mid-run and restarted on its append-only file, at the shipped settings.

``testfleet up``'s Redis keeps an AOF (fsync every second). It is killed while
cases run and ``testfleet run`` follows, and started again on the same files, as
a supervisor would. While it is down the API answers 503 saying so; workers,
API and gateway reconnect by themselves; the cases that were running are run
again (their workers stopped them when the connection dropped and hand them
back as soon as Redis answers); ``testfleet run`` follows the run to its end
across the outage and exits 0; every case ends exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.chaos.evidence import analyse, assert_goals, record
from tests.chaos.fleetops import SHORT_STEPS, Api, Command, now_ms, submit, suite_file
from tests.conftest import Fleet, start_fleet
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.redis,
    pytest.mark.grid,
    pytest.mark.browser,
    pytest.mark.slow,
]

CASES = 8


RESTARTED: list[subprocess.Popen[bytes]] = []
"""redis-servers this module started again; `testfleet down` stops them (see ``restart``)."""


@pytest.fixture(scope="module")
def redis_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    fleets = start_fleet(tmp_path_factory.mktemp("redis-chaos"), workers=2, browsers=2)
    try:
        yield next(fleets)
    finally:
        fleets.close()  # testfleet down: the workers first, the restarted Redis last
        for process in RESTARTED:
            process.wait(timeout=30)


class RedisProcess:
    """The fleet's redis-server: killed, and started again as its supervisor would."""

    def __init__(self, fleet: Fleet) -> None:
        procs: list[dict[str, Any]] = fleet.state["processes"]  # type: ignore[assignment]
        self.proc = next(p for p in procs if p["name"] == "redis")
        self.url = str(fleet.status["redis_url"])
        self.log = Path(self.proc["log"])
        self.fleet_file = fleet.state_dir / "fleet.json"
        self.restarted: subprocess.Popen[bytes] | None = None

    def answers(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        os.killpg(self.proc["pid"], signal.SIGKILL)
        wait_until("Redis to be gone", lambda: not self.answers(), 10)

    def restart(self) -> None:
        with self.log.open("ab") as log:
            self.restarted = subprocess.Popen(
                self.proc["cmd"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        RESTARTED.append(self.restarted)
        # Recorded where `testfleet down` looks, so it stops this one, after the workers.
        state = json.loads(self.fleet_file.read_text())
        for proc in state["processes"]:
            if proc["name"] == "redis":
                proc["pid"] = self.restarted.pid
        self.fleet_file.write_text(json.dumps(state))
        wait_until("Redis to answer again", self.answers, 30)


def test_redis_killed_and_restarted_mid_run_loses_nothing(
    redis_fleet: Fleet, tmp_path: Path
) -> None:
    api = Api(redis_fleet)
    redis_process = RedisProcess(redis_fleet)
    result = tmp_path / "out.json"
    suite = suite_file(tmp_path, CASES, SHORT_STEPS)
    command = Command(redis_fleet, "run", str(suite), "--json", str(result))
    run_id = command.run_id()
    hit = wait_until("cases to run", lambda: api.running(run_id), 120, interval_s=0.2)
    killed_ms = now_ms()
    redis_process.kill()
    # While Redis is down: a clear 503 at once, and nothing half-accepted.
    body = {"suites": [{"name": "x", "base_url": "http://x", "tests": []}]}
    while_down = httpx.post(f"{api.url}/api/v1/runs", headers=api.headers, json=body, timeout=20)
    redis_process.restart()
    # Reconnected by itself: the API takes (and the fleet runs) a new submission.
    after = submit(redis_fleet, suite_file(tmp_path / "after", 1, SHORT_STEPS))
    exit_code, out, err = command.finish(timeout_s=240)
    final = api.wait_cases_final(run_id, 60)
    submitted = [t["case_id"] for t in final["tests"]]
    affected = {t["case_id"]: killed_ms for t in hit}
    figures = record(analyse("Redis SIGKILL + restart", api.events(run_id), submitted, affected))

    assert while_down.status_code == 503, while_down.text
    assert "Redis" in while_down.json()["error"]["message"]
    assert exit_code == 0, f"{out}\n{err}"
    assert "Traceback" not in err, err
    assert final["status"] == "passed", final
    assert api.wait_done(after, 120)["status"] == "passed"
    assert_goals(figures)
