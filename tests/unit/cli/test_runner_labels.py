"""``testfleet run`` waits for the labels of a finished run's failures and shows them in
the summary, the ``--json`` result and JUnit (the API stood in for: labels arrive on the
second ask, as after the archiver wrote the run). The real API and archiver are
tests/integration/history/test_api_labels.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli import runner
from testfleet.payloads import FailureCluster, LabelledTest, RunLabels
from testfleet.results import RunResult


def _case(n: int) -> dict[str, Any]:
    return {
        "case_id": f"r-{n}",
        "run_id": "r",
        "suite": "shop",
        "name": f"test {n}",
        "status": "failed",
        "attempts": 1,
        "error": f"timed out after {n}00 ms",
        "steps": [],
    }


LABELS = RunLabels(
    tests=[
        LabelledTest(testId="r-1", suite="shop", name="test 1", labels=["new"], signature="s1"),
        LabelledTest(testId="r-2", suite="shop", name="test 2", labels=["flaky", "quarantined"]),
    ],
    clusters=[FailureCluster(signature="s1", count=2, tests=["r-1", "r-2"], error="timed out")],
)


class LabellingApi:
    """A failed run of two tests whose labels are there at the second ask."""

    def __init__(self, *_: object) -> None:
        self.asked = 0

    def __enter__(self) -> LabellingApi:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def get_run(self, run_id: str) -> dict[str, Any]:
        return {
            "runId": "r",
            "projectId": "p",
            "name": "nightly",
            "status": "failed",
            "createdMs": 1,
            "counts": {"failed": 2},
            "tests": [_case(1), _case(2)],
            "links": {"events": "http://gw/sse/events?runId=r"},
        }

    def run_labels(self, run_id: str) -> dict[str, Any]:
        self.asked += 1
        if self.asked == 1:
            return {"runId": run_id, "archived": False, "tests": [], "clusters": []}
        return {"runId": run_id, "archived": True, **LABELS.dump()}

    def run_quarantine(self, run_id: str) -> list[dict[str, Any]]:
        return []


def _no_events(url: str, key: str | None) -> Iterator[dict[str, Any]]:
    return iter(())


def test_the_labels_are_waited_for_and_shown_in_the_summary_json_and_junit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(runner, "ApiClient", LabellingApi)
    monkeypatch.setattr(runner, "follow_link", _no_events)
    monkeypatch.setenv("COLUMNS", "200")
    outputs = runner.Outputs(
        junit=str(tmp_path / "out.xml"), json=str(tmp_path / "out.json"), labels_wait_s=60.0
    )

    runner.follow_and_report(runner.Target("http://api", "k"), "r", outputs)

    printed = capsys.readouterr().out
    assert "labels" in printed
    assert "flaky, quarantined" in printed
    assert "2 failure(s), 1 cause(s)" in printed
    result = json.loads((tmp_path / "out.json").read_text())
    assert [t["labels"] for t in result["tests"]] == [["new"], ["flaky", "quarantined"]]
    assert result["clusters"][0]["count"] == 2
    junit = (tmp_path / "out.xml").read_text()
    assert '<property name="testfleet.label" value="quarantined" />' in junit


def test_without_a_failure_nothing_is_waited_for() -> None:
    api = LabellingApi()
    run = RunResult.model_validate(api.get_run("r"))
    passed = run.model_copy(
        update={"tests": [t.model_copy(update={"status": "passed"}) for t in run.tests]}
    )

    assert runner.wait_for_labels(api, passed, 60.0) is None  # type: ignore[arg-type]
    assert api.asked == 0
