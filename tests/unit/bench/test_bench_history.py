"""The history benchmark's pure parts: the runs it archives and the table it prints."""

from __future__ import annotations

from typing import Any

from bench.bench_history import ARCHIVE_CASES, finished_run, rows


def test_an_archived_run_is_a_finished_run_of_seeded_tests_with_some_failures() -> None:
    result, record = finished_run(0, tests=10_000, cases=ARCHIVE_CASES)

    assert record.total == len(result.tests) == ARCHIVE_CASES
    assert sum(result.counts.values()) == ARCHIVE_CASES
    assert len({c.name for c in result.tests}) == ARCHIVE_CASES  # distinct tests
    failed = [c for c in result.tests if c.status == "failed"]
    flaky = [c for c in result.tests if c.status == "flaky"]
    assert len(failed) == len(flaky) == ARCHIVE_CASES // 40
    for case in failed:
        step = case.steps[case.failed_step - 1] if case.failed_step else None
        assert step is not None
        assert (step.status, step.selector) == ("failed", f"#buy-{int(case.name[5:]) % 37}")
        assert [a.status for a in case.history or []] == ["failed", "failed"]
    assert all([a.status for a in c.history or []] == ["failed", "passed"] for c in flaky)
    again = finished_run(0, 10_000, ARCHIVE_CASES)[0].tests
    assert [(c.name, c.status) for c in again] == [(c.name, c.status) for c in result.tests]


def _figures(**changes: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "quick": False,
        "tests": 10_000,
        "runs": 100,
        "attempts": 1_013_524,
        "history_p95_ms": 40.0,
        "flaky_median_ms": 250.0,
        "archive_cases_per_s": 2_500.0,
        "size_mb_per_million_attempts": 380.0,
    }
    return {**figures, **changes}


def test_the_table_says_met_or_not_met_per_target() -> None:
    met = {label: target for label, _, target in rows(_figures())}
    missed = {
        label: target
        for label, _, target in rows(
            _figures(history_p95_ms=301.0, flaky_median_ms=501.0, archive_cases_per_s=999.0)
        )
    }

    for label in ("a test's history, P95", "flaky list (30 days), median", "archiving"):
        assert met[label].endswith(" met"), met[label]
        assert missed[label].endswith("NOT MET"), missed[label]
    assert "full" in met["seeded tests x runs"]
