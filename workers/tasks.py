"""Running one test case: the typed ``run_case`` and the Celery task around it.

``run_case`` is what a delivery of ``testfleet.run_case(run_id, case_id)`` does;
tests call it directly, without a broker. It

1. claims the case and reads all it needs in one round trip (``RunStore.start_case``):
   a case already final is left alone
   (a redelivery after another worker finished it), a cancelled run's case is
   finished ``cancelled``, and a case whose earlier deliveries were all lost
   ``worker.max_lost_deliveries`` times is finished ``error`` without running (a
   test that crashes or hangs its worker is not redelivered for ever);
2. runs attempts, each in a fresh browser session that is always closed:
   ``retry_count`` more after a failure (a later pass is ``flaky``), and a new
   session when the browser died under the test (bounded by
   ``MAX_BROWSER_RESTARTS``, not taken from the retry budget);
3. records each attempt's evidence as its trace mode says (``testfleet.evidence``: the
   executor reports its steps to a ``TraceRecorder``) and stores the trace zip of each
   attempt the mode keeps, named on the attempt (``AttemptSummary.trace``);
4. publishes ``test_started`` per attempt and ``test_progress`` per step, each
   stored together with the case's state (``update_case``), and one final
   ``test_completed`` / ``test_failed`` / ``test_cancelled`` (``finish_case``,
   exactly once however often the task is delivered).

Redis errors are not caught: the task raises, the case stays non-final, and the
message is delivered again. Everything else that goes wrong ends the case
``error`` with a message, rather than redelivering a case that would fail again.

Event payloads (``correlationId`` = case id, ``source`` = worker name) are built
through their models in ``testfleet.payloads``: ``CaseStarted`` (test_started),
``CaseProgress`` (test_progress, one per step; ``visual`` for ``assert_screenshot``
steps), ``CaseFinished`` (the final event).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import redis
from celery import Task, shared_task
from celery.exceptions import Reject
from celery.signals import worker_process_shutdown
from selenium.webdriver.remote.webdriver import WebDriver

from testfleet import logs
from testfleet.artifacts import (
    ArtifactStore,
    artifact_url,
    case_artifact_name,
    open_store,
    trace_name,
)
from testfleet.constants import RUN_CASE_TASK
from testfleet.errors import InfrastructureError, NotFoundError
from testfleet.events import Event, now_ms
from testfleet.evidence import captures, keeps
from testfleet.evidence.failure import FailureEvidence
from testfleet.evidence.recorder import TraceRecorder
from testfleet.fleet.browser import (
    BrowserProvider,
    command_timeout_s,
    load_provider,
    set_command_timeout,
)
from testfleet.masking import Masker
from testfleet.payloads import (
    CaseEvent,
    CaseFinished,
    CaseOutcome,
    CaseProgress,
    CaseStarted,
    Payload,
    Progress,
    VisualCheck,
)
from testfleet.results import (
    FAILING_STATUSES,
    GOOD_STATUSES,
    AttemptSummary,
    CaseResult,
    FinalCaseStatus,
    StepResult,
)
from testfleet.settings import Settings
from testfleet.store import RunStore
from testfleet.store.writes import CANCELLED, LOST_TOO_OFTEN, Progressed
from testfleet.suites.model import CaseSpec
from testfleet.suites.steps.model import walk
from testfleet.targets.policy import TargetPolicy
from testfleet.visual import BaselineStore
from workers.analysis import analyze_attempt, evidence_of
from workers.app_settings import app_settings
from workers.executor import (
    AttemptOutcome,
    Hooks,
    VisualContext,
    execute_steps,
    planned_rows,
    skipped_results,
)
from workers.metrics import AttemptMetrics, record_final
from workers.project_slots import project_slot
from workers.steplog import with_step_log, write_step_log
from workers.visual_verdict import cosmetic_warnings

log = logs.get_logger(__name__)

MAX_BROWSER_RESTARTS = 2
"""New sessions one delivery may open after the browser died (or failed to open)."""


def _final_event(status: str) -> str:
    """The event that records a case's final ``status``."""
    if status in GOOD_STATUSES:
        return "test_completed"
    return "test_cancelled" if status == "cancelled" else "test_failed"


