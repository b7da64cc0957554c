"""``run_case`` end to end: a real Redis (own server), real headless Chromium, local pages."""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
from collections import Counter
from typing import Any, cast

import pytest
import redis
from celery.signals import worker_process_shutdown
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from selenium.webdriver.remote.webdriver import WebDriver

from api.reports import html_report
from testfleet import keys
from testfleet.artifacts import open_store, screenshots, thumbnail_name
from testfleet.constants import RUN_CASE_TASK
from testfleet.errors import BrowserError
from testfleet.fleet.browser import load_provider
from testfleet.metrics.export import FleetCollector
from testfleet.settings import RedisSettings, Settings
from testfleet.store import RunStore
from tests.conftest import WorkerLauncher
from tests.fixtures_redis import redis_server
from tests.integration.workers.runcase import (
    SECRET,
    CountingProvider,
    Pages,
    create_run,
    events,
    execute,
    suite_doc,
)
from tests.waiting import wait_until
from workers.app import make_celery
from workers.tasks import MAX_BROWSER_RESTARTS, run_case

pytestmark = [pytest.mark.redis, pytest.mark.browser]


LOGIN_STEPS: list[dict[str, Any]] = [
    {"step_type": "navigate", "input_data": "/login"},
    {"step_type": "type", "selector": "#user", "input_data": "alice"},
    {"step_type": "type", "selector": "#pass", "input_data": SECRET, "secret": True},
    {"step_type": "click", "selector": "button[type=submit]"},
    {"step_type": "assert", "selector": "h1", "expected_result": "Welcome"},
    {"step_type": "screenshot", "name": "dashboard"},
]


def test_a_passing_case_publishes_every_step_then_one_final_event(
    store: RunStore, provider: CountingProvider, settings: Settings, base_url: str
) -> None:
    run_id, case_id = create_run(store, suite_doc(base_url, LOGIN_STEPS))
    result = execute(store, provider, settings, run_id, case_id)

    assert result is not None
    assert (result.status, result.attempts, result.error, result.failed_step) == (
        "passed",
        1,
        None,
        None,
    )
    assert [s.status for s in result.steps] == ["passed"] * 6
    assert result.worker == "tfworker-1@host:1"
    assert store.get_case(run_id, case_id) == result

    stream = events(store, run_id)
    assert [e["type"] for e in stream] == [
        "run_started",
        "test_started",
        *["test_progress"] * 6,
        "test_completed",
        "run_completed",
    ]
    started = stream[1]
    assert started["correlationId"] == case_id
    assert started["metadata"]["source"] == "tfworker-1@host:1"
    assert started["payload"] == {
        "testId": case_id,
        "testSuiteId": "Login",
        "testType": None,
        "name": "valid login",
        "attempt": 1,
        "tags": ["smoke"],
        "environment": "ci",
        "totalSteps": 6,
        "worker": "tfworker-1@host:1",
    }

    progress = [e["payload"] for e in stream[2:8]]
    assert [p["progress"]["stepNumber"] for p in progress] == [1, 2, 3, 4, 5, 6]
    assert [p["progress"]["percentage"] for p in progress] == [17, 33, 50, 67, 83, 100]
    assert {p["progress"]["totalSteps"] for p in progress} == {6}
    assert progress[4]["progress"]["currentStep"] == "assert text h1"
    durations = [p["progress"]["duration"] for p in progress]
    assert durations == sorted(durations)
    assert all(p["stepStatus"] == "passed" and p["stepDuration"] >= 0 for p in progress)
    assert [p["progress"]["screenshot"] for p in progress[:5]] == [None] * 5
    shot_url = progress[5]["progress"]["screenshot"]
    assert shot_url == f"/api/v1/runs/{run_id}/artifacts/{case_id}-a1-step06-dashboard.png"

    final = stream[8]["payload"]
    assert final["result"] == {"status": "passed", "error": None, "failedStep": None}
    assert final["attempts"] == 1
    assert final["duration"] >= 0
    assert final["artifacts"] == [
        f"/api/v1/runs/{run_id}/artifacts/{name}" for name in result.artifacts
    ]
    *shots, log_name = result.artifacts
    for name in shots:
        assert open_store(settings).read(run_id, name).startswith(b"\x89PNG")
    assert log_name == f"{case_id}.log"
    step_lines = open_store(settings).read(run_id, log_name).decode().splitlines()
    assert step_lines[0].startswith("Login > valid login: passed after 1 attempt(s) in ")
    assert step_lines[1].startswith("attempt 1 on tfworker-1@host:1: passed (")
    assert [line.split()[:2] for line in step_lines[2:] if line[:4].strip().endswith(".")] == [
        [f"{i}.", "passed"] for i in range(1, 7)
    ]
    assert "(+0 ms, " in step_lines[2], "each step line has its offset and duration"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_the_report_shows_the_thumbnails_the_worker_saved(
    store: RunStore, provider: CountingProvider, settings: Settings, base_url: str
) -> None:
    # Real worker output: a screenshot step and a failure screenshot, each with the
    # thumbnail the executor saved beside it; the report must pair them by name.
    steps = [*LOGIN_STEPS, {"step_type": "assert", "selector": "h1", "expected_result": "Bye",
                            "timeout_seconds": 0.3}]  # fmt: skip
    run_id, case_id = create_run(store, suite_doc(base_url, steps))
    result = execute(store, provider, settings, run_id, case_id)
    assert result is not None
    assert result.status == "failed"
    artifacts = open_store(settings)
    shots = screenshots(result.artifacts)
    assert len(shots) == 2, result.artifacts  # the dashboard step's and the failure's
    assert sorted(result.artifacts) == sorted([*shots, *map(thumbnail_name, shots),
                                               f"{case_id}.attempt-1.trace.zip",
                                               f"{case_id}.log"])  # fmt: skip
    run = store.get_run(run_id)
    assert run is not None
    page = html_report(run, artifacts)
    # The two pictures may be equal (same page): count each picture's uses.
    thumbs = Counter(b64(artifacts.read(run_id, thumbnail_name(shot))) for shot in shots)
    fulls = Counter(b64(artifacts.read(run_id, shot)) for shot in shots)
    for thumb, uses in thumbs.items():
        assert page.count(f'"><img src="data:image/png;base64,{thumb}"') == uses, "inline"
    for full, uses in fulls.items():
        assert page.count(full) == uses, "full size once each, behind its thumbnail"
    assert page.count('class="lightbox"') == 2
    assert page.count("<figure>") == 2, "no thumbnail shown as a screenshot of its own"
    assert "missing" not in page


