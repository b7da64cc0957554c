"""Traces through the real task: ``run_case`` on real Redis and headless Chromium, on a page
that logs, throws, fetches a missing resource, gets a 500, and sends a password it was
typed in a URL (tests/evidence_site.py). What each trace mode stores, and what a stored
trace holds: console lines, HAR entries with statuses and the failure reason, snapshots
with the page's text and form state, and no secret anywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from testfleet.artifacts import open_store
from testfleet.evidence.tracezip import read_manifest, read_members
from testfleet.results import CaseResult
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.evidence_site import evidence_site
from tests.integration.workers.runcase import CountingProvider, create_run, events, execute

pytestmark = [pytest.mark.redis, pytest.mark.browser]

SECRET = "wonderland-7Hq2"

SAVE_STEPS: list[dict[str, Any]] = [
    {"step_type": "navigate", "input_data": "/app"},
    {"step_type": "type", "selector": "#user", "input_data": "alice"},
    {"step_type": "type", "selector": "#pass", "input_data": SECRET, "secret": True},
    {"step_type": "check", "selector": "#agree"},
    {"step_type": "click", "selector": "#go"},
    {"step_type": "assert", "selector": "#status", "expected_result": "saved"},
]
PASSING_STEPS: list[dict[str, Any]] = [
    {"step_type": "navigate", "input_data": "/app"},
    {"step_type": "type", "selector": "#user", "input_data": "alice"},
    {"step_type": "assert", "selector": "h1", "expected_result": "Order form"},
]


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with evidence_site() as url:
        yield url


def suite(base_url: str, steps: list[dict[str, Any]], **test: Any) -> dict[str, Any]:
    return {
        "name": "Orders",
        "base_url": base_url,
        "timeout_seconds": 1.5,
        "tests": [
            {
                "name": "saves an order",
                "steps": [{"order_index": i, **s} for i, s in enumerate(steps, 1)],
                **test,
            }
        ],
    }


def run(
    store: RunStore, provider: CountingProvider, settings: Settings, document: dict[str, Any]
) -> tuple[CaseResult, dict[int, bytes]]:
    """Run the case; its result and the stored traces by attempt."""
    run_id, case_id = create_run(store, document)
    result = execute(store, provider, settings, run_id, case_id)
    assert result is not None
    artifacts = open_store(settings)
    traces = {
        h.attempt: artifacts.read(run_id, h.trace) for h in result.history if h.trace is not None
    }
    assert sorted(n for n in result.artifacts if n.endswith(".trace.zip")) == sorted(
        h.trace for h in result.history if h.trace
    ), "every stored trace is one of the case's artifacts"
    return result, traces


def test_a_failing_tests_trace_explains_the_failure_and_keeps_the_secret(
    store: RunStore, provider: CountingProvider, settings: Settings, site: str
) -> None:
    result, traces = run(store, provider, settings, suite(site, SAVE_STEPS))
    assert (result.status, result.failed_step) == ("failed", 6)
    assert list(traces) == [1]
    assert result.history[0].trace == f"{result.case_id}.attempt-1.trace.zip"
    members = read_members(traces[1])
    for name, data in members.items():
        assert SECRET.encode() not in data, f"the secret is in {name}"

    manifest = read_manifest(traces[1])
    assert (manifest["version"], manifest["attempt"], manifest["status"]) == (1, 1, "failed")
    assert manifest["mode"] == "retain-on-failure"
    steps = manifest["steps"]
    assert [s["status"] for s in steps] == ["passed"] * 5 + ["failed"]
    failing = steps[5]
    assert "saved" in failing["error"]
    assert failing["snapshotBefore"] == "snapshots/006-before.html"
    assert failing["snapshotAfter"] == "snapshots/006-after.html"
    assert failing["screenshot"] in members
    assert all(s["startedAt"] <= s["endedAt"] for s in steps)
    # retain-on-failure: no snapshot per passing step
    assert [s["snapshotAfter"] for s in steps[:5]] == [None] * 5

    before = members["snapshots/006-before.html"].decode()
    assert "server error 500" in before, "the page's text at the failure"
    assert 'value="alice"' in before
    assert 'id="agree" type="checkbox" checked=""' in before
    assert 'data-tf-masked="password"' in before
    assert '<template shadowrootmode="open"><b>in the shadow</b></template>' in before
    assert "inside the frame" in before.split('id="inner"')[1], "the frame's document, inlined"
    assert "<script" not in before
    assert "onclick" not in before
    assert before.index('http-equiv="Content-Security-Policy"') < before.index("<title>")

    console = [json.loads(line) for line in members["console.jsonl"].decode().splitlines()]
    texts = {line["text"]: line for line in console}
    assert texts["hello from the page 42"]["level"] == "info"
    assert texts["save failed: the backend said no"]["level"] == "error"
    assert texts["save failed: the backend said no"]["step"] == 5, "logged by the click"
    assert texts["Uncaught Error: uncaught boom"]["source"] == "javascript"
    assert "token is ***" in texts

    har = json.loads(members["trace.har"])["log"]
    requests = {
        (e["request"]["method"], e["request"]["url"].removeprefix(site).split("?")[0]): e
        for e in har["entries"]
    }
    assert requests[("GET", "/app")]["response"]["status"] == 200
    assert requests[("GET", "/missing.json")]["response"]["status"] == 404
    save = requests[("POST", "/api/save")]
    assert (save["response"]["status"], save["_step"]) == (500, 5)
    assert requests[("GET", "/api/echo")]["request"]["queryString"][0]["value"] == "***"
    counts = manifest["counts"]
    assert counts["failedRequests"] >= 2
    assert counts["consoleErrors"] >= 3
    assert steps[4]["consoleErrors"] >= 1

    # The live counts came with the failing step's progress.
    progress = [e["payload"] for e in events(store, result.run_id) if e["type"] == "test_progress"]
    assert progress[-1]["consoleErrors"] >= 3
    assert progress[-1]["failedRequests"] >= 2
    assert progress[0]["consoleErrors"] == 0, "retain-on-failure reads no log per passing step"


def test_retain_on_failure_stores_nothing_for_a_passing_test(
    store: RunStore, provider: CountingProvider, settings: Settings, site: str
) -> None:
    result, traces = run(store, provider, settings, suite(site, PASSING_STEPS))
    assert (result.status, traces) == ("passed", {})


def test_on_stores_a_passing_tests_trace_with_a_snapshot_after_every_step(
    store: RunStore, provider: CountingProvider, settings: Settings, site: str
) -> None:
    steps = [
        *PASSING_STEPS[:2],
        {"step_type": "click", "selector": "#go"},
        {"step_type": "assert", "selector": "#status", "expected_result": "server error"},
    ]
    result, traces = run(store, provider, settings, suite(site, steps, trace="on"))
    assert (result.status, list(traces)) == ("passed", [1])
    manifest = read_manifest(traces[1])
    assert [s["snapshotAfter"] for s in manifest["steps"]] == [
        f"snapshots/{i:03d}-after.html" for i in (1, 2, 3, 4)
    ]
    after_typing = read_members(traces[1])["snapshots/002-after.html"].decode()
    assert 'value="alice"' in after_typing
    # Every after-snapshot but the last rode on the next step's engine call.
    after_click = read_members(traces[1])["snapshots/003-after.html"].decode()
    assert 'value="alice"' in after_click
    assert "Order form" in after_click
    counts = manifest["counts"]
    assert counts["consoleErrors"] >= 2  # console.error and the uncaught error, at least
    assert manifest["steps"][2]["consoleErrors"] >= 1, "console.error ran in the click"


def test_on_leaves_a_dialog_for_the_step_that_answers_it(
    store: RunStore, provider: CountingProvider, settings: Settings, site: str
) -> None:
    steps = [
        {"step_type": "navigate", "input_data": "/app"},
        {"step_type": "click", "selector": "#ask"},
        {"step_type": "wait", "input_data": "0.1"},
        {"step_type": "dialog", "mode": "accept", "expected_result": "Sure?"},
        {"step_type": "assert", "selector": "#status", "expected_result": "yes"},
    ]
    result, traces = run(store, provider, settings, suite(site, steps, trace="on"))
    assert (result.status, result.error) == ("passed", None)
    after = [s["snapshotAfter"] for s in read_manifest(traces[1])["steps"]]
    assert after[1:3] == [None, None], "no script while the dialog is open"
    assert [after[i] for i in (0, 3, 4)] == [f"snapshots/{n:03d}-after.html" for n in (1, 4, 5)]


def test_off_stores_no_trace(
    store: RunStore, provider: CountingProvider, settings: Settings, site: str
) -> None:
    document = suite(site, SAVE_STEPS, trace="off")
    result, traces = run(store, provider, settings, document)
    assert (result.status, traces) == ("failed", {})


def test_on_first_retry_stores_only_the_second_attempt_and_the_suite_mode_applies(
    store: RunStore, provider: CountingProvider, settings: Settings, site: str
) -> None:
    document = {**suite(site, SAVE_STEPS, retry_count=2), "trace": "on-first-retry"}
    result, traces = run(store, provider, settings, document)
    assert (result.status, result.attempts, list(traces)) == ("failed", 3, [2])
    assert read_manifest(traces[2])["attempt"] == 2


def test_retain_on_failure_keeps_each_failed_attempt(
    store: RunStore, provider: CountingProvider, settings: Settings, site: str
) -> None:
    result, traces = run(store, provider, settings, suite(site, SAVE_STEPS, retry_count=1))
    assert list(traces) == [1, 2]
    assert [h.trace for h in result.history] == [
        f"{result.case_id}.attempt-{n}.trace.zip" for n in (1, 2)
    ]
