"""A step costs the worker one round trip to Redis: its progress write also answers the
check before the next step (``RunStore.progress_case``)."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.integration.workers.runcase import CountingProvider, create_run, execute, suite_doc

pytestmark = [pytest.mark.redis, pytest.mark.browser]


def _round_trips(
    monkeypatch: pytest.MonkeyPatch,
    store: RunStore,
    provider: CountingProvider,
    settings: Settings,
    base_url: str,
    checks: int,
) -> int:
    """Commands sent to Redis (a pipeline counts once) while a case of ``checks`` steps
    after its navigation runs."""
    steps: list[dict[str, Any]] = [{"step_type": "navigate", "input_data": "/dashboard"}]
    steps += [{"step_type": "assert", "selector": "h1", "expected_result": "Welcome"}] * checks
    run_id, case_id = create_run(store, suite_doc(base_url, steps, trace="off"))
    sent = 0
    send = redis.connection.AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        nonlocal sent
        sent += 1
        send(self, command, check_health)

    with monkeypatch.context() as patched:
        patched.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
        result = execute(store, provider, settings, run_id, case_id)
    assert result is not None
    assert result.status == "passed", result.error
    return sent


def test_each_step_costs_one_round_trip(
    monkeypatch: pytest.MonkeyPatch,
    store: RunStore,
    provider: CountingProvider,
    settings: Settings,
    base_url: str,
) -> None:
    _round_trips(monkeypatch, store, provider, settings, base_url, 1)  # warm: scripts loaded
    short = _round_trips(monkeypatch, store, provider, settings, base_url, 2)
    long = _round_trips(monkeypatch, store, provider, settings, base_url, 12)
    assert (long - short) / 10 == 1
