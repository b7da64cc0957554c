"""``testfleet run``'s exit code, summary and JSON result with quarantined tests: a
failure of a quarantined test does not fail the run; any other failure still does."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cli import quarantined
from testfleet.results import CaseResult, RunResult


def run_of(*statuses: str, run_status: str = "failed") -> RunResult:
    tests = [
        CaseResult(case_id=f"c{i}", run_id="r", suite="Checkout", name=f"t{i}", status=s)
        for i, s in enumerate(statuses)
    ]
    return RunResult(
        runId="r", projectId="p", name="n", status=run_status, createdMs=0, counts={}, tests=tests
    )


ENTRY = {"reason": "payment stub", "owner": "dana", "expiresAt": "2026-12-21T00:00:00Z"}


@pytest.mark.parametrize(
    ("statuses", "run_status", "spared", "code"),
    [
        (("passed", "flaky"), "passed", {}, 0),
        (("passed", "failed"), "failed", {}, 1),
        (("passed", "failed"), "failed", {"c1"}, 0),
        (("failed", "error"), "failed", {"c0", "c1"}, 0),
        (("failed", "error"), "failed", {"c0"}, 1),  # the error is not quarantined
        (("failed", "failed"), "failed", {"c0", "c2"}, 1),  # c2 is not in the run
        (("passed", "failed"), "failed", {"c0"}, 1),  # the passed test's quarantine spares none
        (("failed", "cancelled"), "cancelled", {"c0", "c1"}, 1),  # a cancelled run fails
    ],
)
def test_the_exit_code_forgives_quarantined_failures_only(
    statuses: tuple[str, ...], run_status: str, spared: set[str], code: int
) -> None:
    run = run_of(*statuses, run_status=run_status)
    assert quarantined.exit_code(run, {c: ENTRY for c in spared}) == code


def test_quarantined_failures_are_listed_apart_and_marked_in_the_json() -> None:
    run = run_of("passed", "failed", "failed")
    spared = {"c0": ENTRY, "c2": ENTRY}
    out = io.StringIO()
    quarantined.print_forgiven(Console(file=out, width=200), run, spared)
    text = out.getvalue()
    assert "quarantined failures (1; they do not fail the run)" in text
    assert "Checkout › t2: payment stub (owner dana, until 2026-12-21)" in text
    assert "t1" not in text

    result = {"tests": [{"case_id": c.case_id} for c in run.tests]}
    marked = quarantined.mark(result, run, spared)
    assert [t["quarantined"] for t in marked["tests"]] == [True, False, True]
    assert marked["quarantinedFailures"] == 1
