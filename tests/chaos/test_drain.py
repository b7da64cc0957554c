"""Chaos: stopping a worker mid-case with SIGTERM, once (drain) and twice (hand back).

Two real workers at the shipped settings share one queue. One is running a case
when it gets SIGTERM:

- once: it finishes the case, acknowledges it and exits 0; the other worker never
  runs it (nothing is redelivered, however long the drain takes: the lease is
  renewed throughout);
- twice: the case goes straight back to the queue and the other worker starts it
  within seconds, not after a lease; the stopped worker exits.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.chaos.evidence import analyse, assert_goals, deliveries, record
from tests.chaos.fleetops import node, now_ms
from tests.chaos.localworkers import (
    LocalWorkers,
    events,
    queue_run,
    site,
    steps_waiting,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.redis, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with site() as url:
        yield url


def running_on(settings: Settings, run_id: str) -> tuple[str, str] | None:
    """(case id, worker node) of a case of the run that is past its first step."""
    store = RunStore.connect(settings, source="chaos")
    try:
        run = store.get_run(run_id)
    finally:
        store.redis.close()
    assert run is not None
    for case in run.tests:
        if case.status == "running" and case.steps:
            return case.case_id, node(case.worker)
    return None


def test_sigterm_drains_the_running_case_and_nothing_runs_twice(
    local_settings: Settings, local_workers: LocalWorkers, base_url: str
) -> None:
    settings, workers = local_settings, local_workers
    for name in ("tfworker-a", "tfworker-b"):
        workers.start(name)
    # Several leases long: the drain outlasts them, the lease renewed all along, with an
    # idle worker sweeping for expired leases the whole time.
    run_id = queue_run(settings, base_url, [steps_waiting([25, 25, 25])])
    case_id, holder = wait_until("the case to run", lambda: running_on(settings, run_id), 60)
    term_ms = now_ms()
    workers.signal(holder, signal.SIGTERM)

    code = workers.procs[holder].wait(timeout=180)

    assert code == 0, workers.log(holder)
    stream = events(settings, run_id)
    runs = deliveries(stream)
    assert [(d.case_id, d.attempt) for d in runs] == [(case_id, 1)], "one delivery, never again"
    assert runs[0].source.startswith(holder)
    note = "recovery = the rest of the case (2.5 leases), run by its own worker"
    figures = analyse("worker SIGTERM (drain)", stream, [case_id], {case_id: term_ms}, note)
    record(figures)
    assert (figures.lost, figures.twice_at_once, figures.duplicate_finals) == (0, 0, 0), figures


def test_a_second_sigterm_hands_the_case_back_at_once(
    local_settings: Settings, local_workers: LocalWorkers, base_url: str
) -> None:
    settings, workers = local_settings, local_workers
    for name in ("tfworker-a", "tfworker-b"):
        workers.start(name)
    run_id = queue_run(settings, base_url, [steps_waiting([6, 6, 6, 6])])
    case_id, holder = wait_until("the case to run", lambda: running_on(settings, run_id), 60)
    other = "tfworker-b" if holder == "tfworker-a" else "tfworker-a"
    workers.signal(holder, signal.SIGTERM)
    wait_until("the drain to begin", lambda: "draining" in workers.log(holder), 10)
    handback_ms = now_ms()
    workers.signal(holder, signal.SIGTERM)

    workers.procs[holder].wait(timeout=60)
    restarted = wait_until(
        "the other worker to start the case",
        lambda: [d for d in deliveries(events(settings, run_id)) if d.source.startswith(other)],
        30,
    )

    waited_s = (restarted[0].first_ms - handback_ms) / 1000
    assert waited_s < settings.worker.lease_s / 2, (
        f"handed back at once, not a lease later: {waited_s}"
    )
    wait_until(
        "the run to complete",
        lambda: any(e["type"] == "run_completed" for e in events(settings, run_id)),
        90,
    )
    stream = events(settings, run_id)
    fault = "worker 2nd SIGTERM (hand back)"
    figures = record(analyse(fault, stream, [case_id], {case_id: handback_ms}))
    assert_goals(figures, settings)
