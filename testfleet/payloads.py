"""The payload of every event type, as typed models: defined once, read and written alike.

Producers build a payload through its model and publish ``model.dump()``
(``workers.tasks`` and ``workers.analysis`` for a case's events, the run store
for ``run_started``'s cancel and ``run_completed`` companions, the gateway's
publisher for the fleet's). Readers (the CLI, the gateway, the dashboard page)
read a payload with ``parse(type, payload)`` instead of string keys. The JSON
Schema of the whole wire envelope, one branch per event type, is
``events_schema()``; the gateway publishes it at ``/schema/events.json`` for
integrators.

Field names are the wire's (camelCase, SPEC section 5). Every model allows
extra fields: a newer producer may add one without breaking an older reader.
Times are Unix epoch milliseconds, durations milliseconds.

The fields subscriptions filter on (SPEC section 6) are marked where they are
declared, ``Annotated[..., Filterable("<filter name>")]``; ``filterable`` lists
them and the gateway derives its filters from that list (the envelope's own
filters are ``testfleet.stream.ENVELOPE_FILTERS``).
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from testfleet.events import CHANNEL_TYPES, TYPE_CHANNEL
from testfleet.results import (
    AccessibilityResult,
    AiCitation,
    AiIssue,
    AnalysisType,
    DiffExplanation,
    FinalCaseStatus,
    PerformanceResult,
    SettledRunStatus,
    VisualOutcome,
)

SCHEMA_ID = "https://testfleet.dev/schema/events.json"
"""The ``$id`` of the published schema (a name, not a place to fetch it from)."""


@dataclass(frozen=True)
class Filterable:
    """Marks a payload field that subscriptions can filter on, and how."""

    name: str
    """The filter's name, as a subscription's ``filters`` give it."""
    kind: Literal["list", "number"] = "list"
    """``list``: strings, any of which matches; ``number``: a minimum."""
    keys: bool = False
    """Match the names in the object at the field (a metric's name), not its value."""
    channel: str | None = None
    """The one channel offering it, for a field of a model several channels' events
    share (None: every channel whose events carry the field)."""


class Payload(BaseModel):
    """What every payload model shares: unknown fields are kept, not refused."""

    model_config = ConfigDict(extra="allow")

    def dump(self) -> dict[str, Any]:
        """The payload as published (JSON types, ``None`` kept: readers may rely on a key)."""
        return self.model_dump(mode="json")


# --- test_execution ------------------------------------------------------------------------


class CaseEntry(Payload):
    """One test case of a run as ``run_started`` lists it."""

    testId: str
    name: str
    suite: str
    tags: list[str] = Field(default_factory=list)
    priority: str = "medium"
    dispatchPosition: int | None = None
    """1-based place in which the case was sent to the workers (the run's ``order``):
    sorting ``tests`` by it gives the dispatch order."""
    expectedMs: int | None = None
    """The duration history expected of the case (its P50, or its suite's mean of them);
    None: nothing known."""


class RunStarted(Payload):
    """``run_started``: a run was recorded with every case queued."""

    runId: str
    name: str
    total: int
    suites: list[str]
    tags: Annotated[list[str], Filterable("tags")] = Field(default_factory=list)
    tests: list[CaseEntry] = Field(default_factory=list)
    order: str | None = None
    """How the cases were ordered: ``suite``, ``duration`` or ``failed-first``."""
    maxFailures: int | None = None
    """The run stops at this many failed tests (``--max-failures``); None: never."""


class CaseEvent(Payload):
    """What every event about one test case carries."""

    testId: Annotated[str, Filterable("testIds", channel="ai_analysis")]
    """The case id (also the envelope's ``correlationId``)."""
    testSuiteId: Annotated[str, Filterable("testSuiteIds", channel="test_execution")]
    """The suite's name."""
    testType: Annotated[str | None, Filterable("testTypes", channel="test_execution")] = None
    """The test's ``category`` in its suite (None: it names none); the gateway's
    ``testTypes`` filter reads it."""


class CaseStarted(CaseEvent):
    """``test_started``: an attempt at a case began."""

    name: str
    attempt: int
    tags: Annotated[list[str], Filterable("tags")] = Field(default_factory=list)
    environment: Annotated[str | None, Filterable("environments")] = None
    totalSteps: int
    worker: str | None = None
    """The worker process running it (``<node>:<pid>``; the envelope's ``source`` too)."""


class Progress(Payload):
    """Where a running case is."""

    percentage: int
    currentStep: str
    """The label of the step just done."""
    stepNumber: int
    totalSteps: int
    duration: int
    """Milliseconds since the case started."""
    screenshot: str | None = None
    """API path of the screenshot the step took, if it took one."""


class VisualCheck(Payload):
    """What an ``assert_screenshot`` step found: the figures and the three pictures."""

    outcome: VisualOutcome
    baselineId: str
    baselineVersion: int | None = None
    name: str
    """The step's name (what its baseline is called within the test)."""
    diffRatio: float = 0.0
    """Changed pixels / all pixels, 0-1."""
    changedPx: int = 0
    region: list[int] | None = None
    """x, y, width, height (px) around every changed pixel."""
    actualUrl: str | None = None
    baselineUrl: str | None = None
    """API paths of the pictures (baseline and diff only for a mismatch)."""
    diffUrl: str | None = None


class CaseProgress(CaseEvent):
    """``test_progress``: one step of an attempt is done."""

    attempt: int
    progress: Progress
    stepStatus: str
    stepDuration: int
    """Milliseconds the step took."""
    stepError: str | None = None
    visual: VisualCheck | None = None
    """``assert_screenshot`` steps only."""
    stepDepth: int = 0
    """How deep inside blocks the step ran (0: a step of the test itself; 1: a step of a
    flow the test's ``use:`` called, or inside its ``if:`` / ``repeat:``; and so on)."""
    stepParent: int | None = None
    """The ``stepNumber`` of the block step it ran in (the ``use:`` row of its flow)."""
    consoleErrors: int = 0
    """Console errors of the attempt so far, as far as its trace has read the browser's
    log: from a failing step on (reading it after every step would cost each step a round
    trip; 0 with ``trace: off``)."""
    failedRequests: int = 0
    """Failed requests (``net::ERR_*``, 4xx, 5xx) of the attempt so far, read as
    ``consoleErrors`` is."""
    accessibility: AccessibilityResult | None = None
    """``assert_accessible`` steps only: what the step found, as in the run's result
    (``StepResult.accessibility``; its fields are the result's, snake_case)."""
    performance: PerformanceResult | None = None
    """``assert_performance`` steps only: what the step measured, as in the run's result."""


class CaseOutcome(Payload):
    """A case's final status, and what failed."""

    status: Annotated[FinalCaseStatus, Filterable("statuses")]
    error: str | None = None
    failedStep: int | None = None
    """1-based index of the step that failed the test."""


class CaseFinished(CaseEvent):
    """``test_completed`` / ``test_failed`` / ``test_cancelled``: the case's final status,
    published exactly once."""

    name: str
    result: CaseOutcome
    duration: int = 0
    """Milliseconds from the case's start to its end (0 for a case cancelled while queued)."""
    attempts: int = 0
    artifacts: list[str] = Field(default_factory=list)
    """API paths of its screenshots, thumbnails and step log."""


class RunCompleted(Payload):
    """``run_completed``: the last case of a run became final (written by the run store's
    Lua, ``store/lua/complete.lua``; tests check it against this model)."""

    status: Annotated[SettledRunStatus, Filterable("statuses")]
    counts: dict[str, int]
    """Final cases per status (every final status, zeros included)."""
    total: int
    duration: int
    """Milliseconds from submission to completion."""


class LabelledTest(Payload):
    """One test of a run that failed (or passed only on a retry), with its labels."""

    testId: str
    suite: str
    name: str
    labels: list[str] = Field(default_factory=list)
    """``new``, ``flaky``, ``failing-on-main``, ``quarantined``: what the test's history
    says of this failure (``testfleet.history.rules``), in that order."""
    signature: str | None = None
    """The failure's signature (its latest failed attempt's): its cluster."""


class FailureCluster(Payload):
    """The run's failures with one signature: one cause ("14 failures, 1 cause")."""

    signature: str
    count: int
    """Tests of the run that failed with this signature."""
    tests: list[str] = Field(default_factory=list)
    """Their ``testId``s."""
    error: str | None = None
    """One of the errors (they differ only in what the signature strips)."""


class RunLabels(Payload):
    """``run_labels``: the labels of a run's failures and its failure clusters, published
    once the run was written into the history database (after ``run_completed``)."""

    tests: list[LabelledTest] = Field(default_factory=list)
    """The failed tests (and those that passed on a retry); passed tests are not listed."""
    clusters: list[FailureCluster] = Field(default_factory=list)
    """Largest first."""


# --- ai_analysis ---------------------------------------------------------------------------


class AiEvent(CaseEvent):
    """What every event about one screenshot's analysis carries."""

    analysisType: Annotated[AnalysisType, Filterable("analysisTypes")]
    screenshot: str
    """Artifact name of the screenshot."""
    step: int | None = None


class AiAnalysisStarted(AiEvent):
    """``ai_analysis_started``."""


AiStage = Literal["cache_hit", "waiting_same_image", "waiting_slot", "calling", "retrying"]
"""Where an analysis is: answered from the cache, waiting for another worker's analysis of
the same image or for a request slot, calling the model, or waiting to call it again."""


class AiAnalysisProgress(AiEvent):
    """``ai_analysis_progress``: what the analysis waits for now."""

    stage: AiStage
    detail: str | None = None


class AiAnalysisCompleted(AiEvent):
    """``ai_analysis_completed``: the findings, or why there are none."""

    status: Literal["completed", "skipped", "failed"]
    reason: str | None = None
    summary: str = ""
    issues: list[AiIssue] = Field(default_factory=list)
    cached: bool = False
    model: str | None = None
    inputTokens: int = 0
    outputTokens: int = 0
    costUsd: float = 0.0
    confidence: Annotated[float | None, Filterable("confidence_threshold", "number")] = None
    """The highest confidence among the recommendations, if any (a ``visual_diff``
    analysis: the explanation's)."""
    explanation: DiffExplanation | None = None
    """``visual_diff`` analyses only: what changed, where, regression or intended."""
    citations: list[AiCitation] = Field(default_factory=list)
    """``error`` analyses: the console errors and failed requests of the failing step the
    finding cites, each with its text as the model was shown it."""


class AiRecommendationEvent(AiEvent):
    """``ai_recommendation``: one suggestion of a completed analysis."""

    title: str
    confidence: Annotated[float, Filterable("confidence_threshold", "number")]
    implementation: str = ""


# --- dashboard_metrics and system_events ----------------------------------------------------


class WorkerLoad(Payload):
    """One live worker in ``metrics_update``."""

    name: str
    """Celery node name; the workers' events name ``<node>:<pid>``."""
    busy: int
    concurrency: int


class FleetMetrics(Payload):
    """The figures of one ``metrics_update``."""

    testsPerMinute: float
    """Final results in the last 60 s, per minute."""
    passRate: float | None = None
    """Share (0-1) of those that passed; null when there were none."""
    queueDepth: int
    queueByPriority: dict[str, int] = Field(default_factory=dict)
    """Cases waiting per priority (critical, high, medium, low)."""
    busyWorkers: int
    workers: int
    workerSlots: int
    freeGridSlots: int
    gridSlots: int
    gridNodesUp: int
    workerList: list[WorkerLoad] = Field(default_factory=list)
    eventsPerSecond: float = 0.0
    """Events the publishing gateway read from the stream per second since its last tick."""


class MetricsUpdate(Payload):
    """``metrics_update``: the fleet now, every ``gateway.metrics_interval_s``."""

    metrics: Annotated[FleetMetrics, Filterable("metricTypes", keys=True)]


class AlertTriggered(Payload):
    """``alert_triggered`` (not published by testfleet itself yet)."""

    message: str = ""
    severity: str = "warning"


class ServiceStatusChange(Payload):
    """``service_status_change``: a worker or the Grid came or went."""

    serviceName: Annotated[str, Filterable("serviceNames")]
    serviceType: Literal["worker", "grid"]
    status: str
    previousStatus: str | None = None
    severity: Annotated[Literal["info", "warning", "error"], Filterable("severity")]
    details: dict[str, Any] = Field(default_factory=dict)


class QuotaWarning(Payload):
    """``quota_warning``: a run's AI budget, or its project's for the UTC day, is spent;
    its further analyses are skipped (the tests still run)."""

    testId: str | None = None
    """The case whose analysis found the budget spent."""
    testSuiteId: str | None = None
    budget: Literal["run", "project_daily"] = "run"
    """Which budget is spent: the run's, or the project's for the UTC day."""
    resetsAt: str | None = None
    """``project_daily``: when the budget resets (ISO 8601, the next 00:00 UTC)."""
    budgetUsd: float
    budgetTokens: int
    costUsd: float
    tokens: int
    message: str


class SystemMaintenance(Payload):
    """``system_maintenance`` (not published by testfleet itself yet)."""

    message: str = ""


PAYLOADS: dict[str, type[Payload]] = {
    "run_started": RunStarted,
    "test_started": CaseStarted,
    "test_progress": CaseProgress,
    "test_completed": CaseFinished,
    "test_failed": CaseFinished,
    "test_cancelled": CaseFinished,
    "run_completed": RunCompleted,
    "run_labels": RunLabels,
    "ai_analysis_started": AiAnalysisStarted,
    "ai_analysis_progress": AiAnalysisProgress,
    "ai_analysis_completed": AiAnalysisCompleted,
    "ai_recommendation": AiRecommendationEvent,
    "metrics_update": MetricsUpdate,
    "alert_triggered": AlertTriggered,
    "service_status_change": ServiceStatusChange,
    "quota_warning": QuotaWarning,
    "system_maintenance": SystemMaintenance,
}
"""Event type -> its payload model (every type of ``testfleet.events.CHANNEL_TYPES``)."""

assert set(PAYLOADS) == set(TYPE_CHANNEL), "every event type needs a payload model"


class PayloadError(ValueError):
    """A payload does not match its type's model."""


def parse(event_type: str, payload: dict[str, Any]) -> Payload:
    """The typed payload of an event of ``event_type``; ``PayloadError`` saying which
    field is wrong when it does not match, or when the type is unknown."""
    model = PAYLOADS.get(event_type)
    if model is None:
        raise PayloadError(f"unknown event type {event_type!r}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise PayloadError(f"{event_type} payload: {where}: {first['msg']}") from None


def unknown_fields(payload: BaseModel, where: str = "payload") -> list[str]:
    """Fields of ``payload`` (and of the models in it) that no model declares: a reader
    would never look at them, so a producer sending one has a typo or an undeclared
    field (tests assert this is empty for what producers publish)."""
    found = [f"{where}.{name}" for name in payload.model_extra or {}]
    for name in type(payload).model_fields:
        value = getattr(payload, name)
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, BaseModel):
                at = f"{where}.{name}" + (f"[{i}]" if isinstance(value, list) else "")
                found += unknown_fields(item, at)
    return found


def field_paths(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model``, with those of the models it holds as dotted paths
    (``result``, ``result.status``): what a reader, or a filter, can find in it."""
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        paths.add(name)
        for inner in _models_in(info.annotation):
            paths.update(f"{name}.{path}" for path in field_paths(inner))
    return frozenset(paths)


def filterable(model: type[BaseModel], where: str = "") -> Iterator[tuple[str, Filterable]]:
    """The marked fields of ``model`` and of the models it holds, as (dotted path, mark),
    in declaration order."""
    for name, info in model.model_fields.items():
        for mark in info.metadata:
            if isinstance(mark, Filterable):
                yield where + name, mark
        for inner in _models_in(info.annotation):
            yield from filterable(inner, f"{where}{name}.")


def payload_fields() -> dict[str, frozenset[str]]:
    """Event type -> the ``field_paths`` of its payload model."""
    return {event_type: field_paths(model) for event_type, model in PAYLOADS.items()}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation names (``X``, ``X | None``, ``list[X]``, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType, list, tuple):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


def events_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of an event on the wire: the envelope, with ``payload``
    given by ``type`` (one ``if``/``then`` branch per event type)."""
    defs: dict[str, Any] = {}
    branches: list[dict[str, Any]] = []
    for event_type in sorted(PAYLOADS):
        model = PAYLOADS[event_type]
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
        branches.append(
            {
                "if": {"properties": {"type": {"const": event_type}}},
                "then": {"properties": {"payload": {"$ref": f"#/$defs/{model.__name__}"}}},
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "testfleet event",
        "description": "One event as the gateway sends it (SPEC section 5). Channels: "
        + "; ".join(f"{c}: {', '.join(t)}" for c, t in CHANNEL_TYPES.items()),
        "type": "object",
        "required": ["id", "type", "timestamp", "runId", "projectId", "payload", "metadata"],
        "properties": {
            "id": {"type": "string", "pattern": r"^\d+-\d+$", "description": "stream entry id"},
            "type": {"enum": sorted(PAYLOADS)},
            "timestamp": {"type": "integer", "description": "Unix epoch milliseconds"},
            "correlationId": {"type": ["string", "null"], "description": "the case id"},
            "runId": {"type": "string", "description": "empty for fleet-wide events"},
            "projectId": {"type": "string", "description": "empty for fleet-wide events"},
            "payload": {"type": "object"},
            "metadata": {
                "type": "object",
                "properties": {"source": {"type": "string"}, "priority": {"type": "string"}},
            },
        },
        "allOf": branches,
        "$defs": defs,
    }
