"""The trace benchmark's pure parts: the rotating order, the spread over rounds, the verdict
on a range, and the table it prints."""

from __future__ import annotations

from typing import Any

import pytest

from bench.bench_trace import (
    MODES,
    TARGET_ON,
    TARGET_RETAIN,
    _check_pass,
    range_verdict,
    ratios_against_off,
    round_order,
    rows,
    spread,
)


def test_every_mode_takes_every_place_in_turn() -> None:
    orders = [round_order(i) for i in range(len(MODES))]
    assert orders[0] == list(MODES)
    for place in range(len(MODES)):
        assert sorted(order[place] for order in orders) == sorted(MODES)
    assert round_order(len(MODES)) == orders[0]


def test_spread_is_the_median_and_the_range() -> None:
    assert spread([1.04, 1.01, 1.09]) == {"median": 1.04, "min": 1.01, "max": 1.09}
    assert spread([1.0, 2.0]) == {"median": 1.5, "min": 1.0, "max": 2.0}
    assert spread([]) == {"median": 0.0, "min": 0.0, "max": 0.0}


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.97, 1.02, "met"),
        (1.03, 1.03, "met"),
        (0.99, 1.05, "not established"),
        (1.04, 1.10, "NOT MET"),
    ],
)
def test_a_range_straddling_its_target_is_not_established(
    low: float, high: float, expected: str
) -> None:
    assert range_verdict(low, high, TARGET_RETAIN) == expected


def passes(*rounds: tuple[float, float, float]) -> list[dict[str, dict[str, float]]]:
    """Rounds of (off, on, retain) step times."""
    return [
        {mode: {"steps_ms": ms, "case_ms": ms * 2} for mode, ms in zip(MODES, r, strict=True)}
        for r in rounds
    ]


def test_each_round_is_compared_with_its_own_off() -> None:
    # The machine slows down from round to round; each ratio stays within its round.
    figures = ratios_against_off(
        passes((100.0, 105.0, 101.0), (200.0, 208.0, 200.0), (400.0, 440.0, 396.0)), "steps_ms"
    )
    assert figures["on"] == {"rounds": [1.05, 1.04, 1.1], "median": 1.05, "min": 1.04, "max": 1.1}
    assert figures["retain-on-failure"]["rounds"] == [1.01, 1.0, 0.99]
    assert set(figures) == {"on", "retain-on-failure"}


def figures_for(on: list[float], retain: list[float], sizes_mb: list[float]) -> dict[str, Any]:
    def stats(values: list[float]) -> dict[str, Any]:
        return {"rounds": values, **spread(values)}

    return {
        "quick": True,
        "tests": 10,
        "rounds": len(on),
        "passes": passes(*[(400.0, 400.0 * a, 400.0 * b) for a, b in zip(on, retain, strict=True)]),
        "steps": {"on": stats(on), "retain-on-failure": stats(retain)},
        "case": {"on": stats(on), "retain-on-failure": stats(retain)},
        "failed_trace_bytes": [int(mb * 1024 * 1024) for mb in sizes_mb],
        "failed_trace_mb": spread(sizes_mb),
    }


def test_the_table_says_met_only_for_a_whole_range_within_its_target() -> None:
    figures = figures_for(
        on=[1.02, 1.05, 1.12], retain=[0.99, 1.0, 1.01], sizes_mb=[0.4, 0.5, 0.45]
    )
    table = {label: (value, note) for label, value, note in rows(figures)}
    assert table["tests per pass x rounds"] == ("10 x 3", "quick")
    assert table["off: steps per test"][0] == "400.0 ms"
    value, note = table["on / off, step time"]
    assert value == "1.050x"
    assert note == f"range 1.020-1.120; <= {TARGET_ON:.2f}x not established"
    assert table["retain-on-failure / off, step time"][1].endswith("met")
    assert "not established" not in table["retain-on-failure / off, step time"][1]
    value, note = table["failed demo trace, median"]
    assert value == "0.450 MB"
    assert note == "3 traces, range 0.400-0.500 MB; <= 5 MB met"


def test_a_big_trace_is_not_met() -> None:
    table = {label: note for label, _, note in rows(figures_for([1.0], [1.0], [6.0, 7.0]))}
    assert table["failed demo trace, median"].endswith("NOT MET")


def test_a_pass_with_a_failed_test_or_a_mode_not_applied_is_refused() -> None:
    fine = {"failed": 0.0, "traces_kept": 10.0}
    _check_pass("on", 10, fine)
    with pytest.raises(RuntimeError, match="2 bench test"):
        _check_pass("off", 10, {"failed": 2.0, "traces_kept": 0.0})
    with pytest.raises(RuntimeError, match="trace retain-on-failure kept 10 traces"):
        _check_pass("retain-on-failure", 10, fine)
    with pytest.raises(RuntimeError, match="trace on kept 3 traces"):
        _check_pass("on", 10, {"failed": 0.0, "traces_kept": 3.0})
