"""What performance and accessibility steps recorded reaches the history database with
the run, one row per step and metric, so a test's trends can be read across runs."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from testfleet.history import db
from testfleet.history.archive import write_run
from testfleet.history.models import Case, StepMetric
from testfleet.results import (
    A11yNode,
    A11yViolation,
    AccessibilityResult,
    CaseResult,
    PerformanceResult,
    RunRecord,
    RunResult,
    StepResult,
)

pytestmark = [pytest.mark.postgres]


def _run(run_id: str, lcp_ms: float) -> tuple[RunResult, RunRecord]:
    speed = PerformanceResult(url="http://a/", metrics={"lcp_ms": lcp_ms, "cls": 0.02})
    found = AccessibilityResult(
        baseline_id="b",
        suite="site",
        test="home",
        name="page",
        browser="chrome",
        url="http://a/",
        fail_on="serious",
        axe_version="4.14.1",
        violations=[
            A11yViolation(
                rule="image-alt",
                impact="critical",
                description="d",
                help="h",
                help_url="u",
                nodes=[A11yNode(target="#a", html="<img>"), A11yNode(target="#b", html="<img>")],
            )
        ],
        new=2,
    )
    steps = [
        StepResult(index=1, label="navigate /", step_type="navigate", status="passed"),
        StepResult(
            index=2,
            label="assert performance",
            step_type="assert",
            status="passed",
            performance=speed,
        ),
        StepResult(
            index=3,
            label="assert accessible",
            step_type="assert",
            status="failed",
            accessibility=found,
        ),
    ]
    case = CaseResult(
        case_id=f"{run_id}-1",
        run_id=run_id,
        suite="site",
        name="home",
        status="failed",
        attempts=1,
        started_ms=1_000 * len(run_id),
        steps=steps,
    )
    result = RunResult(
        runId=run_id,
        projectId="shop",
        name="n",
        status="failed",
        createdMs=1_000,
        finishedMs=2_000,
        counts={"failed": 1},
        tests=[case],
    )
    return result, RunRecord(
        run_id=run_id, project_id="shop", name="n", suites=["site"], created_ms=1_000, total=1
    )


def test_each_steps_metrics_are_archived_with_the_run_once(engine: Engine) -> None:
    sessions = db.sessions(engine)
    for run_id, lcp_ms in (("run-a", 900.0), ("run-bb", 1200.0)):
        assert write_run(sessions, *_run(run_id, lcp_ms))
    assert not write_run(sessions, *_run("run-a", 900.0)), "written once"
    with engine.connect() as conn:
        rows = conn.execute(
            select(StepMetric.run_id, StepMetric.step, StepMetric.metric, StepMetric.value)
            .join(Case, Case.id == StepMetric.case_id)
            .where(Case.test == "home")
            .order_by(StepMetric.started_at, StepMetric.step, StepMetric.metric)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("run-a", 2, "cls", 0.02),
        ("run-a", 2, "lcp_ms", 900.0),
        ("run-a", 3, "a11y_elements", 2.0),
        ("run-a", 3, "a11y_new", 2.0),
        ("run-bb", 2, "cls", 0.02),
        ("run-bb", 2, "lcp_ms", 1200.0),
        ("run-bb", 3, "a11y_elements", 2.0),
        ("run-bb", 3, "a11y_new", 2.0),
    ]