def run_case(
    store: RunStore,
    provider: BrowserProvider,
    artifacts: ArtifactStore,
    settings: Settings,
    run_id: str,
    case_id: str,
    worker_name: str,
) -> CaseResult | None:
    """Run one case of a run to its final status and record it.

    Returns the final result, or None when this delivery recorded nothing final
    (the case was already final, or another delivery finished it meanwhile).
    Raises ``NotFoundError`` for an unknown or expired case, and Redis errors as
    they come (the case stays non-final so a redelivery can finish it).
    """
    start = store.start_case(run_id, case_id, CaseSpec)
    if start is None:
        log.info("case %s is already final; nothing to do", case_id)
        return None
    record, attempt = start.record, start.attempt
    runner = _CaseRun(
        store, provider, artifacts, settings, start.case, record.project_id, worker_name
    )
    runner.require_baselines = record.require_baselines
    runner.max_failures = record.schedule.max_failures if record.schedule else None
    if attempt == CANCELLED:
        return runner.finish_cancelled()
    if attempt == LOST_TOO_OFTEN:
        return runner.finish_lost()
    spec = start.spec
    assert spec is not None  # an attempt began
    with logs.log_context(run_id=run_id, case_id=case_id, mask=Masker(spec.secrets)):
        log.info("case %s: attempt %d begins on %s", case_id, attempt, worker_name)
        return runner.run(spec, attempt)


class _Superseded(Exception):
    """The case became final elsewhere (another delivery) while this one ran it."""


@dataclass
class _Attempt:
    number: int
    outcome: AttemptOutcome
    timed_out: bool


