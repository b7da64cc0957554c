"""The Markdown summary (``testfleet run --summary markdown``): totals, a row per test
that did not pass, labels when known, links; whatever a run says cannot break it."""

from __future__ import annotations

from typing import Any

from api.report_markdown import MAX_FAILED_ROWS, escape, markdown_summary
from testfleet.payloads import FailureCluster, LabelledTest, RunLabels
from testfleet.results import RunResult


def _case(n: int, status: str, error: str | None = None) -> dict[str, Any]:
    return {
        "case_id": f"r-{n}",
        "run_id": "r",
        "suite": "shop",
        "name": f"test {n}",
        "status": status,
        "attempts": 1,
        "error": error,
        "steps": [],
    }


def _run(*cases: dict[str, Any]) -> RunResult:
    counts: dict[str, int] = {}
    for c in cases:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    return RunResult.model_validate(
        {
            "runId": "r",
            "projectId": "p",
            "name": "nightly",
            "status": "failed" if "failed" in counts else "passed",
            "createdMs": 1_000,
            "finishedMs": 3_500,
            "counts": counts,
            "tests": list(cases),
        }
    )


def test_totals_failed_rows_and_links() -> None:
    run = _run(_case(1, "passed"), _case(2, "failed", "expected Goodbye, saw Welcome"))
    links = {"dashboard": "http://gw/dashboard#/runs/r", "report": "http://api/r/report.html"}
    text = markdown_summary(run, None, links)
    assert "**1/2 passed** (1 failed, 1 passed) in 2.5 s" in text
    rows = [line for line in text.splitlines() if line.startswith("| shop")]
    assert rows == ["| shop › test 2 | ❌ failed | expected Goodbye, saw Welcome |"]
    assert "| test | status | error |" in text  # no labels column when none are known
    assert "[dashboard](<http://gw/dashboard#/runs/r>)" in text
    assert "[report](<http://api/r/report.html>)" in text


def test_a_passed_run_has_no_table() -> None:
    text = markdown_summary(_run(_case(1, "passed"), _case(2, "flaky")))
    assert "**2/2 passed**" in text
    assert "|" not in text


def test_labels_make_a_column_and_clusters_a_list() -> None:
    run = _run(_case(1, "failed", "timed out"), _case(2, "failed", "timed out"))
    labels = RunLabels(
        tests=[LabelledTest(testId="r-1", suite="shop", name="test 1", labels=["new"])],
        clusters=[FailureCluster(signature="s", count=2, tests=["r-1", "r-2"], error="timeout")],
    )
    text = markdown_summary(run, labels)
    assert "| test | status | error | labels |" in text
    assert "| shop › test 1 | ❌ failed | timed out | `new` |" in text
    assert "| shop › test 2 | ❌ failed | timed out |  |" in text
    assert "2 failure(s), 1 cause(s)" in text
    assert "- 2 × timeout: shop › test 1, shop › test 2" in text


def test_what_a_run_says_cannot_break_the_table_or_inject_html() -> None:
    evil = "a | b\nnew row <script>alert(1)</script> [x](http://evil) \x1b[31m"
    text = markdown_summary(_run(_case(1, "failed", evil)))
    [row] = [line for line in text.splitlines() if line.startswith("| shop")]
    assert row.count(" | ") == 2, row  # three cells, whatever the error held
    assert "<script>" not in text
    assert "\\<script\\>" in row
    assert "\\[x\\](http://evil)" in row
    assert "\x1b" not in text


def test_long_errors_are_cut_and_many_failures_counted() -> None:
    assert escape("x" * 1000, 10) == "x" * 9 + "…"
    cases = [_case(n, "failed", "boom") for n in range(MAX_FAILED_ROWS + 7)]
    text = markdown_summary(_run(*cases))
    assert sum(line.startswith("| shop") for line in text.splitlines()) == MAX_FAILED_ROWS
    assert "… and 7 more: see the report." in text
