"""The GitHub Action (action.yml): its "Run the suites" step's script, run as the runner
runs it (``bash --noprofile --norc -eo pipefail``) with a fake ``GITHUB_*`` environment
and the step's ``env:`` (the ``${{ inputs.* }}`` expressions evaluated as GitHub does),
against a real local fleet (``conftest.fleet``). The install step is GitHub's
``pip install`` of this checkout; here the CLI under test is already on PATH."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, Fleet

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

SUITE = """
name: Action
env: [DEMO_URL]
base_url: ${DEMO_URL}
tests:
  - name: login page loads
    tags: [smoke]
    steps:
      - navigate: /login
  - name: greeting is wrong
    tags: [smoke]
    steps:
      - navigate: /login
      - assert_text: {selector: h1, contains: Goodbye, timeout: 2}
  - name: not a smoke test
    steps:
      - navigate: /nowhere-at-all
      - assert_text: {selector: h1, contains: Never, timeout: 1}
"""
COMMIT = "3816a68e0c4f2b1d9e7a6b5c4d3e2f1a0b9c8d7e"
_INPUT = re.compile(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}")


def run_step(action: dict[str, Any], inputs: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The ``run`` step's script and env, its ``inputs`` expressions evaluated (defaults
    from action.yml); any other expression fails the test: the script must not rely on
    what this harness cannot give it."""
    [step] = [s for s in action["runs"]["steps"] if s.get("id") == "run"]
    values = {
        name: inputs.get(name, str(spec.get("default", "")))
        for name, spec in action["inputs"].items()
    }

    def evaluate(text: str) -> str:
        done = _INPUT.sub(lambda m: values[m.group(1)], text)
        assert "${{" not in done, f"an expression the step cannot have: {text}"
        return done

    assert "${{" not in step["run"], "inputs reach the script through env:, never inline"
    env = {name: evaluate(str(value)) for name, value in step.get("env", {}).items()}
    assert step["shell"] == "bash"
    return step["run"], env


def github_env(workspace: Path, fleet: Fleet) -> dict[str, str]:
    files = workspace.parent
    for name in ("summary.md", "output.txt"):
        (files / name).write_text("")
    env = {
        **fleet.env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(files / "summary.md"),
        "GITHUB_OUTPUT": str(files / "output.txt"),
        "RUNNER_TEMP": str(files),
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF": "refs/heads/feature-x",
        "GITHUB_REF_NAME": "feature-x",
        "GITHUB_SHA": COMMIT,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_ACTOR": "alice",
    }
    for var in ("GITHUB_HEAD_REF", "GITHUB_EVENT_PATH", "TESTFLEET_SERVER", "TESTFLEET_API_KEY"):
        env.pop(var, None)
    return env


def run_action(
    fleet: Fleet, tmp_path: Path, inputs: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], Path]:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    script, step_env = run_step(action, inputs)
    workspace = tmp_path / "workspace"
    (workspace / "e2e").mkdir(parents=True)
    (workspace / "e2e" / "action.yaml").write_text(SUITE)
    (tmp_path / "step.sh").write_text(script)
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(tmp_path / "step.sh")],
        cwd=workspace,
        env={**github_env(workspace, fleet), **step_env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return done, workspace


def outputs(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "output.txt").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line)


def test_the_action_runs_the_suites_and_writes_summary_outputs_and_reports(
    fleet: Fleet, tmp_path: Path
) -> None:
    hostile = 'nightly"; touch pwned; echo "$(touch pwned2)'
    inputs = {
        "server": str(fleet.status["api_url"]),
        "key": fleet.admin_key,
        "suites": "e2e",
        "tags": "smoke",
        "name": hostile,
    }
    done, workspace = run_action(fleet, tmp_path, inputs)
    assert done.returncode == 1, done.stdout + done.stderr  # a test failed: the step fails

    summary = (tmp_path / "summary.md").read_text()
    assert "**1/2 passed** (1 failed, 1 passed)" in summary  # the tag filter reached it
    assert "| Action › greeting is wrong | ❌ failed | step 2" in summary
    assert "[dashboard](<" in summary
    assert "[report](<" in summary

    out = outputs(tmp_path)
    reports = workspace / out["reports-dir"]
    result = json.loads((reports / "result.json").read_text())
    assert out["run-id"] == result["runId"]
    assert out["status"] == "failed"
    assert out["passed"] == "1"
    assert out["failed"] == "1"
    for report in ("junit.xml", "report.html", "summary.md"):
        assert (reports / report).stat().st_size > 0, report
    assert list((reports / "junit-screenshots").rglob("*.png")), "the failure's screenshot"

    assert result["name"] == hostile  # the input is data, never shell code
    assert not list(workspace.glob("pwned*"))
    meta = result["metadata"]
    assert meta["branch"] == "feature-x"
    assert meta["commit"] == COMMIT
    assert meta["build_url"] == "https://github.example/acme/shop/actions/runs/4242"


def test_an_empty_suites_input_says_what_to_fix(fleet: Fleet, tmp_path: Path) -> None:
    inputs = {"server": str(fleet.status["api_url"]), "key": "k", "suites": "  \n "}
    done, _ = run_action(fleet, tmp_path, inputs)
    assert done.returncode == 2
    assert "::error::the suites input is empty" in done.stdout
