"""actionlint for the repository's GitHub Action (``make lint``).

actionlint reads workflows, not an action's own ``action.yml``. So this lays out, in a
temporary project, (1) the action's steps as the job of a reusable workflow whose
``workflow_call`` inputs are the action's inputs: actionlint then checks every
expression, the steps' actions and versions and, through shellcheck, every ``run:``
script; (2) the example workflow (examples/github/testfleet.yml), which uses the
action as ``./``: actionlint then checks the inputs and outputs it uses against
``action.yml``. Exits with actionlint's code.

    python scripts/lint_action.py [ACTIONLINT]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "github" / "testfleet.yml"


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as ``|`` blocks: actionlint's line numbers read as the scripts."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _str)


def steps_workflow(action: dict[str, Any]) -> dict[str, Any]:
    """The composite action's steps as a reusable workflow with the same inputs."""
    inputs = {
        name: {
            "description": spec.get("description", ""),
            "required": bool(spec.get("required", False)),
            "type": "string",
            **({"default": str(spec["default"])} if "default" in spec else {}),
        }
        for name, spec in action.get("inputs", {}).items()
    }
    return {
        "name": f"{action['name']} (the action's steps)",
        "on": {"workflow_call": {"inputs": inputs}},
        "permissions": {"contents": "read"},
        "jobs": {"steps": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }


def main(argv: list[str]) -> int:
    # Resolved here: actionlint runs in the laid-out project, where a relative path breaks.
    named = argv[1] if len(argv) > 1 else (shutil.which("actionlint") or "actionlint")
    actionlint = str(Path(named).resolve()) if os.sep in named else named
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="lint-action-") as tmp:
        project = Path(tmp)
        workflows = project / ".github" / "workflows"
        workflows.mkdir(parents=True)
        shutil.copy(ROOT / "action.yml", project / "action.yml")
        steps = yaml.dump(steps_workflow(action), Dumper=_BlockDumper, sort_keys=False)
        (workflows / "action-steps.yml").write_text(steps, encoding="utf-8")
        shutil.copy(EXAMPLE, workflows / "example.yml")
        subprocess.run(["git", "init", "-q", str(project)], check=True)
        done = subprocess.run([actionlint], cwd=project, check=False)
    if done.returncode:
        print(
            "actionlint found problems in action.yml (action-steps.yml: its steps) or in "
            f"{EXAMPLE.relative_to(ROOT)} (example.yml)",
            file=sys.stderr,
        )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
