"""``testfleet run`` prints the server's strings as text, never as rich markup, and
writes the reports it was asked for whatever those strings hold.

The API and the event stream are stood in for (a unit test); the real CLI against a
real fleet is tests/integration/fleet/test_secrets_e2e.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli import runner
from testfleet.payloads import CaseFinished, CaseOutcome, CaseProgress, CaseStarted, Progress

NASTY = "Press [/] to search [link=http://evil.test]here[/link] [bold red]x[/]"
SELECTOR = "button[type=submit]"


def _run(status: str) -> dict[str, Any]:
    case = {
        "case_id": "r-0001",
        "run_id": "r",
        "suite": f"Suite {NASTY}",
        "name": f"click {SELECTOR}",
        "status": status,
        "attempts": 1,
        "total_steps": 1,
        "failed_step": 1 if status == "failed" else None,
        "error": f'expected text of "h1" to contain "{NASTY}"' if status == "failed" else None,
        "steps": [],
    }
    links = {"events": "http://gw/sse/events?runId=r"}
    return {
        "runId": "r",
        "projectId": "p",
        "name": NASTY,
        "status": status,
        "createdMs": 1,
        "counts": {status: 1},
        "tests": [case],
        "links": links,
    }


class FakeApi:
    """The API's answers for one run: queued first, failed once followed."""

    def __init__(self, *_: object) -> None:
        self.reads = 0

    def __enter__(self) -> FakeApi:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def get_run(self, run_id: str) -> dict[str, Any]:
        self.reads += 1
        return _run("queued" if self.reads == 1 else "failed")

    def get_bytes(self, path: str) -> bytes:
        return b"<html>report</html>"

    def run_quarantine(self, run_id: str) -> list[dict[str, Any]]:
        return []


def _events(url: str, key: str | None) -> Iterator[dict[str, Any]]:
    ids = {"testId": "r-0001", "testSuiteId": f"Suite {NASTY}"}
    step = Progress(
        percentage=100,
        currentStep=f"click {SELECTOR} {NASTY}",
        stepNumber=1,
        totalSteps=1,
        duration=5,
    )
    started = CaseStarted(**ids, name=f"click {SELECTOR}", attempt=1, totalSteps=1)
    progressed = CaseProgress(**ids, attempt=1, progress=step, stepStatus="failed", stepDuration=5)
    failed = CaseFinished(
        **ids, name=f"click {SELECTOR}", result=CaseOutcome(status="failed", error=f"event {NASTY}")
    )
    # What this CLI cannot read (another version's server) is skipped, not a crash.
    yield {"type": "test_progress", "correlationId": "r-0001", "payload": {"progress": "?"}}
    yield {"type": "ai_analysis_started", "correlationId": "r-0001", "payload": {}}
    for kind, payload in (
        ("test_started", started),
        ("test_progress", progressed),
        ("test_failed", failed),
    ):
        yield {"type": kind, "correlationId": "r-0001", "payload": payload.dump()}


@pytest.mark.parametrize("terminal", [False, True])
def test_server_text_is_printed_as_text_and_the_reports_are_written(
    terminal: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(runner, "ApiClient", FakeApi)
    monkeypatch.setattr(runner, "follow_link", _events)
    if terminal:  # progress bars drawn live, as on a developer's terminal
        monkeypatch.setenv("FORCE_COLOR", "1")
        monkeypatch.setenv("COLUMNS", "400")
    else:
        monkeypatch.delenv("FORCE_COLOR", raising=False)
        monkeypatch.setenv("NO_COLOR", "1")
    outputs = runner.Outputs(
        junit=str(tmp_path / "out.xml"),
        json=str(tmp_path / "out.json"),
        html=str(tmp_path / "r.html"),
    )
    code = runner.follow_and_report(runner.Target("http://api", "k"), "r", outputs)

    assert code == runner.EXIT_FAILED
    printed = capsys.readouterr().out
    assert "\x1b]8;" not in printed, "no terminal hyperlink"
    assert "Press [/] to search" in printed
    if not terminal:  # each final result is printed as it comes
        assert f"— event {NASTY}" in printed
    assert "[link=http://evil.test]here[/link]" in printed
    assert SELECTOR in printed
    assert json.loads((tmp_path / "out.json").read_text())["status"] == "failed"
    assert "Press [/] to search" in (tmp_path / "out.xml").read_text()
    assert (tmp_path / "r.html").read_bytes() == b"<html>report</html>"


def test_an_error_from_the_server_is_printed_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    from cli import main as cli

    with pytest.raises(SystemExit) as exited:
        cli.fail(f"run failed: {NASTY}")
    assert exited.value.code == cli.EXIT_USAGE
    assert f"error: run failed: {NASTY}" in capsys.readouterr().err.replace("\n", "")
