"""The scheduling bench's suite shape and its figures from a run's result and events."""

from __future__ import annotations

import math

from bench.bench_schedule import (
    DATAHUB_FILES,
    ideal_s,
    skewed_durations_s,
    stop_latency,
    suite_order,
    wall_s,
)


def test_the_skewed_suite_is_long_tailed_and_lists_its_longest_test_last() -> None:
    durations = skewed_durations_s(DATAHUB_FILES, 120.0)
    assert len(durations) == DATAHUB_FILES
    assert math.isclose(sum(durations), 120.0, abs_tol=1.0)
    assert durations == sorted(durations, reverse=True)
    assert durations[0] > 10 * durations[len(durations) // 2]
    listed = suite_order(durations)
    assert listed[-1] == max(durations)
    assert sorted(listed) == sorted(durations)


def test_wall_and_ideal_come_from_the_cases_times() -> None:
    result = {
        "tests": [
            {"started_ms": 1_000, "finished_ms": 5_000, "duration_ms": 4_000},
            {"started_ms": 1_500, "finished_ms": 3_500, "duration_ms": 2_000},
            {"started_ms": 3_500, "finished_ms": 6_000, "duration_ms": 2_500},
            {"started_ms": None, "finished_ms": 6_000, "duration_ms": 0},
        ]
    }
    assert wall_s(result) == 5.0
    assert ideal_s(result, 2) == 4.25
    assert ideal_s(result, 4) == 4.0


def test_stop_latency_reads_the_starts_and_cancels_after_the_failure() -> None:
    events = [
        {"type": "test_started", "timestamp": 100},
        {"type": "test_failed", "timestamp": 1_000},
        {"type": "test_cancelled", "timestamp": 1_020},
        {"type": "test_cancelled", "timestamp": 1_050},
        {"type": "test_started", "timestamp": 1_300},
    ]
    assert stop_latency(events) == {"cancel_s": 0.05, "late_start_s": 0.3, "cancelled": 2.0}
    assert stop_latency(events[:3])["late_start_s"] == 0.0
