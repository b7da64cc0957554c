"""``POST /runs``: read a submission, validate every suite, record the run, queue it.

A submission is validated whole (every problem of every suite at once, 422)
before anything is stored or queued; then the run is recorded with all its
cases queued and ``run_started`` published, and only then are the tasks sent,
so a worker always finds the case it is given.

Loading and planning (``plan_submission``: reading YAML, converting recordings,
composing, expanding, splitting into cases) run in a child process within the
``max_plan_cpu_s`` / ``max_plan_memory_bytes`` limits (``testfleet.suites.bounded``),
at most ``max_plans_per_project`` at once per project: however much work one
submission asks for, it is refused (413) within those bounds, and other
projects' submissions are planned meanwhile.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis
from pydantic import ValidationError

from api.dispatch import plan_run
from api.errors import ApiError
from api.models import RunLinks, RunRequest, RunSubmitted
from api.scheduling import ask_history, schedule
from api.services import Services
from testfleet import logs
from testfleet.constants import (
    dashboard_url,
    junit_path,
    report_path,
    run_events_url,
    run_path,
    run_websocket_url,
)
from testfleet.errors import (
    InfrastructureError,
    RateLimited,
    SuiteError,
    TestfleetError,
    UsageError,
)
from testfleet.events import Event, now_ms
from testfleet.fleet.auth import ApiKey
from testfleet.fleet.state import read_workers
from testfleet.payloads import CaseEntry, RunStarted
from testfleet.results import (
    DEFAULT_ORDER,
    TRACE_MODES,
    CaseResult,
    OrderMode,
    RunMetadata,
    RunRecord,
    Schedule,
    TraceMode,
)
from testfleet.settings import LimitSettings, Settings
from testfleet.suites.bounded import Bounds, run_bounded
from testfleet.suites.limits import RunLimits, setting
from testfleet.suites.loader import SuiteNames, load_document
from testfleet.suites.model import Suite
from testfleet.suites.yamltext import parse_yaml
from testfleet.targets.policy import TargetPolicy

log = logs.get_logger(__name__)

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
"""Content types taken as one suite's text."""
_BUSY_RETRY_S = 1.0
"""Retry-After of a submission refused because its project's planners are all busy."""


@dataclass
class Submission:
    """The suites and options of one ``POST /runs``."""

    documents: list[tuple[str, Any]]
    """(source name, parsed document or suite text) per suite."""
    name: str | None = None
    tags: set[str] = field(default_factory=set)
    variables: dict[str, str] = field(default_factory=dict)
    require_baselines: bool = False
    trace: TraceMode | None = None
    """Every test's trace mode (``--trace``); None: each test's own."""
    metadata: RunMetadata | None = None
    """Branch, commit, pull request, CI build and author, kept on the run's record."""
    order: OrderMode | None = None
    """``--order``; None: the suites' ``order``, else ``duration``."""
    max_failures: int | None = None
    """``--max-failures``; None: the suites' smallest ``max_failures``, else never."""
    only: frozenset[tuple[str, str]] | None = None
    """``--last-failed``: just these (suite, test name) tests."""
    picked_from: str | None = None
    """The run ``only`` was taken from."""


def parse_submission(media_type: str, body: bytes, query: dict[str, str]) -> Submission:
    """The suites and options of a ``POST /runs`` body (JSON envelope or one raw suite)."""
    if not body.strip():
        raise ApiError(
            400, "empty_body", 'the body is empty: send {"suites": [...]} or one suite as YAML'
        )
    single = Submission(
        documents=[],
        name=query.get("name") or None,
        tags={t.strip() for t in query.get("tags", "").split(",") if t.strip()},
        require_baselines=_flag(query.get("require_baselines", "")),
        trace=_trace_mode(query.get("trace", "")),
    )
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ApiError(400, "invalid_json", "the JSON body is nested too deeply") from None
        if isinstance(document, dict) and "suites" in document:
            return _envelope(document)
        if isinstance(document, dict) and "tests" in document:
            single.documents.append((query.get("source") or "suite", document))
            return single
        raise ApiError(
            422,
            "invalid_request",
            'a JSON body is either {"suites": [...], "name": ..., "tags": [...], '
            '"variables": {...}} or one suite with a top-level "tests" list',
        )
    if media_type in YAML_TYPES or not media_type:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "invalid_encoding", "the suite text must be UTF-8") from None
        single.documents.append((query.get("source") or "suite", text))
        return single
    raise ApiError(
        415,
        "unsupported_media_type",
        f"Content-Type {media_type} is not accepted: send application/json "
        "or one suite as application/yaml (or text/yaml, text/plain)",
    )