def test_a_second_delivery_records_nothing(
    store: RunStore, provider: CountingProvider, settings: Settings, base_url: str
) -> None:
    run_id, case_id = create_run(store, suite_doc(base_url, LOGIN_STEPS[:1]))
    first = execute(store, provider, settings, run_id, case_id)
    before = events(store, run_id)
    second = execute(store, provider, settings, run_id, case_id)

    assert first is not None
    assert first.status == "passed"
    assert second is None
    assert events(store, run_id) == before
    finals = [e for e in before if e["type"] in ("test_completed", "test_failed")]
    assert len(finals) == 1
    assert provider.opened == 1, "the second delivery opened no browser"


def test_a_pass_on_retry_is_flaky(
    store: RunStore,
    provider: CountingProvider,
    settings: Settings,
    base_url: str,
    pages: Pages,
) -> None:
    pages.flaky_hits = 0
    steps: list[dict[str, Any]] = [
        {"step_type": "navigate", "input_data": "/flaky"},
        {
            "step_type": "assert",
            "selector": "h1",
            "expected_result": "Works",
            "timeout_seconds": 0.5,
        },
    ]
    run_id, case_id = create_run(store, suite_doc(base_url, steps, retry_count=2))
    result = execute(store, provider, settings, run_id, case_id)

    assert result is not None
    assert (result.status, result.attempts) == ("flaky", 2)
    assert [(h.attempt, h.status) for h in result.history] == [(1, "failed"), (2, "passed")]
    assert result.history[0].error == 'expected text of "h1" to contain "Works", got "Broken"'
    stream = events(store, run_id)
    starts = [e["payload"]["attempt"] for e in stream if e["type"] == "test_started"]
    assert starts == [1, 2]
    progress = [
        (
            e["payload"]["attempt"],
            e["payload"]["progress"]["stepNumber"],
            e["payload"]["stepStatus"],
        )
        for e in stream
        if e["type"] == "test_progress"
    ]
    assert progress == [(1, 1, "passed"), (1, 2, "failed"), (2, 1, "passed"), (2, 2, "passed")]
    final = stream[-2]
    assert final["type"] == "test_completed"
    assert final["payload"]["result"]["status"] == "flaky"
    assert provider.opened == 2


