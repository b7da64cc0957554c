"""Histories written straight into the history database, attempt by attempt, for the
tests of its queries and routes (the archiver's own path has its tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from testfleet.history.models import Attempt, Case, Run

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
"""The seeded histories start here (inside the flaky list's default window)."""


@dataclass
class Try:
    """One attempt: status, duration, error and its signature."""

    status: str
    duration_ms: int
    error: str | None = None
    signature: str | None = None


@dataclass
class SeedRun:
    run_id: str
    hour: int
    """Started ``hour`` hours after ``T0``."""
    branch: str | None = "main"
    commit: str | None = None
    tests: dict[tuple[str, str], list[Try]] = field(default_factory=dict)
    """Per (suite, test): its attempts in order."""


def case_status(tries: list[Try]) -> str:
    last = tries[-1].status
    failed_before = any(t.status in ("failed", "error") for t in tries[:-1])
    return "flaky" if last == "passed" and failed_before else last


def seed(engine: Engine, project: str, runs: list[SeedRun]) -> None:
    """Write ``runs`` of ``project`` with their tests' identities and attempts."""
    with Session(engine) as session, session.begin():
        for run in runs:
            started = T0 + timedelta(hours=run.hour)
            session.add(
                Run(
                    run_id=run.run_id,
                    project=project,
                    name="seeded",
                    status="passed",
                    branch=run.branch,
                    commit=run.commit,
                    total=len(run.tests),
                    counts={},
                    started_at=started,
                    finished_at=started + timedelta(minutes=5),
                )
            )
            session.flush()
            for index, ((suite, test), tries) in enumerate(run.tests.items()):
                session.execute(
                    insert(Case)
                    .values(
                        project=project, suite=suite, test=test, data_row="", first_seen_at=started
                    )
                    .on_conflict_do_nothing()
                )
                case_id = session.scalar(
                    select(Case.id).where(
                        Case.project == project, Case.suite == suite, Case.test == test
                    )
                )
                assert case_id is not None
                final = case_status(tries)
                for number, t in enumerate(tries, start=1):
                    session.add(
                        Attempt(
                            run_id=run.run_id,
                            case_id=case_id,
                            run_case=f"{run.run_id}-{index}",
                            project=project,
                            attempt=number,
                            retry=number - 1,
                            last=number == len(tries),
                            status=t.status,
                            case_status=final,
                            duration_ms=t.duration_ms,
                            started_at=started,
                            error=t.error,
                            error_signature=t.signature,
                            failing_step_kind="click" if t.signature else None,
                            artifacts=[],
                        )
                    )