def _flag(text: str) -> bool:
    """A true/false query parameter; anything else is a 400 saying so."""
    value = text.strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ApiError(400, "invalid_query", f"require_baselines must be true or false, not {text!r}")


def _trace_mode(text: str) -> TraceMode | None:
    """The ``trace`` query parameter; anything but a mode is a 400 naming the modes."""
    value = text.strip()
    if not value:
        return None
    for mode in TRACE_MODES:
        if value == mode:
            return mode
    raise ApiError(
        400, "invalid_query", f"trace must be one of {', '.join(TRACE_MODES)}, not {text!r}"
    )


def _envelope(document: dict[str, Any]) -> Submission:
    try:
        request = RunRequest.model_validate(document)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        ]
        message = "; ".join(problems) + (
            ' (the body is {"suites": [...], "name": ..., "tags": [...], "variables": {...}})'
        )
        raise ApiError(422, "invalid_request", message, problems) from None
    sources = request.sources or []
    if sources and len(sources) != len(request.suites):
        raise UsageError(
            f"sources has {len(sources)} names for {len(request.suites)} suites: give one per suite"
        )
    return Submission(
        documents=[
            (sources[i] if sources else f"suites[{i}]", doc) for i, doc in enumerate(request.suites)
        ],
        name=request.name,
        tags=set(request.tags),
        variables=request.variables,
        require_baselines=request.require_baselines,
        trace=request.trace,
        metadata=request.metadata,
        order=request.order,
        max_failures=request.max_failures,
        only=frozenset((t.suite, t.test) for t in request.only)
        if request.only is not None
        else None,
        picked_from=request.picked_from,
    )


def load_suites(
    submission: Submission, limits: LimitSettings, targets: TargetPolicy | None = None
) -> list[Suite]:
    """Every suite validated within ``limits`` (and its targets checked against
    ``targets``); ``SuiteError`` with every problem of every suite, ``LimitError`` when
    the run as a whole is too big."""
    suites: list[Suite] = []
    problems: list[str] = []
    names = SuiteNames()
    run_limits = RunLimits(limits)
    for source, raw in submission.documents:
        try:
            document = parse_yaml(raw, limits, source) if isinstance(raw, str) else raw
            suite = load_document(
                document, submission.variables, source, limits=run_limits, targets=targets
            )
        except SuiteError as exc:
            problems += exc.problems
            continue
        except RecursionError:
            problems.append(f"{source}: nested too deeply to be a suite")
            continue
        taken = names.taken(suite, source)
        if taken:
            problems.append(taken)
        suites.append(suite)
    if problems:
        raise SuiteError(problems)
    return suites


def new_run_id() -> str:
    """A run id: UTC submission time (sorts by time) plus randomness."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def run_links(settings: Settings, run_id: str) -> RunLinks:
    """Where a run's detail, events and reports are."""
    gateway = settings.gateway_url
    return RunLinks(
        self=run_path(run_id),
        events=run_events_url(gateway, run_id),
        websocket=run_websocket_url(gateway, run_id),
        report=report_path(run_id),
        junit=junit_path(run_id),
        dashboard=dashboard_url(gateway, run_id),
    )


@dataclass
class Planned:
    """A submission loaded and split into its run's record, cases and case specs."""

    name: str
    record: RunRecord
    cases: list[CaseResult]
    specs: dict[str, str]
    order: OrderMode = DEFAULT_ORDER
    """The submission's ``order``, else the first suite's that sets one, else the default."""
    max_failures: int | None = None
    """The submission's ``max_failures``, else the suites' smallest."""


def plan_submission(
    submission: Submission,
    limits: LimitSettings,
    targets: TargetPolicy,
    run_id: str,
    project: str,
    submitted_by: str | None,
) -> Planned:
    """Every suite of ``submission`` loaded within ``limits`` and planned as the run
    ``run_id`` (``load_suites``, ``plan_run``): the work ``submit`` bounds in a child."""
    suites = load_suites(submission, limits, targets)
    name = submission.name or ", ".join(s.name for s in suites)[:200]
    record, cases, specs = plan_run(
        run_id,
        project,
        suites,
        submission.tags,
        name,
        submitted_by=submitted_by,
        require_baselines=submission.require_baselines,
        trace=submission.trace,
        metadata=submission.metadata,
        only=submission.only,
    )
    suite_orders = [s.order for s in suites if s.order is not None]
    order = submission.order or (suite_orders[0] if suite_orders else DEFAULT_ORDER)
    limits_set = [s.max_failures for s in suites if s.max_failures is not None]
    max_failures = submission.max_failures or (min(limits_set) if limits_set else None)
    return Planned(name, record, cases, specs, order, max_failures)


