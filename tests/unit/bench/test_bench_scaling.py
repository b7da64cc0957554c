"""The scaling benchmark's pure parts: speed-ups, warm-up size, /proc parsing, memory summary."""

from __future__ import annotations

import math

import pytest

from bench.bench_scaling import rows, speedups, warmup_kinds
from bench.scaling_memory import Sample, descendants, parent_of, parse_rollup, summarise
from bench.throughput_suites import TEMPLATES


def test_speedups_are_relative_to_the_smallest_fleet() -> None:
    assert speedups({1: 40.0, 2: 70.0, 4: 100.0}) == {
        1: {"speedup": 1.0, "efficiency_pct": 100.0},
        2: {"speedup": 1.75, "efficiency_pct": 87.5},
        4: {"speedup": 2.5, "efficiency_pct": 62.5},
    }


def test_speedups_without_a_baseline_are_nan() -> None:
    assert math.isnan(speedups({1: 0.0, 2: 10.0})[2]["speedup"])


@pytest.mark.parametrize(("size", "expected"), [(1, 4), (2, 4), (4, 8), (50, len(TEMPLATES))])
def test_warmup_gives_every_worker_two_tests(size: int, expected: int) -> None:
    assert warmup_kinds(size) == expected


def test_parse_rollup_reads_pss_and_rss() -> None:
    text = (
        "55b1a369a000-7ffe9cb3e000 ---p 00000000 00:00 0    [rollup]\n"
        "Rss:                1676 kB\nPss:                 242 kB\nPss_Anon:  116 kB\n"
    )
    assert parse_rollup(text) == (242, 1676)
    assert parse_rollup("") == (0, 0)


@pytest.mark.parametrize(
    ("stat", "parent"),
    [
        ("4332 (python) S 4253 4332 4253 0 -1", 4253),
        ("4436 (chromium (x) y) S 4417 4436 0", 4417),  # the name may hold spaces and ')'
        ("", None),
    ],
)
def test_parent_of_reads_the_field_after_the_name(stat: str, parent: int | None) -> None:
    assert parent_of(stat) == parent


def test_descendants_walk_the_whole_tree_but_not_the_root() -> None:
    tree = {1: [2, 3], 2: [4], 4: [5], 9: [10]}
    assert sorted(descendants(1, tree)) == [2, 3, 4, 5]
    assert descendants(10, tree) == []


def _sample(browser_kb: int, sessions: int, worker_kb: int, processes: int) -> Sample:
    return Sample(
        browser_pss_kb=browser_kb,
        browser_rss_kb=3 * browser_kb,
        sessions=sessions,
        browser_processes=10 * sessions,
        worker_pss_kb=worker_kb,
        worker_rss_kb=2 * worker_kb,
        worker_processes=processes,
    )


def test_memory_summary_divides_each_sample_by_its_live_sessions() -> None:
    samples = [
        _sample(0, 0, 200 * 1024, 4),  # before the first session opened: not per session
        _sample(200 * 1024, 1, 220 * 1024, 4),
        _sample(600 * 1024, 2, 220 * 1024, 4),
    ]
    out = summarise(samples, workers=2)
    assert out["mb_per_session"] == 250.0  # mean of 200 / 1 and 600 / 2
    assert out["mb_per_session_rss"] == 750.0
    assert out["mb_per_worker"] == pytest.approx((200 + 220 + 220) / 3 / 2, abs=0.1)
    assert out["mb_per_worker_process"] == pytest.approx((200 + 220 + 220) / 3 / 4, abs=0.1)
    assert out["peak_total_mb"] == 820.0
    assert out["peak_browsers_mb"] == 600.0
    assert (out["sessions_min"], out["sessions_max"]) == (0.0, 2.0)
    assert out["samples"] == 3.0
    assert summarise([], workers=2) == {}


def test_rows_give_one_line_per_size_and_where_the_time_goes() -> None:
    figures = {
        "tests": 20,
        "quick": True,
        "cpus": 2,
        "by_size": {
            "1": {
                "tests_per_min": 40.0,
                "speedup": 1.0,
                "efficiency_pct": 100.0,
                "breakdown_ms": {"browser_steps_ms": 900.0, "overhead_pct_of_browser": 20.0},
                "memory_mb": {"mb_per_session": 240.0, "mb_per_worker": 110.0, "sessions_max": 1.0},
            },
            "4": {
                "tests_per_min": 90.0,
                "speedup": 2.25,
                "failed": 1,
                "memory_mb": {"mb_per_session": 0.0, "sessions_max": 4.0},
                "pyspy_pct": {"browser_wait_pct": 60.0},
            },
        },
    }
    table = {label: (value, note) for label, value, note in rows(figures)}
    assert table["1 browser(s) + workers"][0] == "40.0 t/min"
    assert "240.0 MB/browser" in table["1 browser(s) + workers"][1]
    assert "overhead 20.0 % of browser" in table["1 browser(s) + workers"][1]
    assert "2.25x vs 1" in table["4 browser(s) + workers"][1]
    assert "1 FAILED" in table["4 browser(s) + workers"][1]
    assert "unreadable" in table["4 browser(s) + workers"][1]
    assert table["  1: browser_steps_ms"][0] == "900.0"
    assert table["  4: py-spy browser_wait_pct"][0] == "60.0"