class _CaseRun:
    """One delivery of one case: its attempts, events and final record."""

    def __init__(
        self,
        store: RunStore,
        provider: BrowserProvider,
        artifacts: ArtifactStore,
        settings: Settings,
        case: CaseResult,
        project_id: str,
        worker_name: str,
    ) -> None:
        self.store = store
        self.provider = provider
        self.artifacts = artifacts
        self.settings = settings
        self.case = case
        self.project_id = project_id
        self.worker = worker_name
        self.mask = Masker([])
        self.started_ms = now_ms()
        self.deadline = time.monotonic() + settings.worker.case_timeout_s
        """Monotonic time after which no further step starts (``case_timeout_s``)."""
        self._artifacts: list[str] = []
        self.spec: CaseSpec | None = None
        self.require_baselines = False
        """``--ci``: a missing visual baseline fails its step instead of being created."""
        self.max_failures: int | None = None
        """``--max-failures``: the run stops at this many failed tests."""
        self.targets = TargetPolicy.from_settings(settings)
        self.evidence: dict[int, FailureEvidence] = {}
        """The last attempt's failing steps' browser evidence, by step, for their analysis."""

    # -- the delivery --------------------------------------------------------------------

    def run(self, spec: CaseSpec, attempt: int) -> CaseResult | None:
        self.mask = Masker(spec.secrets)
        self.spec = spec
        previous = self.case
        self.case = previous.model_copy(
            update={
                "name": self.mask(previous.name),
                "status": "running",
                "worker": self.worker,
                "started_ms": self.started_ms,
                "retry_count": spec.retry_count,
                "total_steps": planned_rows(spec.test.steps),
                "history": list(previous.history),
                "artifacts": list(previous.artifacts),
            }
        )
        self._artifacts = list(previous.artifacts)
        self._record_lost_attempts(attempt, previous.worker)
        # A failure recorded by an earlier delivery still counts: a pass now is flaky.
        failures = sum(1 for h in self.case.history if h.status == "failed")
        restarts = 0
        try:
            while True:
                done = self._attempt(spec, attempt)
                outcome = done.outcome
                if outcome.status == "passed":
                    return self._finish("flaky" if failures else "passed", outcome)
                if done.timed_out:
                    return self._finish("error", outcome, error=self._timeout_message())
                if outcome.status == "cancelled":
                    return self._finish("cancelled", outcome)
                if outcome.browser_died:
                    restarts += 1
                    again = restarts <= MAX_BROWSER_RESTARTS
                else:
                    failures += 1
                    again = failures <= spec.retry_count
                if not again or time.monotonic() >= self.deadline:
                    return self._finish(outcome.status, outcome)
                attempt = self.store.begin_case(self.case.run_id, self.case.case_id, first=False)
                if attempt == 0:
                    return None
                if attempt == -1:
                    return self._finish("cancelled", outcome)
        except _Superseded:
            log.info("case %s was finished by another delivery", self.case.case_id)
            return None
        except redis.RedisError:
            raise  # not final: the message is redelivered and the case resumed
        except Exception as exc:
            # A bug, a full disk, or Celery's soft time limit: record it rather than
            # redeliver a case that would fail the same way.
            log.exception("case %s failed inside the worker", self.case.case_id)
            if time.monotonic() >= self.deadline:
                error = self._timeout_message()
            else:
                error = f"the worker failed: {type(exc).__name__}: {exc}"
            return self._finish("error", None, error=error)

    def _timeout_message(self) -> str:
        limit = self.settings.worker.case_timeout_s
        return (
            f"the test case exceeded its time limit of {limit} s "
            "(raise TESTFLEET_WORKER__CASE_TIMEOUT_S if it needs longer)"
        )

    def finish_cancelled(self) -> CaseResult | None:
        return self._finish("cancelled", None)

    def finish_lost(self) -> CaseResult | None:
        """Every earlier delivery claimed the case and none finished it: ``error`` now,
        rather than hand a test that kills or hangs its worker to the next one for ever."""
        lost = self.settings.worker.max_lost_deliveries
        log.warning(
            "case %s: %d deliveries lost; recording it as an error", self.case.case_id, lost
        )
        self._artifacts = list(self.case.artifacts)
        # The run's own count: a delivery lost before its first progress left none here.
        begun = self.store.attempts(self.case.run_id, self.case.case_id)
        self.case.attempts = max(self.case.attempts, begun)
        self._record_lost_attempts(self.case.attempts + 1, self.case.worker)
        error = (
            f"delivered {lost} times and lost each time: the test may crash or hang its "
            "worker (each delivery's worker died, was stopped or passed the hard time limit "
            "before recording a result; its last steps show where). It is not run again; "
            "TESTFLEET_WORKER__MAX_LOST_DELIVERIES sets how many losses are tolerated"
        )
        return self._finish("error", None, error=error)

    def _record_lost_attempts(self, attempt: int, previous_worker: str | None) -> None:
        """Attempts begun by a delivery that never finished them (its worker died)."""
        history = self.case.history
        recorded = {h.attempt for h in history}
        for lost in range(1, attempt):
            if lost not in recorded:
                history.append(
                    AttemptSummary(
                        attempt=lost,
                        status="interrupted",
                        worker=previous_worker or "unknown",
                        error="the worker stopped during this attempt; the case was redelivered",
                    )
                )
        history.sort(key=lambda h: h.attempt)

    # -- one attempt ---------------------------------------------------------------------

    def _attempt(self, spec: CaseSpec, number: int) -> _Attempt:
        case = self.case
        self.case = case.model_copy(
            update={"attempts": number, "steps": [], "error": None, "failed_step": None}
        )
        self._update(
            "test_started",
            CaseStarted(
                **self._ids(),
                attempt=number,
                tags=case.tags,
                environment=spec.environment,
                totalSteps=planned_rows(spec.test.steps),
                name=self.case.name,
                worker=self.worker,
            ),
        )
        hooks = _AttemptHooks(self, number)
        metrics = AttemptMetrics(self.provider)
        asked = time.monotonic()
        trace: bytes | None = None
        self.evidence = {}
        try:
            driver = self.provider.open(project=self.project_id)
            metrics.session_started(time.monotonic() - asked)
        except InfrastructureError as exc:
            # No session (Grid full or down): like a browser death, worth a bounded retry.
            skipped = skipped_results(spec.test.steps, self.mask)
            error = self.mask(f"could not open a browser: {exc}")
            outcome = AttemptOutcome("error", skipped, error=error, browser_died=True)
        else:
            longest_s = max(
                [spec.timeout_seconds, *(s.timeout_seconds or 0 for s in walk(spec.test.steps))]
            )
            set_command_timeout(driver, command_timeout_s(self.settings, longest_s))
            if captures(spec.trace, number):
                hooks.trace = self._recorder(driver, spec, number)
            try:
                outcome = execute_steps(driver, spec, hooks.as_hooks())
                trace = self._pack_trace(hooks, spec, number, outcome)
                if hooks.trace is not None:
                    self.evidence = evidence_of(hooks.trace, outcome.steps)
            finally:
                if hooks.trace is not None:
                    hooks.trace.close()
                self.provider.close(driver)
        metrics.steps(outcome.steps)
        metrics.write(self.store.redis)
        if hooks.superseded:
            raise _Superseded
        self._artifacts += outcome.artifacts
        status = "error" if hooks.timed_out else outcome.status
        stored_trace = None
        if trace is not None:
            stored_trace = self.artifacts.save(
                self.case.run_id, trace_name(self.case.case_id, number), trace
            )
            self._artifacts.append(stored_trace)
        self.case.history.append(
            AttemptSummary(
                attempt=number,
                status=status,
                worker=self.worker,
                duration_ms=outcome.duration_ms,
                error=outcome.error,
                trace=stored_trace,
            )
        )
        return _Attempt(number, outcome, hooks.timed_out)

    def _recorder(self, driver: WebDriver, spec: CaseSpec, number: int) -> TraceRecorder:
        return TraceRecorder(
            driver,
            mode=spec.trace,
            run_id=self.case.run_id,
            case_id=self.case.case_id,
            test_name=self.case.name,
            attempt=number,
            secrets=spec.secrets,
            mask=self.mask,
            watch_dialogs=any(s.kind == "dialog" for s in walk(spec.test.steps)),
        )

    def _pack_trace(
        self, hooks: _AttemptHooks, spec: CaseSpec, number: int, outcome: AttemptOutcome
    ) -> bytes | None:
        """The attempt's trace zip when its mode keeps it (read while the session is open);
        a passing attempt under ``retain-on-failure`` costs nothing here."""
        status = "error" if hooks.timed_out else outcome.status
        if hooks.trace is None or not keeps(spec.trace, number, status):
            return None
        try:
            return hooks.trace.finish(outcome.steps, status, outcome.browser_died)
        except Exception:
            # The evidence of a result must never change the result: a trace that cannot
            # be packed (a bug, a page that broke the serialiser) is logged and left out.
            log.exception(
                "case %s: attempt %d's trace could not be packed", self.case.case_id, number
            )
            return None

    # -- recording -----------------------------------------------------------------------

    def _case(self) -> CaseEvent:
        """What every payload about this case carries (its test's category is what the
        ``testTypes`` filter reads)."""
        category = self.spec.test.category if self.spec is not None else None
        return CaseEvent(
            testId=self.case.case_id, testSuiteId=self.case.suite, testType=category or None
        )

    def _ids(self) -> dict[str, Any]:
        """The fields every payload about this case starts with."""
        return self._case().dump()

    def _event(self, type_: str, payload: Payload) -> Event:
        """An event of this case."""
        return Event(
            type=type_,
            run_id=self.case.run_id,
            project_id=self.project_id,
            payload=payload.dump(),
            correlation_id=self.case.case_id,
            source=self.worker,
        )

    def _update(self, type_: str, payload: Payload) -> Progressed:
        """Store the case's state with one event; the case may have become final elsewhere.
        The answer carries the run's state as of the write (``Progressed.stop_reason``)."""
        written = self.store.progress_case(self.case, self._event(type_, payload))
        if not written.stored:
            raise _Superseded
        return written

    def progress(
        self,
        step: StepResult,
        number: int,
        total: int,
        attempt: int,
        trace: TraceRecorder | None = None,
    ) -> Progressed:
        self.case.steps.append(step)
        shot = step.screenshot
        return self._update(
            "test_progress",
            CaseProgress(
                **self._ids(),
                attempt=attempt,
                progress=Progress(
                    percentage=round(100 * number / total) if total else 100,
                    currentStep=step.label,
                    stepNumber=number,
                    totalSteps=total,
                    duration=now_ms() - self.started_ms,
                    screenshot=artifact_url(self.case.run_id, shot) if shot else None,
                ),
                stepStatus=step.status,
                stepDuration=step.duration_ms,
                stepError=step.error,
                stepDepth=step.depth,
                stepParent=step.parent,
                visual=self._visual_payload(step) if step.visual else None,
                consoleErrors=trace.console_errors if trace else 0,
                failedRequests=trace.failed_requests if trace else 0,
                accessibility=step.accessibility,
                performance=step.performance,
            ),
        )

    def _visual_payload(self, step: StepResult) -> VisualCheck:
        """What a follower (the dashboard) needs to show a visual check: the figures and
        the three pictures' URLs."""
        visual = step.visual
        assert visual is not None
        run_id = self.case.run_id

        def url(name: str | None) -> str | None:
            return artifact_url(run_id, name) if name else None

        return VisualCheck(
            outcome=visual.outcome,
            baselineId=visual.baseline_id,
            baselineVersion=visual.baseline_version,
            name=visual.name,
            diffRatio=visual.diff_ratio,
            changedPx=visual.changed_px,
            region=visual.region,
            actualUrl=url(visual.actual),
            baselineUrl=url(visual.baseline),
            diffUrl=url(visual.diff),
        )

    def visual_context(self) -> VisualContext:
        """The project's baselines and the run's rules, for ``assert_screenshot``."""
        ai = self.settings
        return VisualContext(
            baselines=BaselineStore(self.artifacts, self.project_id),
            require_baselines=self.require_baselines,
            # A mismatch only goes on when a cosmetic verdict could still forgive it.
            lenient=ai.ai.visual_downgrade_cosmetic and bool(ai.openai_api_key),
            run_id=self.case.run_id,
            case_id=self.case.case_id,
        )

    def save_artifact(self, attempt: int, name: str, data: bytes) -> str:
        stored = case_artifact_name(self.case.case_id, attempt, name)
        return self.artifacts.save(self.case.run_id, stored, data)

    def _finish(
        self, status: str, outcome: AttemptOutcome | None, error: str | None = None
    ) -> CaseResult | None:
        finished = now_ms()
        good = status in GOOD_STATUSES
        if good:
            error = None
        elif error is None and outcome is not None:
            error = outcome.error
        update: dict[str, Any] = {
            "status": status,
            "finished_ms": finished,
            "duration_ms": finished - (self.case.started_ms or finished),
            "artifacts": self._artifacts,
            "error": self.mask(error) if error else None,
            "failed_step": outcome.failed_step if outcome and not good else None,
        }
        if outcome is not None:
            update["steps"] = outcome.steps
        if outcome is not None and self.spec is not None and status != "cancelled":
            read = partial(self.artifacts.read, self.case.run_id)
            update["ai"] = analyze_attempt(
                self.settings,
                self.store.redis,
                self.store.publish,
                self._event,
                self.case.run_id,
                self.spec,
                outcome.steps,
                read,
                self.project_id,
                case=self._case(),
                evidence=self.evidence,
            )
            warned = cosmetic_warnings(self.settings, status, outcome.steps, update["ai"])
            if warned is not None:
                status = "passed"
                update.update(status=status, steps=warned, error=None, failed_step=None)
        self.case = self.case.model_copy(update=update)
        self.case.artifacts = self._artifacts = with_step_log(self.case)
        event = self._event(
            _final_event(status),
            CaseFinished(
                **self._ids(),
                name=self.case.name,
                result=CaseOutcome(
                    status=cast(FinalCaseStatus, status),
                    error=self.case.error,
                    failedStep=self.case.failed_step,
                ),
                duration=self.case.duration_ms,
                attempts=self.case.attempts,
                artifacts=[artifact_url(self.case.run_id, a) for a in self._artifacts],
            ),
        )
        if not self.store.finish_case(self.case, event):
            log.info("case %s was already final; this result is dropped", self.case.case_id)
            return None
        if status in FAILING_STATUSES:
            self._stop_run_if_too_many_failed()
        attempts = self.case.attempts
        log.info(
            "case %s: %s after %d attempt(s)",
            *(self.case.case_id, status, attempts),
            extra={"event": event.type},
        )
        write_step_log(self.artifacts, self.case, self.mask)
        record_final(self.store.redis, self.case)  # once: only the delivery that finished it
        return self.case

    def _stop_run_if_too_many_failed(self) -> None:
        """``--max-failures``: at the Nth failed test, cancel the queued cases now (the
        running ones see the run cancelled at their next step). Each failing delivery
        counts after its own final write, so the Nth one always sees N."""
        if self.max_failures is None:
            return
        failed = self.store.failed_count(self.case.run_id)
        if failed < self.max_failures:
            return
        cancelled = self.store.stop_early(self.case.run_id, _stop_reason(self.max_failures))
        log.info(
            "run %s stopped at %d failed test(s): %d queued case(s) cancelled",
            *(self.case.run_id, failed, cancelled),
        )


