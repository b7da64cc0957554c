"""Starting a case: one round trip to Redis, returning typed records, with the claim's
exactly-once rules (final, cancelled, lost too often, unknown) as ``begin_case`` has them."""

from __future__ import annotations

from typing import Any

import pytest
import redis.connection

from testfleet.errors import NotFoundError
from testfleet.events import Event, now_ms
from testfleet.results import CaseResult, RunRecord
from testfleet.settings import Settings
from testfleet.store import RunStore
from testfleet.store.writes import CANCELLED, LOST_TOO_OFTEN
from testfleet.suites.model import CaseSpec, Suite

pytestmark = pytest.mark.redis

SUITE = Suite.model_validate(
    {
        "name": "s",
        "base_url": "http://site.test",
        "tests": [
            {"name": "t", "steps": [{"order_index": 1, "step_type": "navigate", "input_data": "/"}]}
        ],
    }
)


@pytest.fixture
def store(redis_url: str) -> RunStore:
    store = RunStore.connect(Settings(redis={"url": redis_url}), source="test@host")
    store.redis.flushdb()
    return store


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts what is sent to Redis: one packed send per round trip (a pipeline is one)."""
    sent = [0]
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


def new_run(store: RunStore, run_id: str = "r1", n: int = 2) -> list[CaseResult]:
    record = RunRecord(
        run_id=run_id, project_id="p", name="x", suites=["s"], created_ms=now_ms(), total=n
    )
    cases = [
        CaseResult(case_id=f"{run_id}-{i}", run_id=run_id, suite="s", name="t") for i in range(n)
    ]
    spec = CaseSpec.of(SUITE, SUITE.tests[0]).model_dump_json()
    started = Event("run_started", run_id, "p", {"total": n}, source="test")
    store.create_run(record, cases, {c.case_id: spec for c in cases}, started)
    return cases


def test_starting_a_case_is_one_round_trip_returning_typed_records(
    store: RunStore, round_trips: list[int]
) -> None:
    warm, case = new_run(store)
    store.start_case("r1", warm.case_id, CaseSpec)  # loads the script into Redis
    round_trips[0] = 0

    start = store.start_case("r1", case.case_id, CaseSpec)

    assert round_trips[0] == 1
    assert start is not None
    assert start.attempt == 1
    assert start.record.project_id == "p"
    assert start.case.case_id == case.case_id
    assert isinstance(start.spec, CaseSpec)
    assert start.spec.test.steps[0].input_data == "/"
    assert store.attempts("r1", case.case_id) == 1


def test_a_final_case_does_not_start_again(store: RunStore) -> None:
    _, case = new_run(store)
    start = store.start_case("r1", case.case_id, CaseSpec)
    assert start is not None
    done = start.case.model_copy(update={"status": "passed"})
    assert store.finish_case(done, Event("test_completed", "r1", "p", {}))
    assert store.start_case("r1", case.case_id, CaseSpec) is None


def test_a_cancelled_runs_case_starts_no_attempt_but_has_its_records(store: RunStore) -> None:
    running, _ = new_run(store)
    store.begin_case("r1", running.case_id)  # keeps the run open after the cancel
    store.cancel_run("r1")
    start = store.start_case("r1", running.case_id, CaseSpec)
    assert start is not None
    assert start.attempt == CANCELLED
    assert (start.record.run_id, start.case.case_id, start.spec) == ("r1", running.case_id, None)


def test_deliveries_lost_max_times_end_the_case_without_an_attempt(store: RunStore) -> None:
    _, case = new_run(store)
    cap = store._settings.worker.max_lost_deliveries
    for n in range(1, cap + 1):
        start = store.start_case("r1", case.case_id, CaseSpec)
        assert start is not None
        assert start.attempt == n
    start = store.start_case("r1", case.case_id, CaseSpec)
    assert start is not None
    assert start.attempt == LOST_TOO_OFTEN
    assert start.spec is None
    assert store.attempts("r1", case.case_id) == cap, "no attempt counted"


def test_an_unknown_case_is_not_found(store: RunStore) -> None:
    new_run(store)
    with pytest.raises(NotFoundError, match="case nope of run r1 does not exist"):
        store.start_case("r1", "nope", CaseSpec)
