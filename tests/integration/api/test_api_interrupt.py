"""What ``testfleet run`` / ``watch`` do once interrupted, against a real API (in process).

The signals themselves are tested in tests/unit/cli/test_interrupt.py and, end to end on a
real fleet, in tests/chaos/test_cli_interrupt.py; here: the run is cancelled or not,
the reports so far are written, one line is said, the exit code is the signal's.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli import runner
from cli.interrupt import Interrupted
from tests.integration.api.helpers import (
    Keys,
    case,
    submit,
    suite,
)

pytestmark = pytest.mark.redis


def queued_run(client: httpx.Client) -> str:
    answer = submit(client, suite("S", case("one"), case("two")))
    return str(answer["runId"])


def test_an_interrupted_run_is_cancelled_and_its_reports_so_far_written(
    alpha: httpx.Client,
    api_url: str,
    api_keys: Keys,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = queued_run(alpha)
    outputs = runner.Outputs(junit=str(tmp_path / "j.xml"), json=str(tmp_path / "r.json"))
    target = runner.Target(api_url, api_keys.alpha)

    code = runner.stop_following(target, run_id, outputs, Interrupted(signal.SIGINT), cancel=True)

    assert code == 130
    line = capsys.readouterr().err.strip()
    assert "\n" not in line, line
    assert line.startswith(f"interrupted: cancelled run {run_id}; 2 of 2 test(s) had finished")
    assert line.endswith(f"reports so far: {outputs.junit}, {outputs.json}")
    run: dict[str, Any] = alpha.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "cancelled"
    assert json.loads(Path(str(outputs.json)).read_text())["status"] == "cancelled"


@pytest.mark.parametrize("watching", [False, True])
def test_keep_running_and_watch_leave_the_run_alone(
    alpha: httpx.Client,
    api_url: str,
    api_keys: Keys,
    capsys: pytest.CaptureFixture[str],
    watching: bool,
) -> None:
    run_id = queued_run(alpha)
    target = runner.Target(api_url, api_keys.alpha)
    stop = Interrupted(signal.SIGTERM)

    code = runner.stop_following(
        target, run_id, runner.Outputs(), stop, cancel=False, watching=watching
    )

    assert code == 143
    line = capsys.readouterr().err.strip()
    assert f"testfleet watch {run_id}" in line
    assert ("stopped following" in line) is watching
    assert alpha.get(f"/api/v1/runs/{run_id}").json()["status"] == "queued"


def test_an_interrupt_while_following_cancels_the_submitted_run(
    alpha: httpx.Client,
    api_url: str,
    api_keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted(*_: object, **__: object) -> int:
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(runner, "follow_and_report", interrupted)
    from testfleet.suites.loader import load_document

    suites = [load_document(suite("S", case("one")), {})]
    target = runner.Target(api_url, api_keys.alpha)

    code = runner.submit_and_follow(target, suites, set(), "n", runner.Outputs())

    assert code == 143
    out = capsys.readouterr()
    run_id = out.out.split()[1].rstrip(":")
    assert f"cancelled run {run_id}" in out.err
    assert alpha.get(f"/api/v1/runs/{run_id}").json()["status"] == "cancelled"


def test_an_unreachable_server_still_ends_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = runner.Target("http://127.0.0.1:9", None)
    stop = Interrupted(signal.SIGINT)

    code = runner.stop_following(target, "r1", runner.Outputs(), stop, cancel=True)

    assert code == 130
    line = capsys.readouterr().err.strip()
    assert "\n" not in line
    assert "could not cancel run r1" in line
    assert "no reports written" in line


def test_a_signal_just_after_watch_says_it_follows_stops_following_cleanly(
    alpha: httpx.Client,
    api_url: str,
    api_keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = queued_run(alpha)
    target = runner.Target(api_url, api_keys.alpha)
    said = runner.Console.print

    def say_then_get_signalled(console: Any, *args: Any, **kwargs: Any) -> None:
        said(console, *args, **kwargs)
        if str(args[0]).startswith("following run"):  # where a CI runner's SIGTERM may land
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(runner.Console, "print", say_then_get_signalled)

    code = runner.watch(target, run_id, runner.Outputs())

    assert code == 143
    assert f"stopped following run {run_id}" in capsys.readouterr().err
    assert alpha.get(f"/api/v1/runs/{run_id}").json()["status"] == "queued"
