"""What a CI shows of a run: ``testfleet run --summary markdown FILE`` and JUnit with
the failures' screenshots beside it, against a real local fleet (``conftest.fleet``:
Grid, Chromium, the API, the archiver that labels the failures)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from tests.conftest import Fleet, cli

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

SUITE = """
name: Summary
env: [DEMO_URL]
base_url: ${DEMO_URL}
tests:
  - name: login page loads
    steps:
      - navigate: /login
  - name: greeting | is wrong
    steps:
      - navigate: /login
      - type: {selector: "#user", text: alice}
      - type: {selector: "#pass", text: wonderland, secret: true}
      - click: "button[type=submit]"
      - assert_text: {selector: h1, contains: Goodbye, timeout: 2}
"""


def test_summary_and_junit_screenshots_for_the_ci(fleet: Fleet, tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "summary.yaml").write_text(SUITE)
    # As in a CI job: paths relative to the job's directory; labels waited for long
    # enough that the archiver's always arrive.
    env = {**fleet.env, "TESTFLEET_HISTORY__LABELS_WAIT_S": "120"}
    args = ["run", "suites", "--summary", "markdown", "summary.md", "--junit", "out/j.xml"]
    done = cli(*args, env=env, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr

    summary = (tmp_path / "summary.md").read_text()
    assert "testfleet run" in summary
    assert ": failed" in summary
    assert "**1/2 passed** (1 failed, 1 passed)" in summary
    [row] = [line for line in summary.splitlines() if line.startswith("| Summary")]
    assert "greeting \\| is wrong" in row
    assert "step 5" in row
    assert "Goodbye" in row
    assert row.rstrip(" |").endswith("`new`"), row  # its labels, from the history
    assert "wonderland" not in summary
    report = summary.split("[report](<", 1)[1].split(">)", 1)[0]
    dashboard = summary.split("[dashboard](<", 1)[1].split(">)", 1)[0]
    assert report.startswith(str(fleet.status["api_url"]))
    assert dashboard.startswith(str(fleet.status["gateway_url"]))
    answer = httpx.get(report, headers={"Authorization": f"Bearer {fleet.admin_key}"})
    assert answer.status_code == 200
    assert "greeting | is wrong" in answer.text

    junit = ET.parse(tmp_path / "out" / "j.xml").getroot()
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    assert cases["login page loads"].find("system-out") is None
    out = cases["greeting | is wrong"].findtext("system-out") or ""
    lines = [line for line in out.splitlines() if line.startswith("[[ATTACHMENT|")]
    assert lines, out
    for line in lines:
        path = line.removeprefix("[[ATTACHMENT|").removesuffix("]]")
        assert path.startswith("out/j-screenshots/"), path
        assert (tmp_path / path).read_bytes().startswith(b"\x89PNG")
