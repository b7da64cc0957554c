"""Chaos: ``testfleet run`` interrupted (Ctrl-C, CI's SIGTERM) while it follows a run.

The real command against the real local fleet, signalled as a terminal or a CI
runner would: it cancels the run it submitted (queued cases never start, running
ones stop at their next step), writes the reports it has, prints one line and
exits 130 (SIGINT) or 143 (SIGTERM), never with a traceback. ``--keep-running``
leaves the run going; ``testfleet watch`` only stops following; a second Ctrl-C
exits at once.
"""

from __future__ import annotations

import json
import signal
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.chaos.evidence import analyse, assert_goals, record
from tests.chaos.fleetops import Api, Command, now_ms, suite_file
from tests.conftest import Fleet
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.redis,
    pytest.mark.grid,
    pytest.mark.browser,
    pytest.mark.slow,
]

CASES = 6
STEPS = """      - navigate: /
      - wait: 2
      - navigate: /login
      - wait: 2
      - assert_visible: "#user"
"""


def one_line(err: str) -> str:
    """The one line an interrupt prints (after the start's note of the variables read)."""
    lines = [line for line in err.splitlines() if line.strip()]
    if lines and lines[0].startswith("environment: read "):
        lines = lines[1:]
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"one line, not {len(lines)}: {err}"
    return lines[0]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_is_cancelled_reported_and_exits_with_the_signal_code(
    fleet: Fleet, tmp_path: Path, sig: int, code: int
) -> None:
    api = Api(fleet)
    junit, result = tmp_path / "out.xml", tmp_path / "out.json"
    suite = suite_file(tmp_path, CASES, STEPS)
    command = Command(fleet, "run", str(suite), "--junit", str(junit), "--json", str(result))
    run_id = command.run_id()
    hit = wait_until("a case to run", lambda: api.running(run_id), 120, interval_s=0.2)
    fault_ms = now_ms()
    command.popen.send_signal(sig)

    exit_code, _out, err = command.finish()

    final = api.wait_cases_final(run_id, 60)
    name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
    submitted = [t["case_id"] for t in final["tests"]]
    affected = {t["case_id"]: fault_ms for t in hit}
    note = "recovery = until the running cases stopped"
    figures = record(
        analyse(f"CLI interrupt ({name})", api.events(run_id), submitted, affected, note)
    )

    assert exit_code == code, err
    line = one_line(err)
    assert f"cancelled run {run_id}" in line
    assert str(junit) in line, line
    assert str(result) in line, line
    assert final["status"] == "cancelled", final
    statuses = {t["status"] for t in final["tests"]}
    assert "cancelled" in statuses, statuses
    assert statuses <= {"passed", "cancelled"}, statuses
    report = json.loads(result.read_text())
    assert report["runId"] == run_id
    assert ET.parse(junit).getroot().get("tests") == str(CASES)
    assert_goals(figures)


def test_keep_running_leaves_the_run_going_and_says_how_to_follow_it(
    fleet: Fleet, tmp_path: Path
) -> None:
    api = Api(fleet)
    command = Command(fleet, "run", str(suite_file(tmp_path, 2, STEPS)), "--keep-running")
    run_id = command.run_id()
    wait_until("a case to run", lambda: api.running(run_id), 120, interval_s=0.2)
    command.popen.send_signal(signal.SIGINT)

    exit_code, _out, err = command.finish()

    assert exit_code == 130
    assert f"testfleet watch {run_id}" in one_line(err)
    assert api.wait_done(run_id, 120)["status"] == "passed", "the run went on to its end"


def test_watch_stops_following_without_cancelling(fleet: Fleet, tmp_path: Path) -> None:
    api = Api(fleet)
    # Long enough to be still going once `watch` has started (a few seconds here).
    submitted = fleet.run("run", str(suite_file(tmp_path, CASES, STEPS)), "--no-follow")
    run_id = submitted.stdout.split()[1].rstrip(":")
    wait_until("a case to run", lambda: api.running(run_id), 120, interval_s=0.2)
    watcher = Command(fleet, "watch", run_id)
    assert watcher.popen.stdout is not None
    assert f"following run {run_id}" in watcher.popen.stdout.readline()
    watcher.popen.send_signal(signal.SIGTERM)

    exit_code, _out, err = watcher.finish()

    assert exit_code == 143, err
    assert f"stopped following run {run_id}" in one_line(err)
    assert api.wait_done(run_id, 120)["status"] == "passed", "not cancelled"


def test_a_second_ctrl_c_exits_at_once(fleet: Fleet, tmp_path: Path) -> None:
    api = Api(fleet)
    command = Command(fleet, "run", str(suite_file(tmp_path, 2, STEPS)))
    run_id = command.run_id()
    wait_until("a case to run", lambda: api.running(run_id), 120, interval_s=0.2)
    command.popen.send_signal(signal.SIGINT)
    command.popen.send_signal(signal.SIGINT)

    exit_code, _out, err = command.finish(timeout_s=10)

    assert exit_code == 130
    assert "Traceback" not in err, err
    api.wait_done(run_id, 120)  # cancelled by the first, or left running: either way it ends
