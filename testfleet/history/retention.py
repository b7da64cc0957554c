"""History retention: deleting archived runs older than ``history.retention_days``, with
their attempts and failure labels, then the tests no attempt refers to any more.

In batches of ``history.prune_batch_runs`` runs, one short transaction each: the runs of a
batch are locked with ``FOR UPDATE SKIP LOCKED``, so two archivers pruning at once share
the work instead of waiting on each other, and an archive or a read is never blocked for
longer than one batch. A test identity goes only when it has no attempt left and was
first seen before the cutoff (a test of a run being archived right now is newer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from testfleet.history.models import Attempt, Case, FailureLabel, Run

CASE_BATCH = 1000
"""Orphaned test identities deleted per transaction."""


@dataclass(frozen=True)
class Pruned:
    """What one prune deleted."""

    runs: int = 0
    attempts: int = 0
    cases: int = 0


def cutoff(retention_days: int, now: datetime | None = None) -> datetime | None:
    """The instant before which history is pruned; None when ``retention_days`` is 0
    (kept forever)."""
    if retention_days <= 0:
        return None
    return (now or datetime.now(UTC)) - timedelta(days=retention_days)


def _prune_runs(session: Session, before: datetime, batch_runs: int) -> tuple[int, int]:
    """One batch: the oldest runs finished before ``before`` that no one else holds."""
    # A run cancelled before it started has no finish time: its submission counts.
    finished = func.coalesce(Run.finished_at, Run.started_at)
    ids = list(
        session.scalars(
            select(Run.run_id)
            .where(finished < before)
            .order_by(finished)
            .limit(batch_runs)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return 0, 0
    deleted = session.execute(delete(Attempt).where(Attempt.run_id.in_(ids)))
    attempts = cast("CursorResult[Any]", deleted).rowcount
    session.execute(delete(FailureLabel).where(FailureLabel.run_id.in_(ids)))
    session.execute(delete(Run).where(Run.run_id.in_(ids)))
    return len(ids), attempts


def _prune_cases(session: Session, before: datetime) -> int:
    """One batch of test identities first seen before ``before`` with no attempt left."""
    ids = list(
        session.scalars(
            select(Case.id)
            .where(Case.first_seen_at < before, ~exists().where(Attempt.case_id == Case.id))
            .order_by(Case.id)
            .limit(CASE_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(delete(Case).where(Case.id.in_(ids)))
    return len(ids)


def prune(
    sessions: sessionmaker[Session],
    before: datetime,
    batch_runs: int,
    stopping: Callable[[], bool] = lambda: False,
) -> Pruned:
    """Delete the runs that finished before ``before`` (their attempts and labels with
    them), then the test identities left without attempts; batch by batch until none is
    left or ``stopping()`` says to stop (what is left goes next time)."""
    runs = attempts = cases = 0
    while not stopping():
        with sessions.begin() as session:
            done, deleted = _prune_runs(session, before, batch_runs)
        if not done:
            break
        runs, attempts = runs + done, attempts + deleted
    while not stopping():
        with sessions.begin() as session:
            done = _prune_cases(session, before)
        if not done:
            break
        cases += done
    return Pruned(runs=runs, attempts=attempts, cases=cases)
