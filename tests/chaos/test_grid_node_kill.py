"""Chaos: the Grid node SIGKILLed mid-run (JVM, chromedriver and Chrome with it), then restarted.

The workers live on; the cases running on the node find their browser gone at
their next command, ask the Grid for a new session, which waits in the Grid's
queue until the restarted node registers, and finish there. No case is lost or
run twice, and each is done within a lease period + 10 s of the kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testfleet.errors import InfrastructureError
from testfleet.fleet.gridstatus import read_capacity
from tests.chaos.evidence import analyse, assert_goals, record
from tests.chaos.fleetops import SHORT_STEPS, Api, now_ms, submit, suite_file
from tests.conftest import ROOT, Fleet, start_fleet
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.fullchaos,
    pytest.mark.redis,
    pytest.mark.grid,
    pytest.mark.browser,
    pytest.mark.slow,
]

BROWSERS = 2


@pytest.fixture(scope="module")
def node_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield from start_fleet(tmp_path_factory.mktemp("node-chaos"), workers=2, browsers=BROWSERS)


def grid_node(fleet: Fleet) -> dict[str, Any]:
    procs: list[dict[str, Any]] = fleet.state["processes"]  # type: ignore[assignment]
    return next(p for p in procs if p["name"] == "grid-node")


def test_grid_node_killed_mid_run_cases_move_to_the_restarted_node(
    node_fleet: Fleet, tmp_path: Path
) -> None:
    api = Api(node_fleet)
    grid_url = str(node_fleet.status["grid_url"])
    state = node_fleet.state
    grid_auth = (str(state["grid_username"]), str(state["grid_password"]))
    run_id = submit(node_fleet, suite_file(tmp_path, 6, SHORT_STEPS))
    node = grid_node(node_fleet)
    restarted: subprocess.Popen[bytes] | None = None
    try:
        hit = wait_until("cases to run", lambda: api.running(run_id), 120, interval_s=0.2)
        killed_ms = now_ms()
        os.killpg(node["pid"], signal.SIGKILL)  # its own session: chromedriver, Chrome too
        with open(node["log"], "ab") as log:
            restarted = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "grid", "node", "--max-sessions", str(BROWSERS)],
                env=node_fleet.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_until(
            "the restarted node to register",
            lambda: read_capacity(grid_url, auth=grid_auth).total_slots == BROWSERS,
            120,
            ignore=(InfrastructureError,),
        )
        final = api.wait_done(run_id, 240)
    finally:
        if restarted is not None and restarted.poll() is None:
            os.killpg(restarted.pid, signal.SIGTERM)
            try:
                restarted.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(restarted.pid, signal.SIGKILL)
                restarted.wait()

    assert final["status"] == "passed", [
        (t["case_id"], t["status"], t["error"]) for t in final["tests"] if t["status"] != "passed"
    ]
    submitted = [t["case_id"] for t in final["tests"]]
    affected = {t["case_id"]: killed_ms for t in hit}
    events = api.events(run_id)
    figures = record(analyse("Grid node SIGKILL + restart", events, submitted, affected))
    assert_goals(figures)
