"""The throughput benchmark's pure parts: its suites, tests/min and the fleet breakdown."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench.bench_throughput import _junit_counts, median_pass, rows, spare_memory
from bench.common import established, median_and_range
from bench.throughput_figures import (
    case_phases,
    fleet_breakdown,
    step_kind_ms,
    throughput_per_min,
)
from bench.throughput_memory import fixed, sample
from bench.throughput_pyspy import bucket, summarise
from bench.throughput_suites import TEMPLATES, load_suites, suite_documents, write_suites
from testfleet.suites.loader import load_paths

SHORT_FORM_STEP_KEYS = {
    "navigate",
    "click",
    "type",
    "select",
    "press",
    "wait",
    "screenshot",
    "assert_text",
    "assert_url",
    "assert_title",
    "assert_count",
    "assert_visible",
    "assert_attribute",
}


def test_every_bench_suite_loads_with_the_testfleet_loader(tmp_path: Path) -> None:
    total = write_suites(tmp_path)
    suites = load_paths([tmp_path], {"DEMO_URL": "http://127.0.0.1:9"})
    tests = [t for s in suites for t in s.tests]
    assert total == len(tests) >= 40
    assert all(5 <= len(t.steps) <= 10 for t in tests), [
        (t.name, len(t.steps)) for t in tests if not 5 <= len(t.steps) <= 10
    ]
    assert all(s.base_url == "http://127.0.0.1:9" for s in suites)
    assert len({(s.name, t.name) for s in suites for t in s.tests}) == len(tests)


def test_bench_suites_use_only_the_steps_the_plain_executor_runs() -> None:
    used = {
        key
        for doc in suite_documents()
        for t in doc["tests"]
        for step in t["steps"]
        for key in step
    }
    assert used <= SHORT_FORM_STEP_KEYS


def test_quick_and_warmup_subsets(tmp_path: Path) -> None:
    assert write_suites(tmp_path / "quick", per_template=2) == 2 * len(TEMPLATES)
    warmup = tmp_path / "warmup"
    assert write_suites(warmup, per_template=1, prefix="Warm-up ", kinds=4) == 4
    names = [s.name for s in load_suites(warmup, "http://127.0.0.1:9")]
    assert len(names) == 4
    assert all(n.startswith("Warm-up ") for n in names)


def test_repeated_steps_are_written_without_yaml_aliases(tmp_path: Path) -> None:
    write_suites(tmp_path)
    texts = [p.read_text() for p in tmp_path.iterdir()]
    assert not [t for t in texts if "&id" in t or "*id" in t]


@pytest.mark.parametrize(
    ("tests", "wall_s", "expected"),
    [(44, 60.0, 44.0), (44, 30.0, 88.0), (10, 7.0, 85.7), (5, 0.0, 0.0)],
)
def test_tests_per_min(tests: int, wall_s: float, expected: float) -> None:
    assert throughput_per_min(tests, wall_s) == expected


def _case(worker: str, started: int, finished: int, steps: list[int]) -> dict[str, Any]:
    return {
        "worker": worker,
        "started_ms": started,
        "finished_ms": finished,
        "steps": [{"step_type": "click", "duration_ms": ms} for ms in steps],
    }


def test_fleet_breakdown_splits_case_time_into_browser_and_overhead() -> None:
    run = {
        "createdMs": 1000,
        "finishedMs": 3300,
        "tests": [
            _case("w1", 1100, 2100, [400, 500]),  # 100 ms overhead in the case
            _case("w1", 2150, 3150, [900]),  # 50 ms gap before it, 100 in it
            _case("w2", 1200, 3200, [1000, 800]),  # 200 in the case
        ],
    }
    out = fleet_breakdown(run)
    assert out["browser_steps_ms"] == pytest.approx((900 + 900 + 1800) / 3, abs=0.1)
    assert out["in_case_overhead_ms"] == pytest.approx(400 / 3, abs=0.1)
    assert out["between_cases_ms"] == pytest.approx(50 / 3, abs=0.1)
    assert out["run_start_ms"] == 100
    assert out["run_end_ms"] == 100
    assert out["queue_wait_ms"] == pytest.approx((100 + 1150 + 200) / 3, abs=0.1)
    assert out["overhead_pct_of_browser"] == pytest.approx(100 * (450 / 3) / 1200, abs=0.1)
    assert step_kind_ms(run) == {"click": pytest.approx(3600 / 5, abs=0.1)}


def test_fleet_breakdown_of_a_run_that_never_started_is_empty() -> None:
    assert fleet_breakdown({"createdMs": 1, "tests": [{"started_ms": None}]}) == {}


def test_junit_counts_reads_pytest_output(tmp_path: Path) -> None:
    xml = tmp_path / "j.xml"
    xml.write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="pytest" errors="1" failures="2" '
        'skipped="0" tests="44"></testsuite></testsuites>'
    )
    assert _junit_counts(xml) == {"tests": 44, "failed": 3}
    assert _junit_counts(tmp_path / "missing.xml") == {"tests": 0, "failed": 0}


def test_rows_flag_missed_targets_and_failures() -> None:
    figures = {
        "tests": 44,
        "xdist_fresh": 50.0,
        "fleet_pooled": 60.0,
        "local_tuned": 100.0,
        "fleet_vs_xdist": 1.2,
        "fleet_vs_tuned": 0.6,
        "fleet_overhead_pct": 12.0,
        "fleet_pooled_failed": 2,
        "fleet_breakdown_ms": {"browser_steps_ms": 900.0},
    }
    table = {label: (value, target) for label, value, target in rows(figures)}
    assert table["fleet_vs_xdist"][1].endswith("NOT MET")
    assert table["fleet_vs_tuned"][1].endswith("NOT MET")
    assert table["fleet overhead"][1].endswith("NOT MET")
    assert "2 FAILED" in table["fleet_pooled"][1]
    assert table["  pooled browser_steps_ms"][0] == "900.0"


def _progress(
    case_id: str, number: int, end_ms: int, step_ms: int, attempt: int = 1
) -> dict[str, Any]:
    return {
        "type": "test_progress",
        "correlationId": case_id,
        "payload": {
            "attempt": attempt,
            "stepDuration": step_ms,
            "progress": {"stepNumber": number, "duration": end_ms},
        },
    }


def test_case_phases_split_the_in_case_overhead_from_progress_events() -> None:
    run = {
        "tests": [
            {
                "case_id": "c1",
                "started_ms": 1000,
                "finished_ms": 1700,
                "steps": [{"duration_ms": 200}, {"duration_ms": 100}],
            }
        ]
    }
    events = [
        _progress("c1", 2, 560, 100),  # order on the stream does not matter
        _progress("c1", 1, 450, 200),  # step 1 began 250 ms after the case started
        _progress("c1", 1, 9000, 1, attempt=2),  # a retry's events are left out
        {"type": "test_started", "correlationId": "c1", "payload": {}},
    ]
    assert case_phases(run, events) == {
        "session_start_ms": 250.0,
        "between_steps_ms": 10.0,
        "finish_ms": 140.0,
        "cases_profiled": 1.0,
    }
    assert case_phases(run, events[2:]) == {}


_CHILD = (
    'process 7:"python -m cli.main worker";process 8:"python -m cli.main worker";'
    "main (workers/main.py:56);Worker.workloop (billiard/pool.py:369)"
)


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        (f"{_CHILD};wait (threading.py:3)", "celery_between_tasks"),
        (
            f"{_CHILD};run_case (workers/tasks.py:9);click (selenium/x.py:1);"
            "SocketIO.readinto (socket.py:706)",
            "browser_wait",
        ),
        (
            f"{_CHILD};run_case (/w/workers/tasks.py:9);execute (/v/selenium/x.py:1);"
            "dumps (json/__init__.py:3)",
            "selenium_client",
        ),
        (f"{_CHILD};run_case (/w/workers/tasks.py:9);xadd (/v/redis/client.py:1)", "redis"),
        (
            f"{_CHILD};run_case (workers/tasks.py:9);make_thumbnail (workers/executor.py:1);"
            "Image.save (PIL/Image.py:1)",
            "pillow",
        ),
        (
            f"{_CHILD};run_case (/w/workers/tasks.py:9);model_dump (pydantic/main.py:1)",
            "executor_other",
        ),
        ('process 6:"python";asynloop (celery/worker/loops.py:1);poll (kombu/x.py:1)', None),
    ],
)
def test_pyspy_stacks_are_bucketed_by_code(stack: str, expected: str | None) -> None:
    assert bucket(stack) == expected


def test_pyspy_summary_is_percent_of_pool_child_samples(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        f"{_CHILD};run_case (/w/workers/tasks.py:9);get (/v/selenium/r.py:1);recv_into (x) 3\n"
        f"{_CHILD};poll (kombu/x.py:1) 1\n"
        'process 6:"python";asynloop (celery/worker/loops.py:1) 96\n'
    )
    assert summarise([raw]) == {
        "browser_wait_pct": 75.0,
        "celery_between_tasks_pct": 25.0,
        "samples": 4.0,
    }
    assert summarise([]) == {}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1.2, 1.15, 1.3], "met"),
        ([1.1, 1.1, 1.1], "met"),
        ([0.8, 1.0, 1.05], "NOT MET"),
        ([0.79, 1.23, 0.98], "not established"),
        ([], "NOT MET"),
    ],
)
def test_a_ratio_is_met_only_when_every_repetition_reaches_it(
    values: list[float], expected: str
) -> None:
    assert established(values, 1.1) == expected


def test_median_and_range_of_repetitions() -> None:
    assert median_and_range([146.9, 186.2, 170.0]) == {"median": 170.0, "range": [146.9, 186.2]}
    assert median_and_range([1.0, 2.0]) == {"median": 1.5, "range": [1.0, 2.0]}


def test_a_configurations_figures_are_its_median_pass_with_every_pass_beside_them() -> None:
    passes = [
        {"fleet_pooled": 150.0, "fleet_pooled_wall_s": 17.6},
        {"fleet_pooled": 190.0, "fleet_pooled_wall_s": 13.9},
        {"fleet_pooled": 170.0, "fleet_pooled_wall_s": 15.5},
    ]
    figures = median_pass("fleet_pooled", passes)
    assert figures["fleet_pooled"] == 170.0
    assert figures["fleet_pooled_wall_s"] == 15.5
    assert figures["fleet_pooled_reps"] == [150.0, 190.0, 170.0]


def test_a_straddling_ratio_is_printed_not_established_with_its_range() -> None:
    figures: dict[str, Any] = {
        "repetitions": 3,
        "fleet_vs_tuned": 0.98,
        "fleet_vs_tuned_reps": [1.23, 0.79, 0.98],
        "fleet_vs_tuned_range": [0.79, 1.23],
        "fleet_vs_xdist": 1.6,
        "fleet_vs_xdist_reps": [1.6, 1.55, 1.7],
        "fleet_vs_xdist_range": [1.55, 1.7],
        "fleet_overhead_pct": 8.0,
        "fleet_overhead_pct_reps": [8.0, 12.0, 7.0],
    }
    table = {label: (value, target) for label, value, target in rows(figures)}
    assert table["fleet_vs_tuned"] == ("0.98x", ">= 1.1x not established (range 0.79-1.23)")
    assert table["fleet_vs_xdist"] == ("1.6x", ">= 1.5x met (range 1.55-1.7)")
    assert table["fleet overhead"][1] == "<= 5 % of browser NOT MET (range 7.0-12.0)"


# --- the warm spare: its memory and the default it earns ---------------------------------


def _spare_figures(gains: list[float], spare_mb: float) -> dict[str, Any]:
    return {
        "spare_vs_no_spare_reps": gains,
        "fleet_pooled_spare_peak_pss_mb": spare_mb,
        "fleet_pooled_peak_pss_mb": 1000.0,
        "local_tuned_peak_pss_mb": 800.0,
    }


@pytest.mark.parametrize(
    ("gains", "spare_mb", "default"),
    [
        ([1.10, 1.05, 1.20], 1200.0, 1),  # a real gain for 20 % more memory
        ([1.10, 1.05, 1.20], 1300.0, 0),  # the same gain for 30 % more memory
        ([1.10, 0.98, 1.20], 1100.0, 0),  # a gain not established (one pass below 1.0)
        ([1.0, 1.02, 1.03], 1100.0, 0),  # no gain in one pass: not above 1.0
    ],
)
def test_a_spare_is_the_default_only_for_a_real_gain_at_a_bounded_memory_cost(
    gains: list[float], spare_mb: float, default: int
) -> None:
    out = spare_memory(_spare_figures(gains, spare_mb))
    assert out["spare_default"] == default
    assert out["spare_memory_growth_pct"] == round((spare_mb / 1000.0 - 1.0) * 100.0, 1)
    assert out["fleet_memory_vs_tuned"] == 1.25


def test_rows_show_the_spare_its_memory_and_the_default() -> None:
    figures = {
        "fleet_pooled_spare": 70.0,
        "spare_vs_no_spare": 1.1,
        "fleet_spare_vs_tuned": 0.9,
        "fleet_pooled_spare_breakdown_ms": {"session_start_ms": 12.0},
        "fleet_pooled_spare_memory_at_peak": {"sessions": 4},
        **_spare_figures([1.1], 1400.0),
    }
    figures.update(spare_memory(figures))
    table = {label: (value, target) for label, value, target in rows(figures)}
    assert "4 browsers (2N, not N+1)" in table["fleet_pooled_spare"][1]
    assert table["fleet_spare_vs_tuned"][1].startswith(">= 1.1x NOT MET")
    assert table["spare memory growth"][0] == "40.0 %"
    assert table["memory fleet_pooled_spare"][0] == "1400.0 MB"
    assert "4 sessions" in table["memory fleet_pooled_spare"][1]
    assert table["grid.pool_spares default"][0] == "0"
    assert table["  (c+) spare session_start_ms"][0] == "12.0"


def test_the_memory_sample_counts_the_runner_processes() -> None:
    here = sample(fixed([]), fixed([os.getpid()]))
    assert here.runner_mb > 0
    assert here.total_mb == here.runner_mb
    assert (here.grid_mb, here.browsers_mb, here.sessions) == (0.0, 0.0, 0)
