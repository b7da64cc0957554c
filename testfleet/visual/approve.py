"""Approving a run's screenshots: what ``testfleet baselines approve RUN_ID`` promotes.

A visual assertion's screenshot is promoted when the step did not pass because of
its baseline: it differed (``mismatch``, failed or downgraded to a warning) or
there was none and the run required one (``missing``). Each becomes the next
version of the baseline the step was compared with, in the run's own project.
Screenshots that matched, or that became a baseline when the run made it, are
left alone; so is an assertion with ``not: true`` (its baseline is not what it
expected to see).

An accessibility assertion (``assert_accessible``) that failed on new violations is
approved the same way: every violation it found becomes its baseline's next version
(``testfleet.visual.accessibility``), so only violations found later fail it.
"""

from __future__ import annotations

import io

from PIL import Image
from pydantic import BaseModel

from testfleet.artifacts import ArtifactStore
from testfleet.errors import NotFoundError
from testfleet.results import CaseResult, RunResult, StepResult
from testfleet.visual import accessibility
from testfleet.visual.baselines import BaselineIdentity, BaselineStore

APPROVABLE_STEP_STATUSES = ("failed", "warning")


class Approved(BaseModel):
    """One screenshot promoted to a baseline."""

    baselineId: str
    version: int
    suite: str
    test: str
    name: str
    viewport: str
    caseId: str
    step: int
    screenshot: str
    """The run's artifact that became the baseline (accessibility: the step's label)."""
    kind: str = "screenshot"
    """``screenshot``, or ``accessibility`` (accepted violations)."""


def approvable(run: RunResult, test: str | None = None) -> list[tuple[CaseResult, StepResult]]:
    """The (case, step) pairs whose screenshot approving would promote; ``test`` keeps only
    that test's (``NotFoundError`` naming the run's tests when it has none of that name)."""
    cases = run.tests
    if test is not None:
        cases = [c for c in cases if c.name == test]
        if not cases:
            names = ", ".join(sorted({c.name for c in run.tests})) or "none"
            raise NotFoundError(f"run {run.runId} has no test named {test!r}; its tests: {names}")
    return [
        (case, step)
        for case in cases
        for step in case.steps
        if step.visual is not None
        and step.visual.actual
        and step.visual.outcome in ("mismatch", "missing")
        and step.status in APPROVABLE_STEP_STATUSES
    ]


def approve(
    run: RunResult,
    artifacts: ArtifactStore,
    approved_by: str | None,
    test: str | None = None,
) -> list[Approved]:
    """Promote ``run``'s approvable screenshots (``approvable``) to baselines of the run's
    project; returns what became which version."""
    store = BaselineStore(artifacts, run.projectId)
    done: list[Approved] = []
    for case, step in approvable(run, test):
        visual = step.visual
        assert visual is not None
        assert visual.actual is not None
        png = artifacts.read(run.runId, visual.actual)
        with Image.open(io.BytesIO(png)) as image:
            size = image.size
        identity = BaselineIdentity(
            visual.suite, visual.test, visual.name, visual.viewport, visual.browser
        )
        version = store.add(
            identity,
            png,
            size,
            "approved",
            run_id=run.runId,
            case_id=case.case_id,
            step=step.index,
            approved_by=approved_by,
            baseline_id=visual.baseline_id,
        )
        done.append(
            Approved(
                baselineId=version.id,
                version=version.version,
                suite=visual.suite,
                test=visual.test,
                name=visual.name,
                viewport=visual.viewport,
                caseId=case.case_id,
                step=step.index,
                screenshot=visual.actual,
            )
        )
    for case, step in approvable_accessibility(run, test):
        found = step.accessibility
        assert found is not None
        version = accessibility.approve_found(
            store,
            found,
            run_id=run.runId,
            case_id=case.case_id,
            step=step.index,
            approved_by=approved_by,
        )
        done.append(
            Approved(
                baselineId=version.id,
                version=version.version,
                suite=found.suite,
                test=found.test,
                name=found.name,
                viewport=version.viewport,
                caseId=case.case_id,
                step=step.index,
                screenshot=step.label,
                kind="accessibility",
            )
        )
    return done


def approvable_accessibility(
    run: RunResult, test: str | None = None
) -> list[tuple[CaseResult, StepResult]]:
    """The (case, step) pairs of ``assert_accessible`` steps that failed on new violations
    (not ``not: true`` ones: their failure is finding none)."""
    cases = [c for c in run.tests if test is None or c.name == test]
    return [
        (case, step)
        for case in cases
        for step in case.steps
        if step.accessibility is not None
        and step.accessibility.new > 0
        and step.status in APPROVABLE_STEP_STATUSES
    ]
