"""Structured logs of a real run: the API, the workers and the gateway write JSON lines
(``testfleet up`` logs to files, not a terminal) that carry the run's id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, Fleet

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]


def log_lines(fleet: Fleet, name: str) -> list[str]:
    return (fleet.state_dir / "logs" / f"{name}.log").read_text(errors="replace").splitlines()


def test_a_runs_log_lines_from_every_component_are_json_with_its_run_id(
    fleet: Fleet, tmp_path: Path
) -> None:
    out = tmp_path / "result.json"
    done = fleet.run("run", str(ROOT / "examples" / "suites" / "login.yaml"), "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = json.loads(out.read_text())["runId"]
    sse = httpx.get(
        f"{fleet.status['gateway_url']}/sse/events",
        params={"runId": run_id, "token": fleet.admin_key},
        timeout=30,
    )
    assert sse.status_code == 200, sse.text
    assert "run_completed" in sse.text

    found: dict[str, list[dict[str, Any]]] = {}
    for name in ("api", "gateway", "worker-1", "worker-2"):
        for line in log_lines(fleet, name):
            if run_id not in line:
                continue
            record = json.loads(line)  # every line about the run is JSON...
            assert record["runId"] == run_id, record  # ...and says which run
            found.setdefault(record["component"], []).append(record)
    assert set(found) == {"api", "gateway", "worker"}, found.keys()
    assert any(r["message"].startswith(f"run {run_id} queued") for r in found["api"])
    assert any(r["logger"] == "uvicorn.access" for r in found["api"]), "the access log too"
    assert any("sse" in r["logger"] for r in found["gateway"])
    assert any(
        "subscribes" in r["message"] or "test_execution" in r["message"] for r in found["gateway"]
    ), "the CLI's WebSocket subscription"
    finished = [r for r in found["worker"] if r.get("event") == "test_completed"]
    assert finished, found["worker"]
    assert all(r["caseId"].startswith(run_id) and r["worker"] for r in finished)
    assert fleet.admin_key not in "".join(
        line for name in ("api", "gateway") for line in log_lines(fleet, name)
    ), "the key presented as ?token= is masked"
