"""Screenshots beside a JUnit report, for the CI's test page to show.

GitLab's unit test report and Jenkins' junit-attachments plugin read
``[[ATTACHMENT|path]]`` lines in a test's ``<system-out>``; the file must exist at that
path when the CI reads the report (GitLab: the path inside the job's artifacts, from
the project directory; Jenkins: from the workspace, or absolute). So the screenshots of
the tests that did not pass cleanly are downloaded into a directory next to the report,
``<report name>-screenshots/<test>/``, and named by a path built from the report's
own: relative when ``--junit`` was relative (the job's working directory is the project
directory), absolute when it was absolute. The failing step's screenshot comes first:
GitLab shows only the first.
"""

from __future__ import annotations

import os

from testfleet.artifacts import artifact_url, names
from testfleet.client.http import ApiClient
from testfleet.errors import TestfleetError
from testfleet.results import CaseResult, RunResult

ATTACHED_STATUSES = frozenset({"failed", "error", "flaky"})
"""Tests whose screenshots are attached (a flaky test failed once: its pictures help)."""


def screenshots_dir(junit_path: str) -> str:
    """Where the screenshots of the report at ``junit_path`` go: beside it."""
    stem = os.path.splitext(os.path.basename(junit_path))[0] or "junit"
    return os.path.join(os.path.dirname(junit_path), f"{stem}-screenshots")


def _screenshots(case: CaseResult) -> list[str]:
    """The case's screenshot artifacts: the failing step's first, then in step order
    (a visual mismatch's diff beside its screenshot)."""
    ordered = sorted(case.steps, key=lambda s: (s.index != case.failed_step, s.index))
    found: list[str] = []
    for step in ordered:
        for name in (step.screenshot, step.visual.diff if step.visual else None):
            if name and name not in found and names.is_valid_name(name):
                found.append(name)
    return found


def save_screenshots(api: ApiClient, run: RunResult, junit_path: str) -> dict[str, list[str]]:
    """Download the screenshots of the run's failed, errored and flaky tests beside the
    report; returns, by ``case_id``, the paths written (a screenshot the server no
    longer has is left out: an attachment line always names a file that exists)."""
    root = screenshots_dir(junit_path)
    written: dict[str, list[str]] = {}
    for case in run.tests:
        if case.status not in ATTACHED_STATUSES:
            continue
        folder = os.path.join(root, names.safe_name(case.case_id))
        for name in _screenshots(case):
            try:
                data = api.get_bytes(artifact_url(run.runId, name))
            except TestfleetError:
                continue
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, name)
            with open(path, "wb") as out:
                out.write(data)
            written.setdefault(case.case_id, []).append(path.replace(os.sep, "/"))
    return written
