"""The order a run's cases are dispatched in, and the wall time that order is expected
to take: pure functions over the planned cases and what history knows.

Within each priority class (workers drain the classes in order regardless: the order
only decides who goes first within one), ``duration`` sends the longest expected case
first, so the run's wall time approaches max(total / workers, longest test) instead of
one long test starting last (LPT scheduling). A case history does not know is placed
by the mean of its suite's known ones, or first when its suite has none (an unknown
could be the longest). ``failed-first`` puts the cases that failed or were flaky in the
branch's last run ahead of the rest, longest first within each group. ``suite`` keeps
the suites' order. Ties keep the suites' order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Mapping, Sequence

from testfleet.results import PRIORITY_LEVELS, CaseResult, OrderMode

TestKey = tuple[str, str]
"""(suite, test name): how history names a test."""


def expected_durations(
    cases: Sequence[CaseResult], known: Mapping[TestKey, int]
) -> dict[str, int | None]:
    """case id -> the case's expected ms: its own P50, else its suite's mean of the known
    P50s, else None (nothing known)."""
    per_suite: dict[str, list[int]] = {}
    for case in cases:
        ms = known.get((case.suite, case.name))
        if ms is not None:
            per_suite.setdefault(case.suite, []).append(ms)
    means = {suite: round(sum(v) / len(v)) for suite, v in per_suite.items()}
    return {c.case_id: known.get((c.suite, c.name), means.get(c.suite)) for c in cases}


def order_cases(
    cases: Sequence[CaseResult],
    mode: OrderMode,
    expected: Mapping[str, int | None],
    failed_before: Collection[TestKey] = (),
) -> list[CaseResult]:
    """The cases in dispatch order, each with its ``dispatch_position`` (1-based) and
    ``expected_ms`` set. ``expected``: case id -> expected ms (``expected_durations``);
    ``failed_before``: the tests that failed or were flaky in the branch's last run."""

    def key(item: tuple[int, CaseResult]) -> tuple[float, ...]:
        index, case = item
        level = float(PRIORITY_LEVELS.get(case.priority, PRIORITY_LEVELS["medium"]))
        if mode == "suite":
            return (level, index)
        ms = expected.get(case.case_id)
        longest_first = -math.inf if ms is None else -float(ms)
        group = 0.0
        if mode == "failed-first" and (case.suite, case.name) not in failed_before:
            group = 1.0
        return (level, group, longest_first, index)

    ordered = [case for _, case in sorted(enumerate(cases), key=key)]
    return [
        case.model_copy(
            update={"dispatch_position": position, "expected_ms": expected.get(case.case_id)}
        )
        for position, case in enumerate(ordered, start=1)
    ]


def expected_wall_ms(durations_ms: Sequence[int], slots: int) -> int:
    """The wall time of cases of these durations dispatched in this order to ``slots``
    workers, each taking the next case as it frees up (a live queue)."""
    free_at = [0] * max(1, slots)
    for ms in durations_ms:
        start = heapq.heappop(free_at)
        heapq.heappush(free_at, start + ms)
    return max(free_at)


def ideal_wall_ms(durations_ms: Sequence[int], slots: int) -> int:
    """No order can do better than max(total / slots, longest case)."""
    if not durations_ms:
        return 0
    return max(math.ceil(sum(durations_ms) / max(1, slots)), *durations_ms)