def test_a_failure_after_every_retry_is_failed_with_its_step(
    store: RunStore, provider: CountingProvider, settings: Settings, base_url: str
) -> None:
    steps: list[dict[str, Any]] = [
        {"step_type": "navigate", "input_data": "/dashboard"},
        {"step_type": "assert", "selector": "h1", "expected_result": "Bye", "timeout_seconds": 0.3},
    ]
    run_id, case_id = create_run(store, suite_doc(base_url, steps, retry_count=1))
    result = execute(store, provider, settings, run_id, case_id)

    assert result is not None
    assert (result.status, result.attempts, result.failed_step) == ("failed", 2, 2)
    assert result.error == 'expected text of "h1" to contain "Bye", got "Welcome, alice"'
    final = events(store, run_id)[-2]
    assert final["type"] == "test_failed"
    assert final["payload"]["result"] == {
        "status": "failed",
        "error": result.error,
        "failedStep": 2,
    }
    assert any("failure" in url for url in final["payload"]["artifacts"])


def test_a_browser_death_gets_a_new_session_without_using_a_retry(
    store: RunStore, settings: Settings, base_url: str
) -> None:
    provider = CountingProvider(settings, kill_first=True)
    run_id, case_id = create_run(store, suite_doc(base_url, LOGIN_STEPS[:1], retry_count=0))
    result = execute(store, provider, settings, run_id, case_id)

    assert result is not None
    assert (result.status, result.attempts) == ("passed", 2)
    assert [h.status for h in result.history] == ["error", "passed"]
    assert "browser session died" in (result.history[0].error or "")
    assert (provider.opened, provider.closed) == (2, 2)


class NoBrowsers:
    """A provider whose Grid has no free browser."""

    def __init__(self) -> None:
        self.tries = 0

    def open(self, project: str = "") -> WebDriver:
        self.tries += 1
        raise BrowserError("no browser from the Grid within 60 s")

    def close(self, driver: WebDriver) -> None:
        raise AssertionError("nothing was opened")


def test_no_browser_at_all_ends_in_error_after_bounded_tries(
    store: RunStore, settings: Settings, base_url: str
) -> None:
    provider = NoBrowsers()
    run_id, case_id = create_run(store, suite_doc(base_url, LOGIN_STEPS[:2], retry_count=3))
    result = run_case(store, provider, open_store(settings), settings, run_id, case_id, "w")
    assert result is not None
    assert (result.status, result.attempts) == ("error", 1 + MAX_BROWSER_RESTARTS)
    assert result.error == "could not open a browser: no browser from the Grid within 60 s"
    assert [s.status for s in result.steps] == ["skipped", "skipped"]
    assert provider.tries == 1 + MAX_BROWSER_RESTARTS


def test_a_case_past_its_time_limit_stops_with_an_error(
    store: RunStore, provider: CountingProvider, settings: Settings, base_url: str
) -> None:
    settings.worker.case_timeout_s = 3
    steps: list[dict[str, Any]] = [
        {"step_type": "navigate", "input_data": "/dashboard"},
        {"step_type": "wait", "input_data": "30"},
        {"step_type": "navigate", "input_data": "/login"},
    ]
    run_id, case_id = create_run(store, suite_doc(base_url, steps))
    result = execute(store, provider, settings, run_id, case_id)

    assert result is not None
    assert result.status == "error"
    assert result.error is not None
    assert result.error.startswith("the test case exceeded its time limit of 3 s")
    # Where the limit falls depends on how fast the browser opens (a loaded machine may
    # spend the 3 s before the first step); what holds either way: the step after the
    # wait never ran, and the 30 s wait, if it began, was cut short.
    assert result.steps[-1].status == "skipped"
    assert all(s.duration_ms < 30_000 for s in result.steps)
    assert events(store, run_id)[-2]["type"] == "test_failed"


