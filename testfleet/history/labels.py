"""The labels of an archived run's failures and its failure clusters, in the database.

When a run is archived (``testfleet.history.archive.write_run``), ``store_labels`` labels
each of its tests that failed (or passed only on a retry) from the test's history up to
that run (``testfleet.history.rules.labels``) and keeps the labels with the failure's
signature in ``failure_labels``, in the run's own transaction: a run is never seen
archived without its labels. ``run_labels`` reads them back with the run's failure
clusters (the failures of one signature: "14 failures, 1 cause"), as the ``run_labels``
event and the API give them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from testfleet.history import quarantine, queries, rules
from testfleet.history.models import Attempt, Case, FailureLabel, Run
from testfleet.payloads import FailureCluster, LabelledTest, RunLabels
from testfleet.settings import HistorySettings

QuarantineLookup = Callable[[Session, str, Collection[rules.Identity]], Collection[rules.Identity]]
"""Which of some tests of a project are quarantined, read in the archiving transaction."""


def in_quarantine(
    session: Session, project: str, identities: Collection[rules.Identity]
) -> Collection[rules.Identity]:
    """The project's quarantine now (``testfleet.history.quarantine``) among ``identities``."""
    return set(quarantine.among(session, project, identities))


@dataclass
class _Failure:
    """A test of the run with a failed attempt: its latest failed attempt's signature."""

    case_id: int
    run_case: str
    signature: str | None
    error: str | None


def _failures(session: Session, run_id: str) -> list[_Failure]:
    """The run's tests with a failed or errored attempt, in case order."""
    rows = session.execute(
        select(
            Attempt.case_id,
            Attempt.run_case,
            Attempt.status,
            Attempt.error_signature,
            Attempt.error,
        )
        .where(Attempt.run_id == run_id)
        .order_by(Attempt.run_case, Attempt.attempt)
    )
    found: dict[str, _Failure] = {}
    for case_id, run_case, status, signature, error in rows:
        if status in rules.FAILED_STATUSES:  # later attempts' failures replace earlier ones
            found[run_case] = _Failure(case_id, run_case, signature, error)
    return list(found.values())


def _histories(
    session: Session, run: Run, case_ids: Sequence[int]
) -> dict[int, list[rules.Attempt]]:
    """Each test's attempts in the project's runs submitted up to ``run`` (``run``'s
    included: the rules ignore later runs, this reads none)."""
    rows = session.execute(
        select(Attempt.case_id, *queries.RULE_ATTEMPT)
        .join(Run, Run.run_id == Attempt.run_id)
        .where(Attempt.case_id.in_(case_ids), Run.started_at <= run.started_at)
    )
    histories: dict[int, list[rules.Attempt]] = {pk: [] for pk in case_ids}
    for row in rows:
        histories[row[0]].append(rules.Attempt(*row[1:]))
    return histories


def _identities(session: Session, case_ids: Sequence[int]) -> dict[int, rules.Identity]:
    rows = session.execute(
        select(Case.id, Case.suite, Case.test, Case.data_row).where(Case.id.in_(case_ids))
    )
    return {pk: rules.Identity(suite, test, row) for pk, suite, test, row in rows}


def store_labels(
    session: Session,
    run_id: str,
    settings: HistorySettings,
    quarantined_among: QuarantineLookup = in_quarantine,
) -> int:
    """Label the failures of run ``run_id``, whose attempts ``session`` has written, and
    keep the labels (a second call writes nothing); returns the tests labelled."""
    run = session.get(Run, run_id)
    if run is None:
        raise ValueError(f"run {run_id} is not in the history database: archive it first")
    failures = _failures(session, run_id)
    if not failures:
        return 0
    case_ids = sorted({f.case_id for f in failures})
    histories = _histories(session, run, case_ids)
    identities = _identities(session, case_ids)
    quarantined = quarantined_among(session, run.project, list(identities.values()))
    rows = [
        {
            "run_id": run_id,
            "run_case": f.run_case,
            "case_id": f.case_id,
            "labels": list(
                rules.labels(
                    histories[f.case_id],
                    run_id,
                    settings,
                    identities[f.case_id],
                    quarantined,
                )
            ),
            "error_signature": f.signature,
            "error": f.error,
        }
        for f in failures
    ]
    session.execute(insert(FailureLabel).values(rows).on_conflict_do_nothing())
    return len(rows)


def _clusters(failures: Sequence[tuple[str, str | None, str | None]]) -> list[FailureCluster]:
    """The failures (test id, signature, error) grouped by signature, largest first."""
    by_signature: dict[str, FailureCluster] = {}
    for run_case, signature, error in failures:
        if signature is None:
            continue
        cluster = by_signature.setdefault(
            signature, FailureCluster(signature=signature, count=0, error=error)
        )
        cluster.count += 1
        cluster.tests.append(run_case)
    return sorted(by_signature.values(), key=lambda c: (-c.count, c.signature))


def run_labels(session: Session, run_id: str, project: str | None = None) -> RunLabels | None:
    """The labels of an archived run's failures and its failure clusters; None when the
    run is not archived (yet), or is not ``project``'s."""
    run = session.get(Run, run_id)
    if run is None or (project is not None and run.project != project):
        return None
    rows = session.execute(
        select(
            FailureLabel.run_case,
            Case.suite,
            Case.test,
            FailureLabel.labels,
            FailureLabel.error_signature,
            FailureLabel.error,
        )
        .join(Case, Case.id == FailureLabel.case_id)
        .where(FailureLabel.run_id == run_id)
        .order_by(Case.suite, Case.test, FailureLabel.run_case)
    ).all()
    tests = [
        LabelledTest(testId=run_case, suite=suite, name=name, labels=labels, signature=signature)
        for run_case, suite, name, labels, signature, _error in rows
    ]
    clusters = _clusters([(run_case, sig, error) for run_case, _, _, _, sig, error in rows])
    return RunLabels(tests=tests, clusters=clusters)
