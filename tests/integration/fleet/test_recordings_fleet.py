"""Recordings through the real ``testfleet`` command on a real local fleet (``conftest.fleet``).

``testfleet run`` takes the recordings under ``tests/data/recordings`` as they
are (moved to the fleet's demo site with ``--base-url``); ``testfleet import``
writes each as a suite that ``validate`` accepts and that runs with the same
results, step for step, under the recording's own titles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Fleet

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

RECORDINGS = ROOT / "tests" / "data" / "recordings"
NAMES = sorted(p.name for p in RECORDINGS.iterdir() if p.suffix in (".json", ".side"))


def run_result(fleet: Fleet, out: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    done = fleet.run("run", *args, "--base-url", fleet.env["DEMO_URL"], "--json", str(out))
    result = json.loads(out.read_text()) if out.exists() else {}
    return done.returncode, result, done.stdout + done.stderr


def outcome(result: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Per test (by name): each step's title and status in the last attempt."""
    return {
        t["name"]: [(s["label"], s["status"]) for s in t["steps"]]
        for t in sorted(result["tests"], key=lambda t: str(t["name"]))
    }


def test_every_recording_of_the_demo_site_is_here() -> None:
    assert NAMES == [
        "chrome-browser.json",
        "chrome-login.json",
        "chrome-shadow.json",
        "demo.side",
        "flow.side",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_a_recording_runs_on_the_fleet_and_its_import_runs_the_same(
    fleet: Fleet, tmp_path: Path, name: str
) -> None:
    recording = RECORDINGS / name
    validated = fleet.run("validate", str(recording))
    assert validated.returncode == 0, validated.stderr
    code, result, output = run_result(fleet, tmp_path / "recording.json", str(recording))
    assert code == 0, output
    assert result["status"] == "passed"
    assert {t["status"] for t in result["tests"]} == {"passed"}, output
    assert all(steps for steps in outcome(result).values())

    imported = tmp_path / "imported.yaml"
    done = fleet.run("import", str(recording), "-o", str(imported))
    assert done.returncode == 0, done.stderr
    assert fleet.run("validate", str(imported)).returncode == 0
    code, again, output = run_result(fleet, tmp_path / "imported.json", str(imported))
    assert code == 0, output
    assert outcome(again) == outcome(result)


def test_a_side_project_is_one_run_of_its_tests_and_suites(fleet: Fleet, tmp_path: Path) -> None:
    code, result, output = run_result(fleet, tmp_path / "r.json", str(RECORDINGS / "demo.side"))
    assert code == 0, output
    project = json.loads((RECORDINGS / "demo.side").read_text())
    chosen = {i for s in project["suites"] for i in s["tests"]}
    names = {t["name"] for t in project["tests"] if t["id"] in chosen}
    assert {t["name"] for t in result["tests"]} == names


def test_a_recording_renamed_to_yaml_is_still_recognised_and_its_problems_queue_nothing(
    fleet: Fleet, tmp_path: Path
) -> None:
    flow = json.loads((RECORDINGS / "chrome-shadow.json").read_text())
    flow["steps"][2] = {"type": "customStep", "name": "myPlugin", "parameters": {}}
    flow["steps"][8]["selectors"] = [['aria/[role="button"][level="2"]']]
    flow["steps"].append({"type": "teleport"})
    bad = tmp_path / "flow.yaml"
    bad.write_text(json.dumps(flow))
    before = fleet.run("runs").stdout
    for command in ("validate", "run", "import"):
        done = fleet.run(command, str(bad))
        assert done.returncode == 2, done
        assert f"{bad}: steps[2].customStep:" in done.stderr
        assert f"{bad}: steps[8].click: aria/ selectors take" in done.stderr
        assert f"{bad}: steps[12].teleport: is not a step of the Recorder's" in done.stderr
        assert "Traceback" not in done.stderr
    assert fleet.run("runs").stdout == before, "nothing was queued"
