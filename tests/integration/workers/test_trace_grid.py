"""Traces through a real Selenium Grid (hub and node, router credentials, egress proxy)
and the session pool: the logs are read through the router, a pooled session's next
test sees none of the previous test's console lines or requests, and no session asks
for WebDriver BiDi (the router would open its socket without credentials)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grid.pool import SessionPool
from grid.provider import GridProvider
from testfleet.artifacts import open_store
from testfleet.evidence.tracezip import read_manifest, read_members
from testfleet.settings import RedisSettings, Settings
from testfleet.store import RunStore
from tests.evidence_site import evidence_site
from tests.fixtures_grid import grid_leftovers, grid_test_settings, running_grid
from tests.integration.workers.runcase import create_run
from workers.tasks import run_case

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser]

SECRET = "wonderland-7Hq2"


@pytest.fixture(scope="module")
def grid_settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    base: Path = tmp_path_factory.mktemp("trace-grid")
    settings = grid_test_settings(base, max_sessions=1, pool_size=1)
    paths = settings.paths.model_copy(update={"artifacts_dir": base / "artifacts"})
    settings = settings.model_copy(update={"redis": RedisSettings(url=redis_url), "paths": paths})
    with running_grid(settings):
        yield settings
    assert grid_leftovers(settings) == []


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with evidence_site() as url:
        yield url


def suite(base_url: str, name: str, steps: list[dict[str, Any]], **test: Any) -> dict[str, Any]:
    return {
        "name": "Orders",
        "base_url": base_url,
        "timeout_seconds": 1.5,
        "tests": [
            {
                "name": name,
                "steps": [{"order_index": i, **s} for i, s in enumerate(steps, 1)],
                **test,
            }
        ],
    }


def test_traces_through_the_grid_and_a_pooled_session_starts_with_empty_logs(
    grid_settings: Settings, site: str
) -> None:
    store = RunStore.connect(grid_settings, source="test")
    pool = SessionPool(GridProvider(grid_settings), grid_settings)
    artifacts = open_store(grid_settings)
    failing = [
        {"step_type": "navigate", "input_data": "/app"},
        {"step_type": "type", "selector": "#pass", "input_data": SECRET, "secret": True},
        {"step_type": "click", "selector": "#go"},
        {"step_type": "assert", "selector": "#status", "expected_result": "saved"},
    ]
    leaving = [
        {"step_type": "navigate", "input_data": "/app"},
        {"step_type": "click", "selector": "#go"},
        {"step_type": "assert", "selector": "#status", "expected_result": "server error"},
    ]
    passing = [{"step_type": "navigate", "input_data": "/nothing-here"}]
    try:
        run_id, case_id = create_run(store, suite(site, "fails", failing))
        first = run_case(store, pool, artifacts, grid_settings, run_id, case_id, "w:1")
        assert first is not None
        assert first.status == "failed"
        trace_name = first.history[0].trace
        assert trace_name is not None
        members = read_members(artifacts.read(run_id, trace_name))
        assert all(SECRET.encode() not in data for data in members.values())
        console = members["console.jsonl"].decode()
        assert "save failed: the backend said no" in console
        har = json.loads(members["trace.har"])["log"]["entries"]
        assert {(e["request"]["method"], e["response"]["status"]) for e in har} >= {
            ("POST", 500),
            ("GET", 404),
        }
        assert "server error 500" in members["snapshots/004-before.html"].decode()

        # A passing test under retain-on-failure reads no log: it leaves its lines behind.
        run_id, case_id = create_run(store, suite(site, "leaves lines", leaving))
        leaver = run_case(store, pool, artifacts, grid_settings, run_id, case_id, "w:1")
        assert leaver is not None
        assert (leaver.status, leaver.history[0].trace) == ("passed", None)

        run_id, case_id = create_run(store, suite(site, "passes", passing, trace="on"))
        second = run_case(store, pool, artifacts, grid_settings, run_id, case_id, "w:1")
        assert second is not None
        assert pool.stats.lent_reused == 2, "each test ran in the first one's session"
        trace = artifacts.read(run_id, str(second.history[0].trace))
        console = read_members(trace)["console.jsonl"].decode()
        assert "save failed" not in console, "the reset emptied the console log"
        urls = [
            e["request"]["url"]
            for e in json.loads(read_members(trace)["trace.har"])["log"]["entries"]
        ]
        assert not any("/api/" in url for url in urls), urls
        assert read_manifest(trace)["counts"]["failedRequests"] >= 1  # /nothing-here: 404

        driver = pool.open()
        try:
            assert "webSocketUrl" not in driver.capabilities
        finally:
            pool.close(driver)
    finally:
        pool.shutdown()
        store.redis.close()
