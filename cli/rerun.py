"""``testfleet run --last-failed``: which tests to run again, from the history.

The tests that failed in the latest archived run of the same suites on the same branch
(``GET /history/last-failed``). The branch is the run's own (``--branch``, the CI's, or
local git's): without one there is no "same branch" to look at, and that is said.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from testfleet.client.http import ApiClient
from testfleet.errors import UsageError
from testfleet.results import RunMetadata
from testfleet.suites.model import Suite


@dataclass(frozen=True)
class Picked:
    """What ``--last-failed`` picked, and the line that says so."""

    said: str
    run_id: str | None = None
    tests: list[dict[str, str]] = field(default_factory=list)
    """``{"suite": ..., "test": ...}`` per test, as ``POST /runs`` takes ``only``."""


def pick(
    api_url: str, api_key: str | None, suites: list[Suite], metadata: RunMetadata | None
) -> Picked:
    """The failed tests of the branch's latest run of ``suites``."""
    branch = metadata.branch if metadata is not None else None
    if not branch:
        raise UsageError(
            "--last-failed needs the branch tested to find its latest run: pass --branch "
            "NAME (or run it in a git checkout or a CI job)"
        )
    names = [s.name for s in suites]
    with ApiClient(api_url, api_key) as api:
        answer = api.last_failed(names, branch)
    run_id = answer.get("runId")
    if run_id is None:
        return Picked(
            f"--last-failed: no archived run of these suites on branch {branch}; nothing to run"
        )
    tests = [{"suite": t["suite"], "test": t["test"]} for t in answer.get("tests", [])]
    if not tests:
        return Picked(
            f"--last-failed: no test failed in run {run_id} (branch {branch}); nothing to run",
            run_id,
        )
    return Picked(
        f"--last-failed: re-running {len(tests)} failed test(s) from run {run_id} "
        f"(branch {branch})",
        run_id,
        tests,
    )