def _stop_reason(max_failures: int) -> str:
    return f"stopped after {max_failures} failed test(s) (--max-failures {max_failures})"


class _AttemptHooks:
    """The executor's callbacks for one attempt."""

    def __init__(self, run: _CaseRun, attempt: int) -> None:
        self.run = run
        self.attempt = attempt
        self.superseded = False
        self.timed_out = False
        self.trace: TraceRecorder | None = None
        self.answered: Progressed | None = None
        """The last step's write, which read what ``should_stop`` asks next (then spent)."""

    def as_hooks(self) -> Hooks:
        return Hooks(
            on_step=self.on_step,
            should_stop=self.should_stop,
            save_artifact=self.save,
            targets=self.run.targets,
            visual=self.run.visual_context(),
            trace=self.trace,
        )

    def on_step(self, step: StepResult, number: int, total: int) -> None:
        try:
            self.answered = self.run.progress(step, number, total, self.attempt, self.trace)
        except _Superseded:
            self.superseded = True

    def should_stop(self) -> bool:
        if self.superseded:
            return True
        if time.monotonic() >= self.run.deadline:
            self.timed_out = True
            return True
        case = self.run.case
        if self.answered is not None:
            # Asked right after a step's write, which read the same fields in its call.
            reason = self.answered.stop_reason(self.attempt)
            self.answered = None
        else:
            reason = self.run.store.stop_reason(case.run_id, case.case_id, self.attempt)
        # Another delivery took the case over (this one's lease was lost): stop, so the
        # case never runs twice at once for longer than one step.
        self.superseded = reason == "superseded"
        return reason is not None

    def save(self, name: str, data: bytes) -> str:
        return self.run.save_artifact(self.attempt, name, data)


