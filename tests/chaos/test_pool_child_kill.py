"""Chaos: a worker's pool child SIGKILLed mid-case (the OOM killer's way), at the shipped settings.

The worker's main process lives on and sees its child die: Celery rejects the
message back to the queue at once (``task_reject_on_worker_lost``), so the case
runs again within seconds (on the other worker or the new child), not after a
lease; it ends once, never run twice at once.
"""

from __future__ import annotations

import os
import signal

import pytest

from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.chaos.evidence import analyse, assert_goals, record
from tests.chaos.fleetops import node, now_ms, pool_children
from tests.chaos.localworkers import (
    LocalWorkers,
    events,
    queue_run,
    site,
    steps_waiting,
)
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.fullchaos,
    pytest.mark.redis,
    pytest.mark.browser,
    pytest.mark.slow,
]


def test_a_killed_pool_child_hands_its_case_back_at_once(
    local_settings: Settings, local_workers: LocalWorkers
) -> None:
    settings, workers = local_settings, local_workers
    for name in ("tfworker-a", "tfworker-b"):
        workers.start(name)
    with site() as base_url:
        run_id = queue_run(settings, base_url, [steps_waiting([2, 2, 2]) for _ in range(4)])
        store = RunStore.connect(settings, source="chaos")

        def running() -> tuple[str, str] | None:
            run = store.get_run(run_id)
            assert run is not None
            for case in run.tests:
                if case.status == "running" and case.steps:
                    return case.case_id, node(case.worker)
            return None

        case_id, holder = wait_until("a case to run", running, 60)
        children = pool_children(workers.procs[holder].pid)
        assert children, "the worker's pool child"
        killed_ms = now_ms()
        for child in children:
            os.kill(child, signal.SIGKILL)
        wait_until(
            "the run to complete",
            lambda: (r := store.get_run(run_id)) is not None and r.status in ("passed", "failed"),
            120,
        )
        final = store.get_run(run_id)
        store.redis.close()

    assert final is not None
    assert final.status == "passed", [(t.case_id, t.status, t.error) for t in final.tests]
    figures = record(
        analyse(
            "pool child SIGKILL",
            events(settings, run_id),
            [t.case_id for t in final.tests],
            {case_id: killed_ms},
        )
    )
    assert_goals(figures, settings)
    restarted_s = figures.recovery_s or 0
    assert restarted_s < settings.worker.lease_s, "back at once, not after a lease"
    for name in workers.procs:
        assert workers.procs[name].poll() is None, f"worker {name} lives on"
