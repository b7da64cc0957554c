"""A project runs at most ``limits.max_running_cases`` cases at once, across workers:
the slots on a real Redis, and a real worker that holds the second case back."""

from __future__ import annotations

import pytest
from celery.exceptions import Reject

from testfleet.constants import RUN_CASE_TASK
from testfleet.settings import Settings
from testfleet.store import RunStore
from testfleet.suites.limits import LimitSettings
from tests.conftest import WorkerLauncher
from tests.integration.workers.runcase import create_run, suite_doc
from tests.waiting import wait_until
from workers.app import make_celery
from workers.project_slots import ProjectSlots, project_slot

pytestmark = [pytest.mark.redis]


def test_slots_are_per_project_held_by_case_and_freed(store: RunStore, settings: Settings) -> None:
    capped = settings.model_copy(update={"limits": LimitSettings(max_running_cases=1)})
    with project_slot(capped, store.redis, "alpha", "a-1"):
        with pytest.raises(Reject) as rejected, project_slot(capped, store.redis, "alpha", "a-2"):
            pytest.fail("a second case of alpha ran while the first did")
        assert rejected.value.requeue
        assert "TESTFLEET_LIMITS__MAX_RUNNING_CASES" in str(rejected.value.reason)
        with project_slot(capped, store.redis, "beta", "b-1"):
            pass  # another project is not held back
        # A redelivery of the running case takes its own slot again, not a second one.
        assert ProjectSlots(store.redis, 1, 60).acquire("alpha", "a-1")
    with project_slot(capped, store.redis, "alpha", "a-2"):
        assert ProjectSlots(store.redis, 1, 60).running("alpha") == 1
    # An expired lease (a killed worker's) frees its slot.
    assert ProjectSlots(store.redis, 1, -1).acquire("alpha", "dead")
    assert ProjectSlots(store.redis, 1, 60).acquire("alpha", "next")


@pytest.mark.browser
@pytest.mark.slow
def test_a_real_worker_runs_one_case_of_a_capped_project_at_a_time(
    store: RunStore, settings: Settings, base_url: str, start_worker: WorkerLauncher
) -> None:
    steps = [{"step_type": "navigate", "input_data": "/dashboard"},
             {"step_type": "wait", "input_data": "1"}]  # fmt: skip
    runs = [create_run(store, suite_doc(base_url, steps)) for _ in range(2)]
    sender = make_celery(settings)
    for run_id, case_id in runs:
        sender.send_task(RUN_CASE_TASK, args=(run_id, case_id))
    sender.close()
    worker = start_worker(settings, 2, "tfworker-slots", TESTFLEET_LIMITS__MAX_RUNNING_CASES="1")
    try:
        cases = lambda: [store.get_case(r, c) for r, c in runs]  # noqa: E731
        wait_until("both cases to finish", lambda: all(c.is_final for c in cases()), 120)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=60)
    first, second = sorted(cases(), key=lambda c: c.started_ms or 0)
    assert (first.status, second.status) == ("passed", "passed"), output
    # Two pool processes were free, yet the project's second case began after the first ended.
    assert (second.started_ms or 0) >= (first.finished_ms or 0), output