# -- the Celery task --------------------------------------------------------------------


@dataclass
class _Resources:
    pid: int
    settings: Settings
    store: RunStore
    provider: BrowserProvider
    artifacts: ArtifactStore


_resources: _Resources | None = None


def _process_resources(settings: Settings) -> _Resources:
    """This process's store, provider and artifact store, made on first use.

    Made lazily in the pool child, not in the parent before it forks: Redis
    connections and browser sessions must not be shared across processes.
    """
    global _resources  # noqa: PLW0603 - one set per process, by design
    pid = os.getpid()
    if _resources is None or _resources.pid != pid or _resources.settings is not settings:
        _resources = _Resources(
            pid=pid,
            settings=settings,
            store=RunStore.connect(settings),
            provider=load_provider(settings),
            artifacts=open_store(settings),
        )
    return _resources


def worker_name(node: str | None) -> str:
    """This process's name in results and events: ``<node name>:<pid>``
    (``tfworker-1@host:4242``), or ``worker@<host>:<pid>`` outside a worker
    (Celery's eager ``apply`` gives the bare host name)."""
    if not node or "@" not in node:
        node = f"worker@{node or socket.gethostname()}"
    return f"{node}:{os.getpid()}"


def _project_of(res: _Resources, run_id: str) -> str:
    """The run's project, for its running slots: read (one more round trip before the case
    starts) only when the slots are capped, as they are taken before the case is claimed."""
    if not res.settings.limits.max_running_cases:
        return ""  # project_slot holds nothing
    record = res.store.get_record(run_id)
    return record.project_id if record is not None else ""


