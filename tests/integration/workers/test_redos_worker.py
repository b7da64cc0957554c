"""A ``matches`` pattern that backtracks for ever, on a real worker: the case fails in
bounded time with a message saying why, and the worker goes on to the next case.

Real Redis, a real ``testfleet worker`` process (Celery, prefork pool) driving real
headless Chromium through the local provider, a page whose text is 60 ``a`` and a
``!``. Before the fix the pool child sat in Python's ``re`` until the hard time limit
(17 min) and the case was then delivered again.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from api.dispatch import Dispatcher, plan_run
from testfleet.events import Event
from testfleet.results import RunResult
from testfleet.settings import Settings
from testfleet.store import RunStore
from testfleet.suites.loader import load_document
from testfleet.suites.steps.compare import MATCH_TIMEOUT_S
from tests.conftest import WorkerLauncher
from tests.fixtures_pages import page_server
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.browser, pytest.mark.slow]

TEXT = "a" * 60 + "!"
PAGE = f"<!doctype html><html><body><p id='t'>{TEXT}</p></body></html>"
RUN_S = 180
"""Deadline for a run of a few short cases on one worker (a loaded 2-core machine)."""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with page_server({"/": PAGE}) as url:
        yield url


def queue(settings: Settings, base_url: str, tests: list[list[dict[str, Any]]]) -> str:
    """Record and dispatch a run (one test per steps list) as the API does; its id."""
    document = {
        "name": "Patterns",
        "base_url": base_url,
        "timeout_seconds": 3,
        "tests": [{"name": f"case {i}", "steps": steps} for i, steps in enumerate(tests)],
    }
    run_id = "r" + uuid.uuid4().hex[:12]
    record, cases, specs = plan_run(run_id, "proj", [load_document(document, {})], set(), "t")
    store = RunStore.connect(settings, source="test")
    try:
        payload = {"runId": run_id, "total": len(cases)}
        started = Event("run_started", run_id, "proj", payload, correlation_id=run_id)
        store.create_run(record, cases, specs, started)
    finally:
        store.redis.close()
    dispatcher = Dispatcher(settings)
    try:
        assert dispatcher.dispatch(cases) == len(cases)
    finally:
        dispatcher.close()
    return run_id


def finished(store: RunStore, run_id: str) -> RunResult:
    def done() -> RunResult | None:
        run = store.get_run(run_id)
        return run if run is not None and run.finishedMs is not None else None

    return wait_until(f"run {run_id} to complete", done, RUN_S)


def test_a_backtracking_pattern_fails_its_case_and_the_worker_runs_the_next(
    settings: Settings, base_url: str, start_worker: WorkerLauncher
) -> None:
    store = RunStore.connect(settings, source="test")
    worker = start_worker(settings, 1, "tfworker-redos")
    try:
        reported = [{"navigate": "/"}, {"assert_text": {"selector": "#t", "matches": r"^(a+)+$"}}]
        slow = [{"navigate": "/"}, {"assert_text": {"selector": "#t", "matches": r"^(a|aa)+$"}}]
        run_id = queue(settings, base_url, [reported, slow])
        run = finished(store, run_id)
        first, second = sorted(run.tests, key=lambda t: t.case_id)
        # The reported pattern: answered at once (no match), like any other mismatch.
        assert first.status == "failed", first.error
        assert "to match /^(a+)+$/" in (first.error or "")
        # One exponential for any backtracking engine: cut off, with how to fix it.
        assert second.status == "failed", second.error
        took = f"the regular expression /^(a|aa)+$/ took longer than {MATCH_TIMEOUT_S:g} s"
        assert took in (second.error or "")
        assert "anchor it and avoid nested or overlapping quantifiers" in (second.error or "")
        assert [t.attempts for t in run.tests] == [1, 1], "each delivered once"

        # The same worker process, healthy, runs the next case.
        plain = [{"navigate": "/"}, {"assert_text": {"selector": "#t", "contains": "a!"}}]
        after = queue(settings, base_url, [plain])
        nxt = finished(store, after)
        assert [t.status for t in nxt.tests] == ["passed"], [t.error for t in nxt.tests]
        assert worker.poll() is None, "the worker lives on"
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output
    finally:
        store.redis.close()
