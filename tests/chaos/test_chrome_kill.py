"""Chaos: Chrome or chromedriver SIGKILLed mid-test, under a pooled session on a real Grid.

The case whose browser dies is retried on a new session (or fails) within 30 s,
not after the Grid's minutes-long timeouts; the pool throws the dead session
away; the cases after it run on a healthy pooled session; and the dead
session's Grid slot is free again.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grid.launcher import browser_tmp_dir
from grid.pool import SessionPool
from testfleet.artifacts import open_store
from testfleet.events import Event, now_ms
from testfleet.fleet.browser import load_provider
from testfleet.fleet.gridstatus import read_capacity
from testfleet.results import CaseResult, RunRecord
from testfleet.settings import PathSettings, RedisSettings, Settings
from testfleet.store import RunStore
from testfleet.suites.model import CaseSpec, Suite
from tests.chaos.evidence import analyse, record, run_events
from tests.fixtures_grid import (
    grid_test_settings,
    leftover_processes,
    running_demosite,
    running_grid,
)
from tests.waiting import wait_until
from workers.tasks import run_case

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.redis,
    pytest.mark.grid,
    pytest.mark.browser,
    pytest.mark.slow,
]

RECOVERY_LIMIT_S = 30.0
"""The bar: from the kill to the killed case's final result."""

SESSION_TIMEOUT_S = 15
"""The node's idle-session timeout here (the default is 60 s)."""

SLOT_REAPED_S = SESSION_TIMEOUT_S + 45
"""The node checks for idle sessions periodically, not at the very second."""

PAUSE_S = 6
"""The first case's wait step, during which its browser is killed."""


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    with running_demosite() as url:
        yield url


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    base = tmp_path_factory.mktemp("chromekill")
    # A short idle timeout: a session whose chromedriver died cannot be quit (the
    # node cannot reach it) and holds its slot until the node reaps it.
    grid = grid_test_settings(base, max_sessions=2, session_timeout_s=SESSION_TIMEOUT_S)
    with running_grid(grid, standalone=True):
        yield grid.model_copy(
            update={
                "redis": RedisSettings(url=redis_url),
                "paths": PathSettings(state_dir=base / "state", artifacts_dir=base / "artifacts"),
            }
        )


def create_run(store: RunStore, suite_doc: dict[str, Any]) -> tuple[str, list[str]]:
    """A run with every test of ``suite_doc``, queued as the orchestrator would."""
    suite = Suite.model_validate(suite_doc)
    run_id = "r" + uuid.uuid4().hex[:12]
    cases, specs = [], {}
    for number, test in enumerate(suite.tests, 1):
        spec = CaseSpec.of(suite, test)
        case_id = f"{run_id}-{number:04d}"
        cases.append(
            CaseResult(
                case_id=case_id,
                run_id=run_id,
                suite=suite.name,
                name=test.name,
                total_steps=len(test.steps),
            )
        )
        specs[case_id] = spec.model_dump_json()
    record = RunRecord(
        run_id=run_id,
        project_id="proj",
        name="chaos",
        suites=[suite.name],
        created_ms=now_ms(),
        total=len(cases),
    )
    started = Event(
        type="run_started", run_id=run_id, project_id="proj", payload={"total": len(cases)}
    )
    store.create_run(record, cases, specs, started)
    return run_id, [c.case_id for c in cases]


def browser_pids(settings: Settings, target: str) -> list[int]:
    """The Grid node's chromedriver or main Chromium processes (found by their TMPDIR)."""
    pids = []
    for line in leftover_processes(str(browser_tmp_dir(settings, "standalone"))):
        pid, command = line.split(" ", 1)
        is_driver = "chromedriver" in command
        is_chrome = "chromium" in command and not is_driver and "--type=" not in command
        if (target == "chromedriver" and is_driver) or (target == "chromium" and is_chrome):
            pids.append(int(pid))
    return pids


@pytest.mark.parametrize("target", ["chromium", "chromedriver"])
def test_kill_mid_test(settings: Settings, site_url: str, tmp_path: Path, target: str) -> None:
    steps = [
        {"step_type": "navigate", "input_data": "/login"},
        {"step_type": "wait", "input_data": str(PAUSE_S)},
        {"step_type": "navigate", "input_data": "/storage"},
        {"step_type": "assert", "selector": "h1", "expected_result": "Storage"},
    ]
    doc = {
        "name": "Chaos",
        "base_url": site_url,
        "timeout_seconds": 10,
        "tests": [
            {
                "name": f"test {n}",
                "steps": [{"order_index": i, **s} for i, s in enumerate(steps, 1)],
            }
            for n in range(3)
        ],
    }
    store = RunStore.connect(settings, source="chaos")
    provider = load_provider(settings)
    assert isinstance(provider, SessionPool)
    artifacts = open_store(settings)
    run_id, case_ids = create_run(store, doc)
    killed_at: list[float] = []

    def killer() -> None:
        # Once the first case is inside its wait step, its browser is mid-test.
        wait_until(
            "the first case to start waiting",
            lambda: len(store.get_case(run_id, case_ids[0]).steps) >= 1,
            60,
        )
        pids = browser_pids(settings, target)
        assert pids, f"no {target} process of the Grid node found"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        killed_at.append(time.monotonic())

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        first = run_case(store, provider, artifacts, settings, run_id, case_ids[0], "w:1")
        first_done = time.monotonic()
        thread.join(timeout=60)
        assert killed_at, "the browser was killed mid-test"
        assert first is not None
        assert first_done - killed_at[0] <= RECOVERY_LIMIT_S
        assert first.status in ("passed", "failed", "error")
        died = [h for h in first.history if h.error and "browser session died" in h.error]
        assert died, f"the killed attempt says the browser died: {first.history}"
        assert provider.stats.replaced >= 1, "the dead session was thrown away"
        rest = [
            run_case(store, provider, artifacts, settings, run_id, case_id, "w:1")
            for case_id in case_ids[1:]
        ]
        assert [r.status if r else None for r in rest] == ["passed", "passed"]
        assert provider.stats.lent_reused >= 1, "the later cases reuse the new session"
        killed_ms = int(time.time() * 1000 - (time.monotonic() - killed_at[0]) * 1000)
        record(
            analyse(
                f"{target} SIGKILL",
                run_events(store.redis, run_id),
                case_ids,
                {case_ids[0]: killed_ms},
            )
        )
    finally:
        provider.shutdown()
        store.redis.close()
    url = settings.grid.url
    wait_until(
        "every Grid slot is free again",
        lambda: read_capacity(url, auth=settings.security.grid_credentials).free_slots == 2,
        SLOT_REAPED_S,
    )
