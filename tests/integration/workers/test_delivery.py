"""Exactly-once results when a case is delivered twice: real Redis, real Chromium.

Two ways Celery hands one case out twice: two deliveries running at the same time
(a visibility timeout passing under a slow case), and the same task message
queued twice and consumed by a real worker. Either way the case ends with one
final status, one final event, and the run with one ``run_completed``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.dispatch import Dispatcher
from testfleet import keys
from testfleet.artifacts import FileStore
from testfleet.fleet.broker import queue_lists
from testfleet.results import CaseResult
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.conftest import WorkerLauncher
from tests.fixtures_pages import page_server
from tests.integration.workers.runcase import (
    DASHBOARD,
    CountingProvider,
    create_run,
    events,
    execute,
    suite_doc,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.browser]

FINAL_TYPES = ("test_completed", "test_failed", "test_cancelled")

SLOW_STEPS: list[dict[str, Any]] = [
    {"step_type": "navigate", "input_data": "/dashboard"},
    {"step_type": "wait", "input_data": "1"},
    {"step_type": "assert", "selector": "h1", "expected_result": "Welcome"},
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with page_server({"/dashboard": DASHBOARD}) as url:
        yield url


@pytest.fixture
def store(settings: Settings) -> Iterator[RunStore]:
    store = RunStore.connect(settings, source="test")
    store.redis.flushdb()
    yield store
    store.redis.close()


def run_status(store: RunStore, run_id: str) -> str | None:
    run = store.get_run(run_id)
    return run.status if run is not None else None


def assert_one_final(store: RunStore, run_id: str, case_id: str) -> list[dict[str, Any]]:
    stream = events(store, run_id)
    finals = [e for e in stream if e["type"] in FINAL_TYPES]
    assert [e["correlationId"] for e in finals] == [case_id], "one final event"
    assert [e["type"] for e in stream].count("run_completed") == 1
    run = store.get_run(run_id)
    assert run is not None
    assert run.status == "passed"
    assert [t.status for t in run.tests] == ["passed"]
    return stream


def test_two_deliveries_at_once_record_one_final_status(
    store: RunStore, settings: Settings, base_url: str
) -> None:
    run_id, case_id = create_run(store, suite_doc(base_url, SLOW_STEPS))
    providers = [CountingProvider(settings), CountingProvider(settings)]
    results: list[CaseResult | None] = [None, None]
    barrier = threading.Barrier(2)

    def deliver(i: int) -> None:
        barrier.wait()  # both claim the case before either can finish it
        results[i] = execute(store, providers[i], settings, run_id, case_id)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    recorded = [r for r in results if r is not None]
    assert len(recorded) == 1, results
    assert recorded[0].status == "passed"
    stream = assert_one_final(store, run_id, case_id)
    started = [e["payload"]["attempt"] for e in stream if e["type"] == "test_started"]
    assert sorted(started) == [1, 2], "both deliveries ran: the attempts are counted"
    # The run counts every claim; the recorded result is the winning delivery's own.
    assert store.attempts(run_id, case_id) == 2
    assert store.get_case(run_id, case_id).attempts == recorded[0].attempts
    assert all(p.closed == p.opened for p in providers), "every session is closed"


@pytest.mark.slow
def test_the_same_task_sent_twice_to_a_real_worker_finishes_once(
    store: RunStore,
    settings: Settings,
    base_url: str,
    tmp_path: Path,
    start_worker: WorkerLauncher,
) -> None:
    run_id, case_id = create_run(store, suite_doc(base_url, SLOW_STEPS))
    case = store.get_case(run_id, case_id)
    dispatcher = Dispatcher(settings)
    try:
        assert dispatcher.dispatch([case, case]) == 2  # one case, two identical messages
    finally:
        dispatcher.close()

    # An expired run left in the indexes, with its artifacts: the worker's sweeper
    # removes both once it is up.
    store.redis.zadd(keys.RUNS_INDEX, {"ancient": 1})
    store.redis.zadd(keys.project_runs("proj"), {"ancient": 1})
    FileStore(tmp_path / "artifacts").save("ancient", "old.png", b"\x89PNG")  # the worker's store
    ancient = tmp_path / "artifacts" / "runs" / "ancient"
    assert (ancient / "old.png").exists()

    worker = start_worker(settings, 2, "tfworker-dup")
    queue = settings.worker.queue

    def both_messages_done() -> bool:
        queued = sum(int(store.redis.llen(name)) for name in queue_lists(queue))
        return queued == 0 and int(store.redis.hlen("unacked")) == 0

    try:
        wait_until("the run to complete", lambda: run_status(store, run_id) == "passed", 120)
        wait_until("both messages to be consumed and acked", both_messages_done, 60)
        wait_until("the sweeper to remove the expired run",
                   lambda: store.redis.zscore(keys.RUNS_INDEX, "ancient") is None
                   and not ancient.exists(), 60)  # fmt: skip
        assert store.redis.zscore(keys.project_runs("proj"), "ancient") is None
        assert store.redis.zscore(keys.RUNS_INDEX, run_id) is not None, "a live run stays"
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0, output
    assert_one_final(store, run_id, case_id)
