"""Accessibility and performance checks through the real ``testfleet`` command on a real
local fleet (``conftest.fleet``): the workers run them on the Grid, the reports carry
them (``--json``, ``--junit``, ``--html``, ``--a11y-report``), and ``testfleet
baselines approve`` accepts a failed check's violations so the next run passes.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Fleet

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

SUITE = """name: quality
base_url: http://placeholder.test
tests:
  - name: contrast
    steps:
      - navigate: /a11y/contrast
      - assert_accessible: {name: page}
  - name: speed
    steps:
      - navigate: /speed
      - assert_performance: {budgets: {load_ms: 60000, lcp_ms: 60000}, runs: 2}
"""


def _run(fleet: Fleet, tmp_path: Path, suite: Path, tag: str) -> tuple[int, dict[str, Any], str]:
    done = fleet.run(
        "run",
        str(suite),
        "--base-url",
        fleet.env["DEMO_URL"],
        "--json",
        str(tmp_path / f"{tag}.json"),
        "--junit",
        str(tmp_path / f"{tag}.xml"),
        "--html",
        str(tmp_path / f"{tag}.html"),
        "--a11y-report",
        str(tmp_path / f"{tag}-a11y.json"),
    )
    result = json.loads((tmp_path / f"{tag}.json").read_text())
    return done.returncode, result, done.stdout + done.stderr


def test_checks_run_on_the_fleet_show_in_every_report_and_approving_accepts_them(
    fleet: Fleet, tmp_path: Path
) -> None:
    suite = tmp_path / "quality.yaml"
    suite.write_text(SUITE)
    code, result, output = _run(fleet, tmp_path, suite, "first")
    assert code == 1, output
    assert (
        'accessibility › quality › contrast › step 2 "page": 1 new: color-contrast (serious); '
        f"accept: testfleet baselines approve {result['runId']}"
    ) in output
    tests = {t["name"]: t for t in result["tests"]}
    assert tests["contrast"]["status"] == "failed"
    assert tests["speed"]["status"] == "passed", output
    found = tests["contrast"]["steps"][1]["accessibility"]
    assert [(v["rule"], v["impact"]) for v in found["violations"]] == [
        ("color-contrast", "serious")
    ]
    assert found["violations"][0]["nodes"][0]["screenshot"] in tests["contrast"]["artifacts"]
    measured = tests["speed"]["steps"][1]["performance"]
    assert len(measured["runs"]) == 2
    assert measured["metrics"]["load_ms"] > 0

    report = json.loads((tmp_path / "first-a11y.json").read_text())
    assert report["errors"] == 1
    [issues] = report["results"].values()
    assert [(i["code"], i["selector"]) for i in issues] == [("color-contrast", "#note")]
    junit = ET.fromstring((tmp_path / "first.xml").read_text())
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["a11y.step2.rules"] == "color-contrast:serious"
    assert "performance.step2.lcp_ms" in props
    html = (tmp_path / "first.html").read_text()
    assert "color-contrast" in html
    assert "Performance (median of 2 loads)" in html

    approved = fleet.run("baselines", "approve", result["runId"])
    assert approved.returncode == 0, approved.stderr
    assert "approved quality › contrast › page (accessibility)" in approved.stdout
    code, again, output = _run(fleet, tmp_path, suite, "second")
    assert code == 0, output
    contrast = next(t for t in again["tests"] if t["name"] == "contrast")
    statuses = {
        n["status"] for v in contrast["steps"][1]["accessibility"]["violations"] for n in v["nodes"]
    }
    assert statuses == {"accepted"}
