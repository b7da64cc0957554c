"""End to end on the local fleet: a run whose only failure is a quarantined test exits 0
and lists it apart; a failure of a test not in quarantine still exits 1."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.conftest import Fleet

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.grid, pytest.mark.browser]


def suite(path: Path, name: str, tests: dict[str, str]) -> Path:
    """A suite of tests that each open the demo site's home page and look for a heading."""
    body = f"name: {name}\nenv: [DEMO_URL]\nbase_url: ${{DEMO_URL}}\ntests:\n"
    for test, heading in tests.items():
        body += (
            f"  - name: {test}\n    steps:\n      - navigate: /\n"
            f"      - assert_text: {{selector: h1, contains: {heading}, timeout: 1}}\n"
        )
    path.write_text(body)
    return path


def test_quarantine_changes_the_exit_code_only_for_quarantined_tests(
    fleet: Fleet, tmp_path: Path
) -> None:
    name = f"Quarantine {uuid.uuid4().hex[:8]}"
    one = suite(tmp_path / "one.yaml", name, {"works": "testfleet demo", "broken": "Nowhere"})
    two = suite(tmp_path / "two.yaml", name, {"broken": "Nowhere", "also broken": "Absent"})

    before = fleet.run("run", str(one))
    assert before.returncode == 1, before.stdout + before.stderr

    added = fleet.run(
        "quarantine", "add", f"{name}/broken", "--reason", "heading moved", "--owner", "qa"
    )
    assert added.returncode == 0, added.stderr
    result = tmp_path / "result.json"
    spared = fleet.run("run", str(one), "--json", str(result))
    assert spared.returncode == 0, spared.stdout + spared.stderr
    assert "quarantined failures (1; they do not fail the run)" in spared.stdout
    assert "heading moved" in spared.stdout
    tests = {t["name"]: t for t in json.loads(result.read_text())["tests"]}
    assert (tests["broken"]["status"], tests["broken"]["quarantined"]) == ("failed", True)
    assert tests["works"]["quarantined"] is False

    other = fleet.run("run", str(two))
    assert other.returncode == 1, other.stdout + other.stderr
    assert "quarantined failures (1; they do not fail the run)" in other.stdout

    fleet.run("quarantine", "remove", f"{name}/broken")
    again = fleet.run("run", str(one))
    assert again.returncode == 1, again.stdout + again.stderr
