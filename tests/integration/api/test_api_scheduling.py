"""Scheduling at submission without a history database (this module's API has none):
the run is queued all the same, in suite order; the order and the stop are checked
fields; a run stopped at its failures says why."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from testfleet import keys
from testfleet.events import Event
from testfleet.results import CaseResult
from testfleet.store import RunStore
from testfleet.stream import Entry
from tests.integration.api.helpers import case, error_of, submit, suite

pytestmark = pytest.mark.redis


def run_started(store: RunStore, run_id: str) -> dict[str, Any]:
    entries = store.redis.xrange(keys.run_events(run_id))
    [started] = [
        m for m in (Entry.of(i, f).message() for i, f in entries) if m["type"] == "run_started"
    ]
    payload: dict[str, Any] = started["payload"]
    return payload


def test_without_history_a_run_goes_in_suite_order(alpha: httpx.Client, store: RunStore) -> None:
    tests = [case(n) for n in ("one", "two", "three")]
    urgent = case("urgent", priority="high")
    run_id = submit(alpha, suite("Plain", *tests, urgent), max_failures=2)["runId"]
    payload = run_started(store, run_id)
    assert payload["order"] == "duration"
    assert payload["maxFailures"] == 2
    listed = sorted(payload["tests"], key=lambda t: t["dispatchPosition"])
    # Within each priority class, suite order: nothing is known of any test.
    assert [t["name"] for t in listed] == ["urgent", "one", "two", "three"]
    assert {t["expectedMs"] for t in listed} == {None}
    run = alpha.get(f"/api/v1/runs/{run_id}").json()
    schedule = run["schedule"]
    assert schedule["order"] == "duration"
    assert schedule["max_failures"] == 2
    assert schedule["expected_wall_ms"] is None
    assert schedule["known"] == 0
    by_name = {t["name"]: t["dispatch_position"] for t in run["tests"]}
    assert by_name == {"urgent": 1, "one": 2, "two": 3, "three": 4}


def test_the_suites_order_and_max_failures_apply_unless_the_request_says(
    alpha: httpx.Client, store: RunStore
) -> None:
    doc = suite("Set", case("a"), order="suite", max_failures=3)
    run_id = submit(alpha, doc)["runId"]
    assert (run_started(store, run_id)["order"], run_started(store, run_id)["maxFailures"]) == (
        "suite",
        3,
    )
    run_id = submit(alpha, doc, order="failed-first", max_failures=1)["runId"]
    assert (run_started(store, run_id)["order"], run_started(store, run_id)["maxFailures"]) == (
        "failed-first",
        1,
    )


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"order": "fastest"}, "order"),
        ({"max_failures": 0}, "max_failures"),
        ({"only": [{"suite": "Plain"}]}, "only.0.test"),
    ],
)
def test_bad_scheduling_fields_are_refused_saying_which(
    alpha: httpx.Client, fields: dict[str, Any], says: str
) -> None:
    answer = alpha.post("/api/v1/runs", json={"suites": [suite("Plain", case("a"))], **fields})
    assert answer.status_code == 422, answer.text
    assert says in error_of(answer)["message"]


def test_only_keeps_the_tests_asked_for_and_none_left_is_said(alpha: httpx.Client) -> None:
    doc = suite("Again", case("a"), case("b"), case("c"))
    only = [{"suite": "Again", "test": "b"}, {"suite": "Again", "test": "c"}]
    run = submit(alpha, doc, only=only, picked_from="20261207-000000-abcdef")
    assert run["total"] == 2
    got = alpha.get(f"/api/v1/runs/{run['runId']}").json()
    assert [t["name"] for t in got["tests"]] == ["b", "c"]
    assert [t["case_id"][-4:] for t in got["tests"]] == ["0001", "0002"]
    assert got["schedule"]["picked_from"] == "20261207-000000-abcdef"
    gone = alpha.post(
        "/api/v1/runs", json={"suites": [doc], "only": [{"suite": "Again", "test": "z"}]}
    )
    assert gone.status_code == 400, gone.text
    assert "--last-failed" in error_of(gone)["message"]


def test_a_run_stopped_at_its_failures_ends_failed_saying_why(
    alpha: httpx.Client, store: RunStore
) -> None:
    run_id = submit(alpha, suite("Stop", case("a"), case("b"), case("c")), max_failures=1)["runId"]
    first = CaseResult.model_validate(alpha.get(f"/api/v1/runs/{run_id}").json()["tests"][0])
    store.begin_case(run_id, first.case_id)
    failed = first.model_copy(update={"status": "failed", "attempts": 1, "error": "boom"})
    assert store.finish_case(failed, Event("test_failed", run_id, "alpha", {}))
    assert store.failed_count(run_id) == 1
    assert store.stop_early(run_id, "stopped after 1 failed test(s) (--max-failures 1)") == 2
    run = alpha.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "failed"
    assert run["stopReason"] == "stopped after 1 failed test(s) (--max-failures 1)"
    assert sorted(t["status"] for t in run["tests"]) == ["cancelled", "cancelled", "failed"]
    junit = alpha.get(f"/api/v1/runs/{run_id}/junit.xml").text
    assert 'name="stopReason" value="stopped after 1 failed test(s)' in junit


def test_a_run_already_over_is_not_marked_stopped(alpha: httpx.Client, store: RunStore) -> None:
    run_id = submit(alpha, suite("Over", case("only")), max_failures=1)["runId"]
    only = CaseResult.model_validate(alpha.get(f"/api/v1/runs/{run_id}").json()["tests"][0])
    store.begin_case(run_id, only.case_id)
    failed = only.model_copy(update={"status": "failed", "attempts": 1, "error": "boom"})
    assert store.finish_case(failed, Event("test_failed", run_id, "alpha", {}))
    # Its last case failing ends the run: nothing was left to stop, so nothing says so.
    assert store.stop_early(run_id, "stopped after 1 failed test(s) (--max-failures 1)") == 0
    run = alpha.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "failed"
    assert run["stopReason"] is None
