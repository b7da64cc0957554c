"""A planned run's dispatch order from the history: what ``submit`` asks before queueing.

The history database may be absent or down: the run is then ordered with nothing known
(suite order for every case, as ``api.ordering`` places unknowns) and queued all the
same; a submission never fails for want of history.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from api.history_db import HistoryDatabase
from api.ordering import TestKey, expected_durations, expected_wall_ms, ideal_wall_ms, order_cases
from testfleet import logs
from testfleet.errors import InfrastructureError
from testfleet.history import scheduling
from testfleet.results import CaseResult, OrderMode, Schedule

log = logs.get_logger(__name__)

HISTORY_RETRY_AFTER_S = 30.0
"""After the history database failed to answer, submissions are ordered without it for
this long: a database that is down must not add its connect timeout to every one."""
_quiet_until: dict[int, float] = {}
"""id(history database) -> monotonic time before which it is not asked again."""


@dataclass(frozen=True)
class Known:
    """What history says about a run's tests."""

    durations_ms: dict[TestKey, int]
    failed_before: set[TestKey]


def ask_history(
    history: HistoryDatabase,
    project: str,
    suites: Sequence[str],
    branch: str | None,
    mode: OrderMode,
) -> Known:
    """The tests' P50s (and, for ``failed-first``, the branch's last failures); nothing
    when the database does not answer (logged, not raised)."""
    if time.monotonic() < _quiet_until.get(id(history), 0.0):
        return Known({}, set())
    try:
        with history.session() as session:
            durations = scheduling.expected_ms(session, project, suites)
            failed: set[TestKey] = set()
            if mode == "failed-first" and branch:
                last = scheduling.last_run(session, project, suites, branch)
                if last is not None:
                    failed = {*last.failed, *last.flaky}
    except (InfrastructureError, SQLAlchemyError) as exc:
        log.warning("runs ordered without history for %.0fs (%s)", HISTORY_RETRY_AFTER_S, exc)
        _quiet_until[id(history)] = time.monotonic() + HISTORY_RETRY_AFTER_S
        return Known({}, set())
    return Known(durations, failed)


def schedule(
    cases: Sequence[CaseResult],
    mode: OrderMode,
    known: Known,
    slots: int,
    max_failures: int | None = None,
    picked_from: str | None = None,
) -> tuple[list[CaseResult], Schedule]:
    """The cases in dispatch order (positions and expected durations set) and the
    run's ``Schedule``: its expected wall time on ``slots`` workers in that order (None
    when a case's duration is unknown) and the ideal lower bound."""
    expected = expected_durations(cases, known.durations_ms)
    ordered = order_cases(cases, mode, expected, known.failed_before)
    durations = [c.expected_ms for c in ordered if c.expected_ms is not None]
    complete = len(durations) == len(ordered)
    return ordered, Schedule(
        order=mode,
        max_failures=max_failures,
        worker_slots=max(1, slots),
        expected_wall_ms=expected_wall_ms(durations, slots) if complete else None,
        ideal_wall_ms=ideal_wall_ms(durations, slots) if complete else None,
        known=len(durations),
        picked_from=picked_from,
    )