def test_cancel_stops_a_running_case_at_the_next_step(
    store: RunStore,
    provider: CountingProvider,
    settings: Settings,
    base_url: str,
    pages: Pages,
) -> None:
    steps = [
        {"step_type": "navigate", "input_data": "/hook"},
        {"step_type": "click", "selector": "#b"},
        {"step_type": "click", "selector": "#b"},
    ]
    run_id, case_id = create_run(store, suite_doc(base_url, steps))
    # The cancel arrives while the browser loads the first page.
    pages.on_fetch["/hook"] = lambda: store.cancel_run(run_id)
    result = execute(store, provider, settings, run_id, case_id)

    assert result is not None
    assert result.status == "cancelled"
    assert [s.status for s in result.steps] == ["passed", "skipped", "skipped"]
    types = [e["type"] for e in events(store, run_id)]
    assert types == [
        "run_started",
        "test_started",
        "test_progress",
        "test_cancelled",
        "run_completed",
    ]
    run = store.get_run(run_id)
    assert run is not None
    assert run.status == "cancelled"


def test_a_case_of_a_cancelled_run_is_cancelled_without_a_browser(
    store: RunStore, provider: CountingProvider, settings: Settings, base_url: str
) -> None:
    run_id, case_id = create_run(store, suite_doc(base_url, LOGIN_STEPS[:1]))
    # The run was cancelled while this case's first delivery ran it (now redelivered).
    store.redis.hset(keys.run(run_id), "cancelled", "1")
    result = execute(store, provider, settings, run_id, case_id)

    assert result is not None
    assert result.status == "cancelled"
    assert provider.opened == 0
    assert [e["type"] for e in events(store, run_id)][-2:] == ["test_cancelled", "run_completed"]


def test_secrets_never_reach_the_stream_or_the_stored_result(
    store: RunStore, provider: CountingProvider, settings: Settings, base_url: str
) -> None:
    steps = [
        *LOGIN_STEPS[:3],
        {
            "step_type": "assert",
            "selector": "#pass",
            "expected_result": "nope",
            "timeout_seconds": 0.3,
            "continue_on_failure": True,
        },
        {
            "step_type": "custom",
            "name": f"log in as alice/{SECRET}",
            "input_data": "document.querySelector('form').requestSubmit(); return true",
        },
        {
            "step_type": "assert",
            "selector": "#err",
            "expected_result": "nothing",
            "timeout_seconds": 0.3,
            "is_optional": True,
        },
    ]
    doc = suite_doc(base_url, steps)
    run_id, case_id = create_run(store, doc)
    result = execute(store, provider, settings, run_id, case_id)

    assert result is not None
    assert result.status == "failed"
    assert result.error is not None
    assert "***" in result.error
    client = store.redis
    entries = cast(list[Any], client.xrange(keys.EVENTS_STREAM))
    entries += cast(list[Any], client.xrange(keys.run_events(run_id)))
    dumped = json.dumps(entries) + json.dumps(client.hgetall(keys.run_cases(run_id)))
    dumped += json.dumps(client.hgetall(keys.run(run_id)))
    assert len(entries) > 10
    assert SECRET not in dumped
    assert client.hget(keys.run_specs(run_id), case_id) is None, "a final case's spec is gone"
    step_log = open_store(settings).read(run_id, f"{case_id}.log").decode()
    assert f"{case_id}.log" in result.artifacts
    assert "log in as alice/***" in step_log
    assert "failed" in step_log
    assert SECRET not in step_log


def test_a_redis_outage_leaves_the_case_unfinished_and_raises(
    provider: CountingProvider, settings: Settings, base_url: str, pages: Pages
) -> None:
    with redis_server() as url:
        own = settings.model_copy(update={"redis": RedisSettings(url=url)})
        store = RunStore.connect(own)
        run_id, case_id = create_run(
            store,
            suite_doc(
                base_url,
                [
                    {"step_type": "navigate", "input_data": "/hook"},
                    {"step_type": "click", "selector": "#b"},
                ],
            ),
        )
        # Redis goes away while the browser loads the first page.
        stopped = threading.Event()

        def stop_redis() -> None:
            store.redis.shutdown(nosave=True)
            stopped.set()

        pages.on_fetch["/hook"] = stop_redis
        with pytest.raises(redis.ConnectionError):
            execute(store, provider, own, run_id, case_id)
        assert stopped.is_set()


