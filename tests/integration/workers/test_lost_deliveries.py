"""A case whose deliveries are all lost ends ``error`` once, instead of running for ever.

Each delivery here claims the case and starts its attempt as a worker does, then is
lost (its worker died, was stopped or hit the hard time limit: nothing more is
recorded). Real Redis (the store's Lua scripts), real Chromium for the run that
still goes ahead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.fixtures_pages import page_server
from tests.integration.workers.runcase import (
    DASHBOARD,
    CountingProvider,
    create_run,
    events,
    execute,
    suite_doc,
)

pytestmark = [pytest.mark.redis, pytest.mark.browser]

FINAL_TYPES = ("test_completed", "test_failed", "test_cancelled")
STEPS: list[dict[str, Any]] = [
    {"step_type": "navigate", "input_data": "/dashboard"},
    {"step_type": "assert", "selector": "h1", "expected_result": "Welcome"},
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with page_server({"/dashboard": DASHBOARD}) as url:
        yield url


def lose_deliveries(store: RunStore, run_id: str, case_id: str, count: int) -> None:
    """``count`` deliveries that each claim the case, start an attempt and vanish."""
    for n in range(1, count + 1):
        attempt = store.begin_case(run_id, case_id)
        assert attempt == n
        case = store.get_case(run_id, case_id).model_copy(
            update={"status": "running", "attempts": attempt, "worker": f"tfworker-{n}@host:1"}
        )
        assert store.update_case(case)


def finals(store: RunStore, run_id: str) -> list[dict[str, Any]]:
    return [e for e in events(store, run_id) if e["type"] in FINAL_TYPES]


def test_a_case_lost_max_times_ends_error_exactly_once(
    store: RunStore, settings: Settings, base_url: str
) -> None:
    lost = settings.worker.max_lost_deliveries
    assert lost == 3, "the shipped cap"
    run_id, case_id = create_run(store, suite_doc(base_url, STEPS))
    lose_deliveries(store, run_id, case_id, lost)

    provider = CountingProvider(settings)
    result = execute(store, provider, settings, run_id, case_id)

    assert result is not None
    assert result.status == "error"
    assert (result.error or "").startswith(
        "delivered 3 times and lost each time: the test may crash or hang its worker"
    )
    assert "TESTFLEET_WORKER__MAX_LOST_DELIVERIES" in (result.error or "")
    assert provider.opened == 0, "the case did not run a fourth time"
    assert [(h.attempt, h.status) for h in result.history] == [
        (1, "interrupted"), (2, "interrupted"), (3, "interrupted")
    ]  # fmt: skip
    # Later deliveries (the message was queued again meanwhile) record nothing.
    assert execute(store, provider, settings, run_id, case_id) is None
    assert store.begin_case(run_id, case_id) == 0
    ended = finals(store, run_id)
    assert [(e["type"], e["payload"]["result"]["status"]) for e in ended] == [
        ("test_failed", "error")
    ], "one final event"
    assert [e["type"] for e in events(store, run_id)].count("run_completed") == 1
    run = store.get_run(run_id)
    assert run is not None
    assert run.status == "failed"
    assert [(t.status, t.error) for t in run.tests] == [("error", result.error)]


def test_a_case_lost_fewer_times_runs_again_and_passes(
    store: RunStore, settings: Settings, base_url: str
) -> None:
    # A worker killed once or twice under a case is the fleet's fault, not the test's.
    run_id, case_id = create_run(store, suite_doc(base_url, STEPS))
    lose_deliveries(store, run_id, case_id, settings.worker.max_lost_deliveries - 1)

    provider = CountingProvider(settings)
    result = execute(store, provider, settings, run_id, case_id)

    assert result is not None
    assert result.status == "passed"
    assert [h.status for h in result.history] == ["interrupted", "interrupted", "passed"]
    assert len(finals(store, run_id)) == 1
    assert provider.opened == provider.closed == 1


def test_retries_within_one_delivery_are_not_lost_deliveries(
    store: RunStore, settings: Settings, base_url: str
) -> None:
    # A failing test retried four times by the same delivery claims the case five times.
    failing = [{"step_type": "navigate", "input_data": "/dashboard"},
               {"step_type": "assert", "selector": "h1", "expected_result": "Goodbye"}]  # fmt: skip
    run_id, case_id = create_run(store, suite_doc(base_url, failing, retry_count=4))

    provider = CountingProvider(settings)
    result = execute(store, provider, settings, run_id, case_id)

    assert result is not None
    assert result.status == "failed"
    assert result.attempts == 5
    assert "lost" not in (result.error or "")


def test_no_cap_when_the_setting_is_zero(
    store: RunStore, settings: Settings, base_url: str
) -> None:
    uncapped = settings.model_copy(
        update={"worker": settings.worker.model_copy(update={"max_lost_deliveries": 0})}
    )
    capless = RunStore(store.redis, uncapped, source="test")
    run_id, case_id = create_run(capless, suite_doc(base_url, STEPS))
    lose_deliveries(capless, run_id, case_id, 5)

    result = execute(capless, CountingProvider(uncapped), uncapped, run_id, case_id)

    assert result is not None
    assert result.status == "passed"
