"""Chaos: workers SIGKILLed mid-test, again and again, at the shipped settings.

The whole worker (Celery's main process and its pool child) is killed while it
runs a case, as when a container dies, and a replacement is started, as an
orchestrator would. Nothing is shortened: the killed worker's lease (30 s) runs
out, a sweep hands its case back, another worker runs it, and the run ends with
every case reported exactly once, none lost, none run twice at once, each
killed case finished within one lease period + 10 s of its kill.

``CHAOS_KILLS`` sets how many kills (default 3, for CI time; ``make chaos`` runs
the 20 of the spec).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testfleet.events import FINAL_TYPES
from tests.chaos.evidence import analyse, assert_goals, record
from tests.chaos.fleetops import SHORT_STEPS, Api, Workers, node, now_ms, submit, suite_file
from tests.conftest import Fleet, start_fleet
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.redis,
    pytest.mark.grid,
    pytest.mark.browser,
    pytest.mark.slow,
]

KILLS = int(os.environ.get("CHAOS_KILLS", "3"))
"""Workers killed mid-test in one run."""
WORKERS = 2
BROWSERS = 6
"""Grid slots: the live workers' plus headroom for killed workers' browsers, which hold
their slots until the node ends them as idle (``grid.session_timeout_s``, 60 s)."""
KILL_SPACING_S = 16.0
"""At least this long between kills, so that killed workers' browsers never hold every
spare slot at once (4 spare slots x 16 s > the 60 s they are held)."""


@pytest.fixture(scope="module")
def chaos_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield from start_fleet(tmp_path_factory.mktemp("chaos"), workers=WORKERS, browsers=BROWSERS)


@pytest.mark.timeout(900 + 90 * KILLS)
def test_sigkill_workers_mid_test_repeatedly(chaos_fleet: Fleet, tmp_path: Path) -> None:
    # Enough that the run is still going at the last kill: 2 workers finish a ~4 s case
    # every ~2 s between them, and kills are KILL_SPACING_S apart.
    cases = int(KILLS * KILL_SPACING_S / 1.5) + 20
    run_id = submit(chaos_fleet, suite_file(tmp_path, cases, SHORT_STEPS))
    api = Api(chaos_fleet)
    workers = Workers(chaos_fleet)
    killed_at: dict[str, int] = {}
    last_kill_ms = [0]

    def running_on_a_live_worker() -> dict[str, Any] | None:
        if now_ms() - last_kill_ms[0] < KILL_SPACING_S * 1000:
            return None
        for test in api.run(run_id)["tests"]:
            live = node(test["worker"]) in workers.alive
            new = test["case_id"] not in killed_at
            # Mid-test: a step done and two to go, so it cannot finish before the kill.
            midway = 1 <= len(test["steps"]) <= test["total_steps"] - 2
            if test["status"] == "running" and live and new and midway:
                return test
        return None

    try:
        for kill in range(KILLS):
            what = f"a case running on a live worker (kill {kill + 1} of {KILLS})"
            victim = wait_until(what, running_on_a_live_worker, 240, interval_s=0.2)
            last_kill_ms[0] = now_ms()
            workers.kill(node(victim["worker"]))
            killed_at[victim["case_id"]] = last_kill_ms[0]
            workers.start(f"tfworker-r{kill}")
        final = api.wait_done(run_id, 300 + 60 * KILLS)
    finally:
        workers.stop_started()

    submitted = [t["case_id"] for t in final["tests"]]
    events = api.events(run_id)
    figures = record(analyse(f"worker SIGKILL x{KILLS}", events, submitted, killed_at))
    assert final["status"] == "passed", [
        (t["case_id"], t["status"], t["error"]) for t in final["tests"] if t["status"] != "passed"
    ]
    assert_goals(figures)
    by_id = {t["case_id"]: t for t in final["tests"]}
    ended_ms = {
        e["correlationId"]: int(e["timestamp"])
        for e in events
        if e["type"] in FINAL_TYPES and e.get("correlationId")
    }
    for case_id, at in killed_at.items():
        if ended_ms.get(case_id, at + 1) <= at:
            continue  # it ended between the look and the kill (a busy machine): not hit
        assert by_id[case_id]["attempts"] >= 2, f"{case_id} was killed and ran again"