def test_the_celery_task_runs_the_case_without_a_broker(
    store: RunStore, settings: Settings, base_url: str
) -> None:
    app = make_celery(settings)
    conf = app.conf
    assert conf.task_acks_late
    assert conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["unacked_restore_interval"] == 1.0
    assert conf.broker_transport_options["visibility_timeout"] == settings.worker.lease_s
    assert conf.task_routes[RUN_CASE_TASK] == {"queue": "testfleet"}
    run_id, case_id = create_run(store, suite_doc(base_url, LOGIN_STEPS[:1]))

    try:
        outcome = app.tasks[RUN_CASE_TASK].apply(args=(run_id, case_id))
    finally:
        # What a pool child does as it exits: quit this process's pooled browser.
        worker_process_shutdown.send(sender=None, pid=os.getpid(), exitcode=0)

    assert outcome.get() == "passed"
    case = store.get_case(run_id, case_id)
    assert case.status == "passed"
    assert case.worker is not None
    assert case.worker.startswith("worker@")


@pytest.mark.slow
def test_a_real_worker_takes_critical_cases_first_and_drains_on_sigterm(
    store: RunStore, settings: Settings, base_url: str, start_worker: WorkerLauncher
) -> None:
    bulk_run, bulk = create_run(
        store,
        suite_doc(base_url, [
            {"step_type": "navigate", "input_data": "/dashboard"},
            {"step_type": "wait", "input_data": "2"},
        ]),
    )  # fmt: skip
    critical_run, critical = create_run(store, suite_doc(base_url, LOGIN_STEPS[:1]))
    sender = make_celery(settings)
    # Queued before any worker runs: the critical case, sent last, must start first.
    sender.send_task(RUN_CASE_TASK, args=(bulk_run, bulk), priority=9)
    sender.send_task(RUN_CASE_TASK, args=(critical_run, critical), priority=0)
    sender.close()

    worker = start_worker(settings, 1, "tfworker-7")
    try:
        wait_until("the bulk case to run", lambda: store.get_case(bulk_run, bulk).is_final
                 or store.get_case(bulk_run, bulk).status == "running", 60)  # fmt: skip
        worker.send_signal(signal.SIGTERM)  # warm shutdown while the bulk case runs
        output, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0, output
    first, second = store.get_case(critical_run, critical), store.get_case(bulk_run, bulk)
    assert (first.status, second.status) == ("passed", "passed"), output
    assert (first.started_ms or 0) < (second.started_ms or 0)
    assert second.worker is not None
    assert second.worker.startswith("tfworker-7@")


def fleet_samples(settings: Settings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The fleet metrics as the API's /metrics renders them, parsed back."""
    registry = CollectorRegistry()
    client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
    registry.register(FleetCollector(client, settings))
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def test_the_pool_and_the_steps_reach_the_fleet_metrics(
    store: RunStore, settings: Settings, base_url: str
) -> None:
    settings.grid.pool_size, settings.grid.pool_max_uses = 1, 2
    store.redis.flushdb()
    pool = load_provider(settings)
    try:
        # pool_max_uses 2: a new session, the same one reset and lent, then recycled: new.
        for _ in range(3):
            run_id, case_id = create_run(store, suite_doc(base_url, LOGIN_STEPS[:3]))
            result = run_case(store, pool, open_store(settings), settings, run_id, case_id, "w")
            assert result is not None
            assert result.status == "passed"
    finally:
        pool.shutdown()
    got = fleet_samples(settings)

    def value(name: str, **labels: str) -> float:
        return got.get((name, tuple(sorted(labels.items()))), 0.0)

    # Exact counts depend on whether a reset passed its health check (a loaded machine can
    # fail one: then the session is replaced), so check what must hold either way.
    opened = value("testfleet_sessions_opened_total")
    assert opened >= 2, "the first session, and one after a recycle or a replacement"
    assert opened == value("testfleet_session_start_seconds_count", kind="new")
    assert value("testfleet_pool_resets_total", result="ok") == value(
        "testfleet_session_start_seconds_count", kind="pooled"
    )
    replaced = value("testfleet_pool_replacements_total", reason="failed_check")
    assert replaced == value("testfleet_pool_resets_total", result="failed")
    assert replaced + value("testfleet_pool_replacements_total", reason="recycled") >= 1
    assert opened + value("testfleet_pool_resets_total", result="ok") >= 3
    assert got[("testfleet_case_duration_seconds_count", (("status", "passed"),))] == 3
    assert got[("testfleet_case_duration_seconds_count", (("status", "failed"),))] == 0
    assert got[("testfleet_step_duration_seconds_count", (("action", "navigate"),))] == 3
    assert got[("testfleet_runs", (("status", "passed"),))] == 3
    assert got[("testfleet_grid_up", ())] == 0, "no Grid in this test: reported, not raised"
