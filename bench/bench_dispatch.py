"""Dispatch: queueing 1,000 cases, and Redis memory over 1,000 runs with retention.

Queueing is what ``POST /runs`` does after the suite parsed: plan the run
(``plan_run``), record it (``RunStore.create_run``, one pipeline) and send one
Celery task per case (``Dispatcher.dispatch``, kombu publish batches). The
baseline does the same but sends each case with a plain ``send_task`` (one
Redis round trip each), as a naive Celery client would. Both run on a fresh
redis-server of their own, best of ``TRIALS``.

Memory: 1,000 runs of 5 cases each, every case finished (6 events per case and
run), with a simulated clock (one run a second) and ``run_ttl_s`` of 100 s: the
sweep (``retention.sweep``, every 50 runs) keeps ~100-150 runs, while without
it every run stays until Redis expires it. ``INFO memory used_memory`` is
sampled every 100 runs. The global stream is capped by ``redis.stream_maxlen``
in both (set to 5,000 entries here), so the difference is the sweep's. What
remains with the sweep is the capped global stream (~1.7 MB here), the ~150
kept runs, and the allocator settling (flat after ~700 runs).

``TESTFLEET_BENCH_QUICK=1``: one trial and 300 runs, for a quick check.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from celery import Celery

from api.dispatch import Dispatcher, plan_run
from bench.common import ratio, verdict
from testfleet.artifacts import ArtifactStore, FileStore
from testfleet.constants import RUN_CASE_TASK
from testfleet.events import Event
from testfleet.fleet.broker import queue_lists, transport_options
from testfleet.results import PRIORITY_LEVELS, CaseResult
from testfleet.settings import Settings
from testfleet.store import RunStore
from testfleet.store.retention import sweep
from testfleet.suites.model import Suite
from tests.fixtures_redis import redis_server

TITLE = "Dispatch: 1,000 cases queued, Redis memory bounded by retention"

QUICK = os.environ.get("TESTFLEET_BENCH_QUICK") == "1"
CASES = 1000
TRIALS = 1 if QUICK else 3
RUNS = 300 if QUICK else 1000
CASES_PER_RUN = 5
RUN_TTL_S = 100
SWEEP_EVERY = 50
SAMPLE_EVERY = 100
STREAM_MAXLEN = 5000


def _suite(n: int) -> Suite:
    tests = [
        {
            "name": f"test {i}",
            "priority": ("low", "medium", "high")[i % 3],
            "steps": [
                {"order_index": 1, "step_type": "navigate", "input_data": "/login"},
                {"order_index": 2, "step_type": "click", "selector": "#go"},
            ],
        }
        for i in range(n)
    ]
    return Suite.model_validate({"name": "Bulk", "base_url": "http://127.0.0.1:1", "tests": tests})


def _started(store: RunStore, run_id: str, total: int) -> Event:
    return Event("run_started", run_id, "bench", {"total": total}, source=store.source)


def _queue_once(settings: Settings, suite: Suite, naive: bool, trial: int) -> float:
    """Seconds to plan, record and send one run of ``len(suite.tests)`` cases."""
    store = RunStore.connect(settings, source="bench")
    dispatcher = Dispatcher(settings)
    plain = Celery("bench-naive", broker=settings.redis.url, set_as_current=False)
    plain.conf.update(broker_transport_options=transport_options(settings))
    try:
        dispatcher.dispatch([])  # connect before the clock starts, as a running API has
        plain.send_task(RUN_CASE_TASK, args=("warm", "up"), queue=settings.worker.queue)
        run_id = f"{'naive' if naive else 'batched'}-{trial}"
        started = time.perf_counter()
        record, cases, specs = plan_run(run_id, "bench", [suite], set(), "bulk")
        store.create_run(record, cases, specs, _started(store, run_id, len(cases)))
        if naive:
            for case in cases:
                plain.send_task(
                    RUN_CASE_TASK,
                    args=(case.run_id, case.case_id),
                    task_id=case.case_id,
                    queue=settings.worker.queue,
                    priority=PRIORITY_LEVELS[case.priority],
                )
        else:
            dispatcher.dispatch(cases)
        elapsed = time.perf_counter() - started
        queued = sum(int(store.redis.llen(name)) for name in queue_lists(settings.worker.queue))
        if queued < len(cases):
            raise RuntimeError(f"only {queued} of {len(cases)} tasks reached the queue")
        store.redis.flushdb()
        return elapsed
    finally:
        dispatcher.close()
        plain.close()
        store.redis.close()


def _finish_all(store: RunStore, cases: list[CaseResult], now: int) -> None:
    for case in cases:
        store.begin_case(case.run_id, case.case_id)
        done = case.model_copy(update={"status": "passed", "finished_ms": now})
        event = Event(
            "test_completed",
            case.run_id,
            "bench",
            {"testId": case.case_id, "result": {"status": "passed"}},
            correlation_id=case.case_id,
            source="bench",
            timestamp_ms=now,
        )
        store.finish_case(done, event)


def _memory_curve(settings: Settings, artifacts: ArtifactStore, with_sweep: bool) -> list[int]:
    """``used_memory`` (bytes) after every ``SAMPLE_EVERY`` runs."""
    store = RunStore.connect(settings, source="bench")
    client = store.redis
    client.flushdb()
    suite = _suite(CASES_PER_RUN)
    start_ms = int(time.time() * 1000) - RUNS * 1000
    samples: list[int] = []
    try:
        for i in range(1, RUNS + 1):
            now = start_ms + i * 1000
            run_id = f"mem-{i:05d}"
            record, cases, specs = plan_run(run_id, "bench", [suite], set(), "m", created_ms=now)
            store.create_run(record, cases, specs, _started(store, run_id, len(cases)))
            _finish_all(store, cases, now)
            if with_sweep and i % SWEEP_EVERY == 0:
                sweep(client, settings, artifacts, now_ms=now)
            if i % SAMPLE_EVERY == 0:
                info: dict[str, Any] = client.info("memory")
                samples.append(int(info["used_memory"]))
        return samples
    finally:
        client.close()


def run(settings: Settings) -> dict[str, Any]:
    suite = _suite(CASES)
    with redis_server() as url, tempfile.TemporaryDirectory() as tmp:
        local = settings.model_copy(
            update={
                "redis": settings.redis.model_copy(
                    update={"url": url, "stream_maxlen": STREAM_MAXLEN}
                ),
                "retention": settings.retention.model_copy(update={"run_ttl_s": RUN_TTL_S}),
            }
        )
        batched = min(_queue_once(local, suite, False, t) for t in range(TRIALS))
        naive = min(_queue_once(local, suite, True, t) for t in range(TRIALS))
        kept = _memory_curve(local, FileStore(Path(tmp)), with_sweep=True)
        unswept = _memory_curve(local, FileStore(Path(tmp)), with_sweep=False)
    # Bounded: the second half of the run adds (almost) nothing with the sweep.
    half = len(kept) // 2
    growth = ratio(kept[-1], kept[max(0, half - 1)])
    return {
        "cases": CASES,
        "queue_1000_s": round(batched, 3),
        "naive_queue_1000_s": round(naive, 3),
        "speedup_vs_naive": ratio(naive, batched),
        "runs": RUNS,
        "used_memory_swept_bytes": kept,
        "used_memory_unswept_bytes": unswept,
        "memory_growth_second_half": growth,
        "memory_vs_unswept": ratio(kept[-1], unswept[-1]),
        "quick": QUICK,
    }


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    kept = figures["used_memory_swept_bytes"]
    unswept = figures["used_memory_unswept_bytes"]
    queue_s = figures["queue_1000_s"]
    growth = figures["memory_growth_second_half"]
    swept = f"Redis used_memory after {figures['runs']} runs, swept (MB)"
    return [
        ("queue 1,000 cases (s)", f"{queue_s:.3f}", f"<= 1 s: {verdict(queue_s <= 1.0)}"),
        ("naive per-case send (s)", f"{figures['naive_queue_1000_s']:.3f}", "baseline"),
        ("speedup vs naive", f"{figures['speedup_vs_naive']}x", "> 1"),
        (swept, f"{kept[-1] / 1e6:.2f}", "bounded"),
        ("  same, no sweep (MB)", f"{unswept[-1] / 1e6:.2f}", "baseline"),
        ("  swept growth over the 2nd half", f"{growth}x", f"<= 1.2x: {verdict(growth <= 1.2)}"),
    ]
