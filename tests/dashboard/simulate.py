"""Runs recorded and progressed the way workers do it, without a browser or a broker.

``SimulatedRun`` writes through the run store (``create_run``, ``begin_case``,
``update_case``, ``finish_case``) with payloads built from ``testfleet.payloads``,
so the dashboard sees exactly the records and events a real fleet produces; a
screenshot step stores a real PNG in the artifact store.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from testfleet.artifacts import ArtifactStore, artifact_url
from testfleet.events import Event, now_ms
from testfleet.payloads import (
    AiAnalysisCompleted,
    CaseEntry,
    CaseFinished,
    CaseOutcome,
    CaseProgress,
    CaseStarted,
    Progress,
    RunStarted,
    VisualCheck,
)
from testfleet.results import (
    AccessibilityResult,
    AiCitation,
    Analysis,
    CaseResult,
    DiffExplanation,
    PerformanceResult,
    RunRecord,
    Schedule,
    StepResult,
    VisualResult,
)
from testfleet.store import RunStore

WORKER = "tfworker-1@sim:101"


def png(
    width: int = 320, height: int = 200, colour: tuple[int, int, int] = (40, 120, 200)
) -> bytes:
    """A small real PNG."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


@dataclass
class SimulatedRun:
    """One run of ``tests`` cases of ``steps`` steps each, in ``project``."""

    store: RunStore
    artifacts: ArtifactStore
    project: str
    name: str = "Checkout"
    tests: int = 2
    steps: int = 3
    tags: list[str] = field(default_factory=lambda: ["smoke"])
    run_id: str = field(default_factory=lambda: "sim-" + uuid.uuid4().hex[:10])
    cases: dict[str, CaseResult] = field(default_factory=dict)

    def create(self, created_ms: int | None = None) -> SimulatedRun:
        created = created_ms or now_ms()
        for i in range(1, self.tests + 1):
            case_id = f"{self.run_id}-{i:04d}"
            self.cases[case_id] = CaseResult(
                case_id=case_id,
                run_id=self.run_id,
                suite=self.name,
                name=f"test {i}",
                tags=self.tags,
                total_steps=self.steps,
                retry_count=1,
                # Dispatched longest first: here the last test was expected to be longest.
                dispatch_position=self.tests - i + 1,
                expected_ms=1000 * i,
            )
        record = RunRecord(
            run_id=self.run_id,
            project_id=self.project,
            name=self.name,
            suites=[self.name],
            created_ms=created,
            total=self.tests,
            schedule=Schedule(order="duration"),
        )
        started = self._event(
            "run_started",
            RunStarted(
                runId=self.run_id,
                name=self.name,
                total=self.tests,
                suites=[self.name],
                tests=[
                    CaseEntry(testId=c.case_id, name=c.name, suite=self.name, tags=c.tags)
                    for c in self.cases.values()
                ],
            ).dump(),
        )
        specs = {case_id: "{}" for case_id in self.cases}
        self.store.create_run(record, list(self.cases.values()), specs, started)
        return self

    @property
    def case_ids(self) -> list[str]:
        return list(self.cases)

    def _event(self, kind: str, payload: dict[str, Any], case_id: str | None = None) -> Event:
        return Event(
            type=kind,
            run_id=self.run_id,
            project_id=self.project,
            payload=payload,
            correlation_id=case_id or self.run_id,
            source=WORKER,
            timestamp_ms=now_ms(),
        )

    def start(self, case_id: str) -> None:
        attempt = self.store.begin_case(self.run_id, case_id)
        case = self.cases[case_id].model_copy(
            update={
                "status": "running",
                "attempts": attempt,
                "steps": [],
                "worker": WORKER,
                "started_ms": now_ms(),
            }
        )
        self.cases[case_id] = case
        payload = CaseStarted(
            testId=case_id,
            testSuiteId=self.name,
            name=case.name,
            attempt=attempt,
            tags=case.tags,
            totalSteps=self.steps,
            worker=WORKER,
        )
        assert self.store.update_case(case, self._event("test_started", payload.dump(), case_id))

    def step(
        self,
        case_id: str,
        number: int,
        *,
        screenshot: bool = False,
        error: str | None = None,
        parent: int | None = None,
        console_errors: int = 0,
        failed_requests: int = 0,
        accessibility: AccessibilityResult | None = None,
        performance: PerformanceResult | None = None,
    ) -> None:
        """Record step ``number`` of the case (a screenshot step saves a real PNG); with
        ``parent``, a step of the flow that step ``parent`` (its ``use:`` row) called;
        ``console_errors``/``failed_requests``: the attempt's live evidence counts so far."""
        case = self.cases[case_id]
        shot = None
        if screenshot:
            shot = self.artifacts.save(
                self.run_id, f"{case_id}-a1-step{number:02d}-page.png", png()
            )
        label = f"click #step-{number}"
        step = StepResult(
            index=number,
            label=label,
            step_type="click",
            status="failed" if error else "passed",
            duration_ms=12,
            error=error,
            screenshot=shot,
            depth=1 if parent else 0,
            parent=parent,
            accessibility=accessibility,
            performance=performance,
        )
        case.steps.append(step)
        payload = CaseProgress(
            testId=case_id,
            testSuiteId=self.name,
            attempt=case.attempts,
            progress=Progress(
                percentage=round(100 * number / self.steps),
                currentStep=label,
                stepNumber=number,
                totalSteps=self.steps,
                duration=now_ms() - (case.started_ms or now_ms()),
                screenshot=artifact_url(self.run_id, shot) if shot else None,
            ),
            stepStatus=step.status,
            stepDuration=12,
            stepError=error,
            stepDepth=step.depth,
            stepParent=parent,
            consoleErrors=console_errors,
            failedRequests=failed_requests,
            accessibility=accessibility,
            performance=performance,
        )
        assert self.store.update_case(case, self._event("test_progress", payload.dump(), case_id))

    def mismatch(self, case_id: str, number: int, explanation: DiffExplanation) -> None:
        """Record step ``number`` as an ``assert_screenshot`` that differed from its baseline
        (three real PNGs), then the model's explanation of it."""
        case = self.cases[case_id]
        names = {}
        for kind, colour in (
            ("actual", (200, 40, 40)),
            ("baseline", (40, 120, 200)),
            ("diff", (230, 0, 60)),
        ):
            names[kind] = self.artifacts.save(
                self.run_id, f"{case_id}-a1-step{number:02d}-hero-{kind}.png", png(colour=colour)
            )
        visual = VisualResult(
            outcome="mismatch",
            baseline_id="home-hero-0123456789abcdef",
            baseline_version=1,
            suite=self.name,
            test=case.name,
            name="hero",
            viewport="1280x800",
            browser="chrome",
            diff_ratio=0.0125,
            changed_px=800,
            total_px=64000,
            region=[10, 10, 80, 10],
            threshold=0.1,
            max_diff_ratio=0.0,
            actual=names["actual"],
            baseline=names["baseline"],
            diff=names["diff"],
        )
        error = 'screenshot "hero" differs from baseline v1'
        label = "assert_screenshot hero"
        step = StepResult(
            index=number,
            label=label,
            step_type="assert",
            status="failed",
            duration_ms=12,
            error=error,
            screenshot=names["actual"],
            visual=visual,
        )
        case.steps.append(step)
        url = {kind: artifact_url(self.run_id, name) for kind, name in names.items()}
        payload = CaseProgress(
            testId=case_id,
            testSuiteId=self.name,
            attempt=case.attempts,
            progress=Progress(
                percentage=round(100 * number / self.steps),
                currentStep=label,
                stepNumber=number,
                totalSteps=self.steps,
                duration=40,
                screenshot=url["actual"],
            ),
            stepStatus="failed",
            stepDuration=12,
            stepError=error,
            visual=VisualCheck(
                outcome="mismatch",
                baselineId=visual.baseline_id,
                baselineVersion=1,
                name="hero",
                diffRatio=visual.diff_ratio,
                changedPx=visual.changed_px,
                region=visual.region,
                actualUrl=url["actual"],
                baselineUrl=url["baseline"],
                diffUrl=url["diff"],
            ),
        )
        assert self.store.update_case(case, self._event("test_progress", payload.dump(), case_id))
        summary = "The banner's greeting changed."
        case.ai.append(
            Analysis(
                analysis_type="visual_diff",
                screenshot=names["actual"],
                step=number,
                status="completed",
                summary=summary,
                explanation=explanation,
                model="gpt-4o-mini",
            )
        )
        done = AiAnalysisCompleted(
            testId=case_id,
            testSuiteId=self.name,
            analysisType="visual_diff",
            screenshot=names["actual"],
            step=number,
            status="completed",
            summary=summary,
            model="gpt-4o-mini",
            confidence=explanation.confidence,
            explanation=explanation,
        )
        self.store.publish(self._event("ai_analysis_completed", done.dump(), case_id))

    def failure_analysis(self, case_id: str, number: int, citations: list[AiCitation]) -> None:
        """The model's ``error`` analysis of failing step ``number``, citing ``citations``
        of the browser's evidence, recorded with the case and published as a worker does."""
        case = self.cases[case_id]
        summary = "The save request answered 500."
        analysis = Analysis(
            analysis_type="error",
            screenshot=f"{case_id}-failure.png",
            step=number,
            status="completed",
            summary=summary,
            citations=citations,
            model="gpt-4o-mini",
        )
        case.ai.append(analysis)
        done = AiAnalysisCompleted(
            testId=case_id,
            testSuiteId=self.name,
            analysisType="error",
            screenshot=analysis.screenshot,
            step=number,
            status="completed",
            summary=summary,
            model="gpt-4o-mini",
            citations=citations,
        )
        self.store.publish(self._event("ai_analysis_completed", done.dump(), case_id))

    def finish(self, case_id: str, status: str = "passed", error: str | None = None) -> None:
        case = self.cases[case_id]
        artifacts = [s.screenshot for s in case.steps if s.screenshot]
        done = case.model_copy(
            update={
                "status": status,
                "finished_ms": now_ms(),
                "error": error,
                "failed_step": len(case.steps) if error else None,
                "artifacts": artifacts,
                "duration_ms": 40,
            }
        )
        self.cases[case_id] = done
        kind = {
            "passed": "test_completed",
            "flaky": "test_completed",
            "cancelled": "test_cancelled",
        }
        payload = CaseFinished(
            testId=case_id,
            testSuiteId=self.name,
            name=case.name,
            result=CaseOutcome(status=status, error=error, failedStep=done.failed_step),
            duration=40,
            attempts=case.attempts,
            artifacts=[artifact_url(self.run_id, a) for a in artifacts],
        )
        event = self._event(kind.get(status, "test_failed"), payload.dump(), case_id)
        assert self.store.finish_case(done, event)

    def play(self, case_id: str, status: str = "passed", screenshot_at: int | None = None) -> None:
        """A whole case: start, every step, the final status."""
        self.start(case_id)
        for n in range(1, self.steps + 1):
            failing = status == "failed" and n == self.steps
            self.step(
                case_id,
                n,
                screenshot=n == screenshot_at,
                error="expected h1 to contain Welcome" if failing else None,
            )
        self.finish(
            case_id, status, "expected h1 to contain Welcome" if status == "failed" else None
        )
