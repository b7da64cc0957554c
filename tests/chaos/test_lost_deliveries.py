"""Chaos: a case that takes its worker down with it every time ends ``error``, once.

A real worker at the shipped settings (``worker.max_lost_deliveries`` = 3); its pool
child is SIGKILLed whenever it is in the middle of the case, as a test that crashes
or hangs its worker would have it end (the OOM killer, the hard time limit). Celery
hands the message back each time (``task_reject_on_worker_lost``); the fourth
delivery records the case as an error instead of running it again, and the worker
goes on with the next case.
"""

from __future__ import annotations

import os
import signal

import pytest

from testfleet.results import RunResult
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.chaos.fleetops import pool_children
from tests.chaos.localworkers import LocalWorkers, events, queue_run, site, steps_waiting
from tests.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.redis, pytest.mark.browser, pytest.mark.slow]

FINAL_TYPES = ("test_completed", "test_failed", "test_cancelled")
RUN_S = 180
"""Deadline for one short run on one worker (a loaded 2-core machine starts Chromium slowly)."""


def completed(store: RunStore, run_id: str) -> RunResult:
    def done() -> RunResult | None:
        run = store.get_run(run_id)
        return run if run is not None and run.finishedMs is not None else None

    return wait_until(f"run {run_id} to complete", done, RUN_S)


def test_a_case_whose_worker_dies_every_time_ends_error_once(
    local_settings: Settings, local_workers: LocalWorkers
) -> None:
    settings, workers = local_settings, local_workers
    cap = settings.worker.max_lost_deliveries
    worker = workers.start("tfworker-a")
    store = RunStore.connect(settings, source="chaos")
    try:
        with site() as base_url:
            run_id = queue_run(settings, base_url, [steps_waiting([60])])
            for delivery in range(1, cap + 1):

                def mid_test(n: int = delivery) -> bool:
                    run = store.get_run(run_id)
                    assert run is not None
                    case = run.tests[0]
                    assert case.status != "error", f"ended after {n - 1} losses: {case.error}"
                    return case.status == "running" and case.attempts == n and bool(case.steps)

                wait_until(f"delivery {delivery} to be mid-test", mid_test, RUN_S)
                children = pool_children(worker.pid)
                assert children, "the worker's pool child"
                for child in children:
                    os.kill(child, signal.SIGKILL)

            run = completed(store, run_id)
            case = run.tests[0]
            assert case.status == "error", case.error
            assert (case.error or "").startswith(
                f"delivered {cap} times and lost each time: the test may crash or hang its worker"
            )
            assert case.attempts == cap, "no attempt after the last loss"
            assert [h.status for h in case.history] == ["interrupted"] * cap
            stream = events(settings, run_id)
            finals = [e for e in stream if e["type"] in FINAL_TYPES]
            assert [e["payload"]["result"]["status"] for e in finals] == ["error"], "once"
            assert [e["type"] for e in stream].count("run_completed") == 1

            # The worker goes on: the next case runs and passes.
            after = queue_run(settings, base_url, [steps_waiting([])])
            assert [t.status for t in completed(store, after).tests] == ["passed"]
        assert worker.poll() is None, "the worker lives on"
    finally:
        store.redis.close()
