"""Writing one finished run into the history database: its row, the identities of its
tests that are new, and every attempt, in ONE transaction.

Idempotent by run id: the run's row is inserted first with ``ON CONFLICT DO NOTHING``;
when it was there already, nothing else is written (a second delivery of the same run,
an archiver that died after committing but before acknowledging). The labels of the
run's failures (``testfleet.history.labels``) are computed and kept in the same
transaction, and so are the values its performance and accessibility steps recorded
(``StepMetric``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from testfleet.history.labels import QuarantineLookup, in_quarantine, store_labels
from testfleet.history.models import Attempt, Run, StepMetric
from testfleet.history.signature import signature
from testfleet.results import CaseResult, RunMetadata, RunRecord, RunResult, StepResult
from testfleet.settings import HistorySettings

NO_DATA_ROW = ""
"""``cases.data_row`` of a test without data rows (a data row's name is in its test name
until the run store records rows apart)."""

FAILED_STATUSES = frozenset({"failed", "error"})
"""Attempt statuses that carry a failure signature."""

TestKey = tuple[str, str, str, str]
"""A test's identity: project, suite, test name, data row."""


def _at(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


def _run_row(result: RunResult, record: RunRecord) -> dict[str, object]:
    meta = record.metadata or RunMetadata()
    return {
        "branch": meta.branch,
        "commit": meta.commit,
        "pull_request": meta.pull_request,
        "ci_provider": meta.ci_provider,
        "build_url": meta.build_url,
        "author": meta.author,
        "run_id": result.runId,
        "project": result.projectId,
        "name": result.name,
        "status": result.status,
        "submitted_by": record.submitted_by,
        "total": record.total,
        "counts": result.counts,
        "started_at": _at(result.createdMs),
        "finished_at": _at(result.finishedMs),
    }


def _key(project: str, case: CaseResult) -> TestKey:
    return (project, case.suite, case.name, NO_DATA_ROW)


def _signature(status: str, error: str | None, step: StepResult | None) -> str | None:
    """A failed attempt's failure signature. Only a case's last attempt keeps its steps
    (the run store records them per case): an earlier attempt's signature has no step
    kind nor selector."""
    if status not in FAILED_STATUSES:
        return None
    if step is None:
        return signature(error, None, None).digest
    return signature(error, step.step_type, step.selector).digest


def _attempt_rows(project: str, case: CaseResult, case_pk: int) -> list[dict[str, object]]:
    started = _at(case.started_ms or case.finished_ms) or datetime.now(UTC)
    step = (
        next((s for s in case.steps if s.index == case.failed_step), None)
        if case.failed_step is not None
        else None
    )
    tries = case.history or []
    rows: list[dict[str, object]] = []
    for position, summary in enumerate(tries, start=1):
        last = position == len(tries)
        rows.append(
            {
                "run_id": case.run_id,
                "case_id": case_pk,
                "run_case": case.case_id,
                "project": project,
                "attempt": summary.attempt,
                "retry": summary.attempt - 1,
                "last": last,
                "status": summary.status,
                "case_status": case.status,
                "duration_ms": summary.duration_ms,
                "started_at": started,
                "worker": summary.worker,
                "failing_step_index": case.failed_step if last else None,
                "failing_step_kind": step.step_type if last and step else None,
                "failing_step_selector": step.selector if last and step else None,
                "error": summary.error,
                "error_signature": _signature(
                    summary.status, summary.error, step if last else None
                ),
                "artifacts": case.artifacts if last else [],
                "trace": summary.trace,
            }
        )
    if not rows:  # never attempted (cancelled while queued): the case's one outcome
        rows.append(
            {
                "run_id": case.run_id,
                "case_id": case_pk,
                "run_case": case.case_id,
                "project": project,
                "attempt": max(case.attempts, 1),
                "retry": max(case.attempts - 1, 0),
                "last": True,
                "status": case.status,
                "case_status": case.status,
                "duration_ms": case.duration_ms,
                "started_at": started,
                "worker": case.worker,
                "failing_step_index": case.failed_step,
                "failing_step_kind": step.step_type if step else None,
                "failing_step_selector": step.selector if step else None,
                "error": case.error,
                "error_signature": _signature(case.status, case.error, step),
                "artifacts": case.artifacts,
                "trace": None,
            }
        )
    return rows


_INSERT_CASES = text(
    """
INSERT INTO cases (project, suite, test, data_row, first_seen_at)
SELECT k.project, k.suite, k.test, k.data_row, :seen_at
FROM unnest(CAST(:projects AS text[]), CAST(:suites AS text[]), CAST(:tests AS text[]),
            CAST(:rows AS text[])) WITH ORDINALITY AS k(project, suite, test, data_row, n)
ORDER BY k.n
ON CONFLICT DO NOTHING
"""
)
_CASE_IDS = text(
    """
SELECT c.project, c.suite, c.test, c.data_row, c.id
FROM unnest(CAST(:projects AS text[]), CAST(:suites AS text[]), CAST(:tests AS text[]),
            CAST(:rows AS text[])) AS k(project, suite, test, data_row)
JOIN cases c ON c.project = k.project AND c.suite = k.suite AND c.test = k.test
            AND c.data_row = k.data_row
"""
)
"""A run's test identities pass as four arrays, one statement each way: one lookup of
the unique index per test (a row-value ``IN`` list compares every test with every row)."""


def _metric_rows(case: CaseResult, case_pk: int) -> list[dict[str, object]]:
    """What the case's performance and accessibility steps recorded (``StepMetric``)."""
    started = _at(case.started_ms or case.finished_ms) or datetime.now(UTC)
    rows: list[dict[str, object]] = []
    for step in case.steps:
        values: dict[str, float] = {}
        if step.performance is not None:
            values.update(step.performance.metrics)
        if step.accessibility is not None:
            found = step.accessibility
            values["a11y_elements"] = sum(len(v.nodes) for v in found.violations)
            values["a11y_new"] = found.new
        rows += [
            {
                "run_id": case.run_id,
                "case_id": case_pk,
                "run_case": case.case_id,
                "step": step.index,
                "label": step.label,
                "metric": metric,
                "value": float(value),
                "started_at": started,
            }
            for metric, value in values.items()
        ]
    return rows


def _case_ids(session: Session, keys: list[TestKey], seen_at: datetime) -> dict[TestKey, int]:
    """The ids of ``keys``' identities, created where new. Inserted in key order, so two
    archivers writing runs of the same tests lock the rows in the same order."""
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    projects, suites, tests, rows = (list(column) for column in zip(*ordered, strict=True))
    arrays = {"projects": projects, "suites": suites, "tests": tests, "rows": rows}
    session.execute(_INSERT_CASES, {**arrays, "seen_at": seen_at})
    found = session.execute(_CASE_IDS, arrays)
    return {(p, s, t, d): pk for p, s, t, d, pk in found}


def write_run(
    sessions: sessionmaker[Session],
    result: RunResult,
    record: RunRecord,
    history: HistorySettings | None = None,
    quarantined_among: QuarantineLookup = in_quarantine,
) -> bool:
    """Archive a finished run and the labels of its failures (by ``history``'s rules) in
    one transaction; False (nothing written) when it was archived already."""
    with sessions.begin() as session:
        inserted = session.execute(
            insert(Run)
            .values(_run_row(result, record))
            .on_conflict_do_nothing(index_elements=[Run.run_id])
            .returning(Run.run_id)
        ).first()
        if inserted is None:
            return False
        project = result.projectId
        seen_at = _at(result.createdMs) or datetime.now(UTC)
        ids = _case_ids(session, [_key(project, c) for c in result.tests], seen_at)
        rows = [
            row
            for case in result.tests
            for row in _attempt_rows(project, case, ids[_key(project, case)])
        ]
        # As many rows as the driver batches per statement ("insertmanyvalues"), with one
        # compiled statement: a statement of a thousand VALUES compiled anew per run cost
        # more than the database's work.
        session.execute(insert(Attempt).on_conflict_do_nothing(), rows)
        metrics = [
            row for case in result.tests for row in _metric_rows(case, ids[_key(project, case)])
        ]
        if metrics:
            session.execute(insert(StepMetric).on_conflict_do_nothing(), metrics)
        store_labels(session, result.runId, history or HistorySettings(), quarantined_among)
        return True
