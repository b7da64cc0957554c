"""The WebSocket protocol handler's pure parts, fed generated garbage (hypothesis)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.hub import Frame
from gateway.protocol import (
    ProtocolError,
    batch_frame,
    matcher,
    parse,
    subscribe_request,
    validate_filters,
)
from testfleet.events import CHANNELS, Event
from testfleet.stream import Entry, envelope

CODES = {"INVALID_MESSAGE_FORMAT", "CHANNEL_NOT_FOUND", "AUTH_FAILED"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
filter_names = st.sampled_from(
    [
        *("testSuiteIds", "runIds", "statuses", "eventTypes", "tags", "projectId", "userId"),
        *("analysisTypes", "confidence_threshold", "testIds", "metricTypes", "dashboardId"),
        *("severity", "serviceNames", "bogus"),
    ]
)


def attempt(call: Callable[[], Any]) -> tuple[Any, ProtocolError | None]:
    """The call's result, or the ``ProtocolError`` it raised (any other error fails)."""
    try:
        return call(), None
    except ProtocolError as error:
        return None, error


@given(st.text(max_size=200) | json_values.map(json.dumps))
@settings(max_examples=300, deadline=None)
def test_parse_answers_any_text_with_a_message_or_a_protocol_error(text: str) -> None:
    message, error = attempt(lambda: parse(text))
    if error is not None:
        assert error.code in CODES
        assert json.loads(error.frame())["payload"]["message"]
        return
    assert isinstance(message.type, str)
    assert isinstance(message.payload, dict)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "channel": st.sampled_from([*CHANNELS, "nope"]) | json_values,
            "filters": st.dictionaries(filter_names, json_values, max_size=4) | json_values,
            "options": json_values
            | st.fixed_dictionaries(
                {},
                optional={
                    "since": json_values | st.just("1-0"),
                    "batch": json_values,
                    "includeHistory": json_values,
                },
            ),
        },
    )
)
@settings(max_examples=400, deadline=None)
def test_subscribe_payloads_are_accepted_or_refused_with_a_code(payload: dict[str, Any]) -> None:
    request, error = attempt(lambda: subscribe_request(payload))
    if error is not None:
        assert error.code in CODES
        return
    assert request.channel in CHANNELS


def frame_of(project: str, kind: str, payload: Any, run_id: str = "r1") -> Frame:
    event = Event(type=kind, run_id=run_id, project_id=project, payload={})
    body = envelope(event)
    body["payload"] = payload
    entry = Entry("5-0", kind, event.channel, run_id, project, json.dumps(body))
    return Frame(entry)


@given(
    st.sampled_from(CHANNELS),
    st.dictionaries(filter_names, json_values, max_size=4),
    st.sampled_from(["test_completed", "metrics_update", "ai_analysis_completed"]),
    json_values,
)
@settings(max_examples=300, deadline=None)
def test_matching_never_fails_and_never_crosses_projects(
    channel: str, raw: dict[str, Any], kind: str, payload: Any
) -> None:
    try:
        filters = validate_filters(channel, raw)
    except ProtocolError:
        return
    other = frame_of("beta", kind, payload)
    assert matcher(channel, filters, "alpha")(other) is False
    matcher(channel, filters, "alpha")(frame_of("alpha", kind, payload))


def test_fleet_events_reach_only_fleet_channels() -> None:
    fleet = frame_of("", "metrics_update", {"metrics": {"queueDepth": 1}})
    assert matcher("dashboard_metrics", {}, "alpha")(fleet)
    assert matcher("dashboard_metrics", {"metricTypes": frozenset({"queueDepth"})}, "a")(fleet)
    assert not matcher("dashboard_metrics", {"metricTypes": frozenset({"x"})}, "a")(fleet)
    orphan = frame_of("", "test_completed", {})
    assert not matcher("test_execution", {}, "alpha")(orphan)


@pytest.mark.parametrize("n", [1, 3])
def test_a_batch_is_valid_json_built_from_the_shared_texts(n: int) -> None:
    frames = [frame_of("alpha", "test_completed", {"i": i}) for i in range(n)]
    batch = json.loads(batch_frame([f.wire for f in frames]))
    assert batch["type"] == "batch"
    assert batch["count"] == n
    assert [e["payload"]["i"] for e in batch["events"]] == list(range(n))
