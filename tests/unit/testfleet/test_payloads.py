"""The event payload models and the schema published from them."""

from __future__ import annotations

import jsonschema
import pytest

from testfleet import payloads
from testfleet.events import TYPE_CHANNEL
from tests.payload_checks import check_event


def envelope(kind: str, payload: dict[str, object]) -> dict[str, object]:
    return {"id": "5-0", "type": kind, "timestamp": 5, "correlationId": "c", "runId": "r",
            "projectId": "p", "payload": payload,
            "metadata": {"source": "w", "priority": "normal"}}  # fmt: skip


PROGRESS = {
    "testId": "r-0001", "testSuiteId": "Login", "testType": "smoke", "attempt": 1,
    "stepStatus": "passed",
    "stepDuration": 12, "stepError": None, "stepDepth": 1, "stepParent": 1, "visual": None,
    "consoleErrors": 0, "failedRequests": 0, "accessibility": None, "performance": None,
    "progress": {"percentage": 50, "currentStep": "click #go", "stepNumber": 2,
                 "totalSteps": 2, "duration": 40, "screenshot": None},
}  # fmt: skip


def test_every_event_type_has_a_model_and_a_schema_branch() -> None:
    schema = payloads.events_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(payloads.PAYLOADS) == set(TYPE_CHANNEL)
    assert {b["if"]["properties"]["type"]["const"] for b in schema["allOf"]} == set(TYPE_CHANNEL)


def test_a_producer_payload_round_trips_through_its_model() -> None:
    typed = payloads.parse("test_progress", PROGRESS)
    assert isinstance(typed, payloads.CaseProgress)
    assert typed.progress.stepNumber == 2
    assert typed.dump() == PROGRESS
    check_event(envelope("test_progress", PROGRESS))


def test_a_wrong_field_is_named() -> None:
    bad = {**PROGRESS, "progress": {**PROGRESS["progress"], "stepNumber": "one"}}  # type: ignore[dict-item]
    with pytest.raises(payloads.PayloadError, match=r"progress\.stepNumber"):
        payloads.parse("test_progress", bad)
    with pytest.raises(AssertionError, match="stepNumber"):
        check_event(envelope("test_progress", bad))
    with pytest.raises(payloads.PayloadError, match="unknown event type"):
        payloads.parse("test_exploded", {})


def test_a_typo_in_a_producer_is_caught_as_an_undeclared_field() -> None:
    typo = {**PROGRESS, "stepEror": "boom"}
    assert payloads.unknown_fields(payloads.parse("test_progress", typo)) == ["payload.stepEror"]
    with pytest.raises(AssertionError, match="undeclared"):
        check_event(envelope("test_progress", typo))


def test_the_schema_dispatches_on_type() -> None:
    finished = {"testId": "r-0001", "testSuiteId": "S", "name": "t",
                "result": {"status": "exploded"}}  # fmt: skip
    with pytest.raises(AssertionError, match="result/status"):
        check_event(envelope("test_failed", finished))
    finished["result"] = {"status": "failed", "error": "no #go", "failedStep": 2}
    check_event(envelope("test_failed", finished))