def _run_case_task(self: Task[Any, Any], run_id: str, case_id: str) -> str | None:
    """Celery's entry: ``run_case`` with this process's resources."""
    res = _process_resources(app_settings(self.app))
    name = worker_name(self.request.hostname)
    res.store.source = name  # run_completed, when this case completes the run, names us
    with logs.log_context(run_id=run_id, case_id=case_id, worker=name):
        try:
            with project_slot(res.settings, res.store.redis, _project_of(res, run_id), case_id):
                result = run_case(
                    res.store, res.provider, res.artifacts, res.settings, run_id, case_id, name
                )
        except NotFoundError as exc:
            log.warning("dropping the task for case %s: %s", case_id, exc)
            return None
        except redis.RedisError as exc:
            # Nothing final was recorded: put the message back for a later delivery.
            log.error("Redis failed during case %s (%s); requeueing it", case_id, exc)
            raise Reject(str(exc), requeue=True) from exc
    return result.status if result is not None else None


# Registered as a shared task: every Celery app gets it once finalized, so the app
# (and its settings) is made by the entry point, never at import time here. Applied
# as a call because celery is untyped (a decorator would erase the function's types).
run_case_task = shared_task(name=RUN_CASE_TASK, bind=True)(_run_case_task)


@worker_process_shutdown.connect
def _close_browsers(**_: object) -> None:
    """A pool child exits: quit the browser sessions its pool holds, freeing Grid slots."""
    if _resources is not None and _resources.pid == os.getpid():
        _resources.provider.shutdown()
