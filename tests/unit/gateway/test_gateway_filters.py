"""Subscription filters read fields the event payload models have (issue 25, item 7).

A filter that reads a field no payload carries matches nothing and says nothing: the
``testTypes`` filter read ``testType``/``category`` and ``metricTypes`` read
``metricType``, which no event ever had. The payload models now mark the fields
subscriptions filter on (``testfleet.payloads.Filterable``) and the gateway derives its
filters from the marks (issue 29); these tests hold the derived filters to the models
and to the filters SPEC section 6 names.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway import protocol
from gateway.hub import Frame
from gateway.protocol import ProtocolError, matcher, validate_filters
from testfleet.events import CHANNEL_TYPES, CHANNELS, Event
from testfleet.payloads import (
    CaseFinished,
    CaseOutcome,
    CaseStarted,
    FleetMetrics,
    MetricsUpdate,
    RunCompleted,
    field_paths,
    payload_fields,
)
from testfleet.stream import ENVELOPE_FILTERS, Entry

ADVERTISED = {
    "test_execution": {
        "testSuiteIds",
        "testTypes",
        "environments",
        "runIds",
        "statuses",
        "eventTypes",
        "tags",
        "projectId",
    },
    "ai_analysis": {
        "analysisTypes",
        "testIds",
        "eventTypes",
        "runIds",
        "projectId",
        "confidence_threshold",
    },
    "dashboard_metrics": {"metricTypes", "eventTypes"},
    "system_events": {"severity", "serviceNames", "eventTypes"},
}
"""The filters each channel advertised before they were derived (SPEC section 6, less the
two no event carries): the derivation changed none."""


def frame_of(project: str, kind: str, payload: dict[str, Any]) -> Frame:
    event = Event(type=kind, run_id="r1", project_id=project, payload=payload)
    return Frame(Entry.new("5-0", event))


def test_every_advertised_filter_reads_a_field_of_its_channels_payloads() -> None:
    fields = payload_fields()
    unread: list[str] = []
    for channel in CHANNELS:
        on_channel = set().union(*(fields[t] for t in CHANNEL_TYPES[channel]))
        for name in protocol.CHANNEL_FILTERS[channel]:
            spec = protocol.FILTERS[name]
            if not spec.paths and name in ENVELOPE_FILTERS:
                continue  # the envelope's: the entry's own fields
            missing = [path for path in spec.paths if path not in on_channel]
            if not spec.paths or missing:
                unread.append(f"{channel}.{name} reads {missing or 'nothing'}")
    assert unread == []


def test_the_derived_filters_are_the_ones_each_channel_advertised() -> None:
    derived = {channel: set(names) for channel, names in protocol.CHANNEL_FILTERS.items()}
    assert derived == ADVERTISED
    assert protocol.FILTERS["statuses"].paths == ("result.status", "status")


def test_every_filter_the_spec_names_is_advertised_or_refused_with_a_reason() -> None:
    spec_filters = {
        "test_execution": [
            *("testSuiteIds", "testTypes", "environments", "userId", "projectId"),
            *("runIds", "statuses", "eventTypes", "tags"),
        ],
        "ai_analysis": ["analysisTypes", "confidence_threshold", "testIds"],
        "dashboard_metrics": ["metricTypes", "dashboardId"],
        "system_events": ["severity", "serviceNames"],
    }
    for channel, names in spec_filters.items():
        for name in names:
            assert name in protocol.CHANNEL_FILTERS[channel] or name in protocol.RETIRED_FILTERS


@pytest.mark.parametrize("name", ["userId", "dashboardId"])
def test_a_filter_no_event_carries_is_refused_saying_why(name: str) -> None:
    channel = "test_execution" if name == "userId" else "dashboard_metrics"
    with pytest.raises(ProtocolError) as caught:
        validate_filters(channel, {name: "x"})
    assert caught.value.code == "INVALID_MESSAGE_FORMAT"
    assert "no event names" in str(caught.value)


def test_test_types_match_the_category_a_case_event_carries() -> None:
    started = CaseStarted(
        testId="c1", testSuiteId="shop", testType="smoke", name="t", attempt=1, totalSteps=2
    )
    frame = frame_of("alpha", "test_started", started.dump())
    smoke = validate_filters("test_execution", {"testTypes": ["smoke"]})
    other = validate_filters("test_execution", {"testTypes": ["regression"]})
    assert matcher("test_execution", smoke, "alpha")(frame)
    assert not matcher("test_execution", other, "alpha")(frame)
    assert "testType" in field_paths(CaseFinished)


def test_statuses_read_a_case_result_and_a_run_status() -> None:
    failed = CaseFinished(
        testId="c1", testSuiteId="shop", name="t", result=CaseOutcome(status="failed")
    )
    done = RunCompleted(status="passed", counts={"passed": 1}, total=1, duration=5)
    statuses = validate_filters("test_execution", {"statuses": ["failed"]})
    match = matcher("test_execution", statuses, "alpha")
    assert match(frame_of("alpha", "test_failed", failed.dump()))
    assert not match(frame_of("alpha", "run_completed", done.dump()))


def test_metric_types_are_the_metrics_model_field_names() -> None:
    metrics = FleetMetrics(
        testsPerMinute=1.0,
        queueDepth=3,
        busyWorkers=1,
        workers=2,
        workerSlots=4,
        freeGridSlots=2,
        gridSlots=4,
        gridNodesUp=1,
    )
    frame = frame_of("", "metrics_update", MetricsUpdate(metrics=metrics).dump())
    wanted = validate_filters("dashboard_metrics", {"metricTypes": ["queueDepth"]})
    assert matcher("dashboard_metrics", wanted, "alpha")(frame)
    assert "metrics.queueDepth" in payload_fields()["metrics_update"]


def test_a_filter_reads_nothing_from_a_payload_without_its_field() -> None:
    frame = frame_of("alpha", "test_started", json.loads('{"testId": "c1"}'))
    wanted = validate_filters("test_execution", {"testTypes": ["smoke"]})
    assert not matcher("test_execution", wanted, "alpha")(frame)