class _Planning:
    """Submissions being planned, per project: at most ``max_plans_per_project`` each, so
    that one project's submissions never hold every planner thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}

    def running(self, project: str) -> int:
        """Submissions of ``project`` being planned now."""
        with self._lock:
            return self._running.get(project, 0)

    @contextmanager
    def slot(self, project: str, limits: LimitSettings) -> Iterator[None]:
        with self._lock:
            running = self._running.get(project, 0)
            if running >= limits.max_plans_per_project:
                raise RateLimited(
                    f"project {project} already has {running} submissions being planned; "
                    f"send this one when one of them is answered, or raise "
                    f"{setting('max_plans_per_project')}",
                    _BUSY_RETRY_S,
                )
            self._running[project] = running + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._running.pop(project) - 1
                if left:
                    self._running[project] = left


planning = _Planning()
"""The API process's submissions being planned."""


def submit(services: Services, key: ApiKey, submission: Submission) -> RunSubmitted:
    """Validate, record and queue a submission as a run of ``key``'s project, within the
    fleet's limits and the project's quotas (``api.quotas``)."""
    quotas = services.quotas
    quotas.check_rate(key)
    limits = services.settings.limits
    targets = TargetPolicy.from_settings(services.settings)
    run_id = new_run_id()
    arguments = (submission, limits, targets, run_id, key.project, key.id)
    with planning.slot(key.project, limits):
        planned = run_bounded(
            Bounds.of(limits), "planning the submission", plan_submission, *arguments
        )
    name, record, cases, specs = planned.name, planned.record, planned.cases, planned.specs
    quotas.check_priority(key, cases)
    quotas.check_queue(key, len(cases))
    cases, record.schedule = _ordered(services, key.project, planned, submission)
    started = Event(
        type="run_started",
        run_id=run_id,
        project_id=key.project,
        correlation_id=run_id,
        source=services.store.source,
        payload=RunStarted(
            runId=run_id,
            name=name,
            total=record.total,
            suites=record.suites,
            tags=record.tags,
            tests=[_test_entry(c) for c in cases],
            order=record.schedule.order,
            maxFailures=record.schedule.max_failures,
        ).dump(),
    )
    store = services.store
    store.create_run(record, cases, specs, started)
    quotas.opened(key.project, run_id, record.created_ms)
    try:
        services.dispatcher.dispatch(cases)
    except InfrastructureError:
        # Nothing may wait forever for tasks that were never sent.
        try:
            store.cancel_run(run_id)
        except (TestfleetError, redis.RedisError):
            log.exception("could not cancel run %s after its dispatch failed", run_id)
        raise
    services.metrics.runs.inc()
    services.metrics.cases.inc(len(cases))
    log.info(
        "run %s queued: project=%s cases=%d",
        run_id,
        key.project,
        len(cases),
        extra={"run_id": run_id},
    )
    return RunSubmitted(
        runId=run_id, status="queued", total=len(cases), links=run_links(services.settings, run_id)
    )


def _ordered(
    services: Services, project: str, planned: Planned, submission: Submission
) -> tuple[list[CaseResult], Schedule]:
    """The planned cases in dispatch order and the run's schedule (``api.scheduling``):
    from the history when it answers, on the workers alive now."""
    branch = submission.metadata.branch if submission.metadata is not None else None
    known = ask_history(services.history, project, planned.record.suites, branch, planned.order)
    try:
        slots = sum(w.concurrency for w in read_workers(services.store.redis) if w.alive(now_ms()))
    except redis.RedisError:
        slots = 1
    return schedule(
        planned.cases,
        planned.order,
        known,
        slots,
        max_failures=planned.max_failures,
        picked_from=submission.picked_from,
    )


def _test_entry(case: CaseResult) -> CaseEntry:
    return CaseEntry(
        testId=case.case_id,
        name=case.name,
        suite=case.suite,
        tags=case.tags,
        priority=case.priority,
        dispatchPosition=case.dispatch_position,
        expectedMs=case.expected_ms,
    )
