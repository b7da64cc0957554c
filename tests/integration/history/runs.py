"""Finished runs made through the real run store, as workers finish them, and archived."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select

from cli.archiver import Archiver
from testfleet.events import Event, now_ms
from testfleet.history.models import Attempt, Case, Run
from testfleet.results import AttemptSummary, CaseResult, RunMetadata, RunRecord, StepResult
from testfleet.settings import Settings
from testfleet.store import RunStore

STATUSES = ("passed", "flaky", "failed")
"""A run's cases: one passes, one passes on its retry, one fails both attempts."""


FAILED_STEPS = [
    StepResult(index=1, label="navigate /cart", step_type="navigate", status="passed"),
    StepResult(index=2, label="click #go", step_type="click", status="failed", selector="#go"),
]
"""A failed case's steps: its second, a click on ``#go``, failed."""


def _attempts(status: str) -> list[AttemptSummary]:
    if status == "passed":
        return [AttemptSummary(attempt=1, status="passed", worker="w1", duration_ms=120)]
    failed = AttemptSummary(
        attempt=1, status="failed", worker="w1", duration_ms=300, error="element #go not found"
    )
    second = "passed" if status == "flaky" else "failed"
    error = None if second == "passed" else "element #go not found"
    return [
        failed,
        AttemptSummary(attempt=2, status=second, worker="w2", duration_ms=250, error=error),
    ]


def finish_run(
    store: RunStore,
    run_id: str,
    project: str = "shop",
    statuses: tuple[str, ...] = STATUSES,
    failed_steps: list[StepResult] | None = None,
) -> None:
    """Submit a run with one case per status and finish every case (the run completes);
    a failed case's steps are ``failed_steps`` (none by default)."""
    cases = [
        CaseResult(case_id=f"{run_id}-{i}", run_id=run_id, suite="checkout", name=f"test {i}")
        for i in range(len(statuses))
    ]
    record = RunRecord(
        run_id=run_id,
        project_id=project,
        name="nightly",
        suites=["checkout"],
        created_ms=now_ms(),
        total=len(cases),
        submitted_by="ci",
        metadata=RunMetadata(branch="main", commit="3816a68", ci_provider="github"),
    )
    started = Event("run_started", run_id, project, {"total": len(cases)}, source="test")
    store.create_run(record, cases, {c.case_id: "{}" for c in cases}, started)
    for case, status in zip(cases, statuses, strict=True):
        store.begin_case(run_id, case.case_id)
        history = _attempts(status)
        done = case.model_copy(
            update={
                "status": status,
                "attempts": len(history),
                "history": history,
                "started_ms": now_ms(),
                "finished_ms": now_ms(),
                "duration_ms": sum(a.duration_ms for a in history),
                "error": history[-1].error,
                "failed_step": 2 if status == "failed" else None,
                "artifacts": ["shot.png"] if status == "failed" else [],
                "steps": (failed_steps or []) if status == "failed" else [],
            }
        )
        kind = "test_failed" if status == "failed" else "test_completed"
        assert store.finish_case(done, Event(kind, run_id, project, {}, source="test"))


def archive_settings(redis_url: str, database_url: str, state_dir: Path) -> Settings:
    """An archiver's on ``redis_url`` writing into ``database_url``; it blocks 100 ms on an
    empty stream, so a test's last ``step`` returns soon."""
    return Settings(
        redis={"url": redis_url},
        database={"url": database_url, "archive_block_ms": 100},
        paths={"state_dir": state_dir},
    )


def drain(archiver: Archiver) -> None:
    """Step until the archive stream holds nothing (read or pending)."""
    while archiver.step():
        pass


def counts(engine: Engine) -> tuple[int, int, int]:
    """Rows in runs, cases and attempts."""
    with engine.connect() as conn:
        return (
            conn.scalar(select(func.count()).select_from(Run)) or 0,
            conn.scalar(select(func.count()).select_from(Case)) or 0,
            conn.scalar(select(func.count()).select_from(Attempt)) or 0,
        )


def archived_runs(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.scalars(select(Run.run_id)))
