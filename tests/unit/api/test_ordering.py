"""The dispatch order and its expected wall time (``api.ordering``), without a fleet."""

from __future__ import annotations

from api.ordering import expected_durations, expected_wall_ms, ideal_wall_ms, order_cases
from testfleet.results import CaseResult


def case(index: int, suite: str, name: str, priority: str = "medium") -> CaseResult:
    return CaseResult(
        case_id=f"r-{index + 1:04d}", run_id="r", suite=suite, name=name, priority=priority
    )


def names(cases: list[CaseResult]) -> list[str]:
    return [c.name for c in cases]


def test_longest_first_within_each_priority_class_and_unknowns_first() -> None:
    cases = [
        case(0, "A", "short"),
        case(1, "A", "long"),
        case(2, "B", "new"),  # suite B has no history at all: placed first
        case(3, "A", "urgent short", "critical"),
        case(4, "A", "urgent long", "critical"),
        case(5, "A", "mid"),
    ]
    known = {("A", "short"): 100, ("A", "long"): 900, ("A", "mid"): 500}
    known |= {("A", "urgent short"): 10, ("A", "urgent long"): 20}
    expected = expected_durations(cases, known)
    ordered = order_cases(cases, "duration", expected)
    assert names(ordered) == ["urgent long", "urgent short", "new", "long", "mid", "short"]
    assert [c.dispatch_position for c in ordered] == [1, 2, 3, 4, 5, 6]
    assert [c.expected_ms for c in ordered] == [20, 10, None, 900, 500, 100]


def test_a_test_without_history_takes_its_suites_mean() -> None:
    cases = [case(0, "A", "a"), case(1, "A", "b"), case(2, "A", "fresh")]
    expected = expected_durations(cases, {("A", "a"): 100, ("A", "b"): 300})
    assert expected == {"r-0001": 100, "r-0002": 300, "r-0003": 200}
    assert names(order_cases(cases, "duration", expected)) == ["b", "fresh", "a"]


def test_suite_order_keeps_the_suites_order_within_priorities() -> None:
    cases = [case(0, "A", "a"), case(1, "A", "b", "high"), case(2, "A", "c")]
    expected = expected_durations(cases, {("A", "a"): 1, ("A", "c"): 9})
    assert names(order_cases(cases, "suite", expected)) == ["b", "a", "c"]


def test_failed_first_puts_last_failures_ahead_longest_first_in_each_group() -> None:
    cases = [case(i, "A", n) for i, n in enumerate(["p1", "f1", "p2", "f2"])]
    known = {("A", "p1"): 50, ("A", "f1"): 10, ("A", "p2"): 70, ("A", "f2"): 30}
    failed = {("A", "f1"), ("A", "f2")}
    ordered = order_cases(cases, "failed-first", expected_durations(cases, known), failed)
    assert names(ordered) == ["f2", "f1", "p2", "p1"]


def test_longest_first_meets_the_lower_bound_where_suite_order_does_not() -> None:
    # Suite order starts the long test last: the wall is 3 x 10 + 40, not max(70/4, 40).
    durations = [10] * 3 + [40]
    assert expected_wall_ms(durations, 1) == 70
    assert expected_wall_ms(durations, 4) == 40
    assert expected_wall_ms([10, 10, 10, 10, 10, 40], 2) == 60
    assert expected_wall_ms([40, 10, 10, 10, 10, 10], 2) == 50
    assert expected_wall_ms([10, 10, 10, 10, 40], 2) == 60
    assert expected_wall_ms([40, 10, 10, 10, 10], 2) == 40
    assert ideal_wall_ms([10, 10, 10, 10, 40], 2) == 40
    assert ideal_wall_ms([30, 30, 30], 2) == 45
    assert ideal_wall_ms([10, 10, 10, 10, 40], 4) == 40
    assert ideal_wall_ms([], 4) == 0
