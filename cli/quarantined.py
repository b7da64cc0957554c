"""What a run's quarantined tests change for ``testfleet run``: its exit code, a part of
its summary, a mark in its JSON result.

The quarantine is asked of the API when the run has finished
(``GET /runs/{id}/quarantine``), so every machine running the suite decides alike.
A test that failed or errored while in quarantine does not fail the run: the exit code
is 0 when every test that did not pass is such a test. A cancelled test is never
forgiven.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.text import Text

from testfleet.client.http import ApiClient
from testfleet.errors import TestfleetError
from testfleet.results import GOOD_STATUSES, CaseResult, RunResult

EXIT_OK, EXIT_FAILED = 0, 1
FORGIVEN_STATUSES = frozenset({"failed", "error"})
"""Final case statuses a quarantine forgives."""

Quarantined = Mapping[str, Mapping[str, Any]]
"""The run's tests in quarantine, by case id: the API's entry (reason, owner, expiresAt)."""


def fetch(api: ApiClient, run: RunResult) -> dict[str, dict[str, Any]]:
    """The run's tests in the project's quarantine now, by case id. When it cannot be
    read (no history database, an older server) none are: said on stderr if a failure
    depends on it."""
    try:
        found = api.run_quarantine(run.runId)
    except TestfleetError as exc:
        if any(c.status in FORGIVEN_STATUSES for c in run.tests):
            Console(stderr=True, highlight=False).print(
                Text(f"warning: the quarantine could not be read ({exc}); every failure counts"),
                soft_wrap=True,
            )
        return {}
    return {str(q["case_id"]): dict(q) for q in found}


def forgiven(run: RunResult, quarantined: Quarantined) -> list[CaseResult]:
    """The run's failed or errored tests that are in quarantine."""
    return [c for c in run.tests if c.status in FORGIVEN_STATUSES and c.case_id in quarantined]


def exit_code(run: RunResult, quarantined: Quarantined) -> int:
    """0 when the run passed, or failed by quarantined tests only; 1 otherwise."""
    if run.status == "passed":
        return EXIT_OK
    bad = [c for c in run.tests if c.status not in GOOD_STATUSES]
    spared = forgiven(run, quarantined)
    return EXIT_OK if run.status == "failed" and bad and len(bad) == len(spared) else EXIT_FAILED


def print_forgiven(console: Console, run: RunResult, quarantined: Quarantined) -> None:
    """The quarantined failures, apart from the others, each with its reason and owner."""
    spared = forgiven(run, quarantined)
    if not spared:
        return
    console.print(Text(f"quarantined failures ({len(spared)}; they do not fail the run):"))
    for case in spared:
        q = quarantined[case.case_id]
        until = str(q.get("expiresAt") or "?")[:10]
        line = f"  {case.suite} › {case.name}: {q.get('reason', '')} "
        console.print(Text(line + f"(owner {q.get('owner', '?')}, until {until})"), soft_wrap=True)


def mark(result: dict[str, Any], run: RunResult, quarantined: Quarantined) -> dict[str, Any]:
    """The JSON result with ``quarantined`` per test (in quarantine when the run ended)
    and the run's ``quarantinedFailures``."""
    for out in result["tests"]:
        out["quarantined"] = out["case_id"] in quarantined
    result["quarantinedFailures"] = len(forgiven(run, quarantined))
    return result
