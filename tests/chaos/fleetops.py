"""Driving a real local fleet through faults: suites, runs, workers started and killed.

The fleet is ``testfleet up`` (``tests.conftest.start_fleet``) at the shipped
settings; these helpers only add what an orchestrator does around it (start a
replacement worker, send signals) and read the run back over the API.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.chaos.evidence import run_events
from tests.conftest import ROOT, Fleet
from tests.waiting import WaitTimeout, wait_until

FINAL = ("passed", "failed", "cancelled")
"""A run's settled statuses."""
CASE_FINAL = ("passed", "failed", "error", "cancelled", "flaky")


def now_ms() -> int:
    return int(time.time() * 1000)


def suite_file(directory: Path, cases: int, steps: str, name: str = "Chaos") -> Path:
    """A suite of ``cases`` identical tests made of ``steps`` (YAML step lines)."""
    tests = "\n".join(f"  - name: case {i}\n    steps:\n{steps}" for i in range(cases))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name.lower()}.yaml"
    path.write_text(f"name: {name}\nenv: [DEMO_URL]\nbase_url: ${{DEMO_URL}}\ntests:\n{tests}\n")
    return path


SHORT_STEPS = """      - navigate: /
      - wait: 2
      - navigate: /login
      - assert_visible: "#user"
"""
"""A case of about four seconds: long enough to be caught mid-test."""


def submit(fleet: Fleet, suite: Path) -> str:
    """Queue ``suite`` and return the run id (``testfleet run --no-follow``)."""
    submitted = fleet.run("run", str(suite), "--no-follow")
    assert submitted.returncode == 0, submitted
    return submitted.stdout.split()[1].rstrip(":")


class Api:
    """The fleet's API as the admin key sees it."""

    def __init__(self, fleet: Fleet) -> None:
        self.url = str(fleet.status["api_url"])
        self.headers = {"Authorization": f"Bearer {fleet.admin_key}"}
        self.redis = redis.Redis.from_url(str(fleet.status["redis_url"]), decode_responses=True)

    def run(self, run_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/api/v1/runs/{run_id}", headers=self.headers, timeout=10)
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data

    def wait_done(self, run_id: str, timeout_s: float) -> dict[str, Any]:
        return wait_until(
            f"run {run_id} to complete",
            lambda: (r := self.run(run_id))["status"] in FINAL and r,
            timeout_s,
            interval_s=0.5,
            ignore=(httpx.HTTPError,),
        )

    def wait_cases_final(self, run_id: str, timeout_s: float) -> dict[str, Any]:
        """The run once every case has its final status (a cancelled run is "cancelled"
        before its running cases have stopped at their next step)."""
        return wait_until(
            f"every case of run {run_id} to be final",
            lambda: (
                (r := self.run(run_id))["status"] in FINAL
                and all(t["status"] in CASE_FINAL for t in r["tests"])
                and r
            ),
            timeout_s,
            interval_s=0.5,
            ignore=(httpx.HTTPError,),
        )

    def events(self, run_id: str) -> list[dict[str, Any]]:
        return run_events(self.redis, run_id)

    def running(self, run_id: str) -> list[dict[str, Any]]:
        """The run's cases that are running and past their first step."""
        return [t for t in self.run(run_id)["tests"] if t["status"] == "running" and t["steps"]]


def node(worker: str | None) -> str:
    """``tfworker-1@host:4242`` -> ``tfworker-1``."""
    return (worker or "").split("@")[0]


class Workers:
    """The fleet's workers and the replacements a test starts, by node name."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        procs = {p["name"]: p["pid"] for p in fleet.state["processes"]}  # type: ignore[attr-defined]
        # `testfleet up` starts each worker in its own session: pid = process group id.
        self.alive = {
            f"tfworker-{n.removeprefix('worker-')}": pid
            for n, pid in procs.items()
            if n.startswith("worker-")
        }
        self.started: list[subprocess.Popen[bytes]] = []

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the whole worker (main process and pool children), as a dying container."""
        os.killpg(self.alive.pop(name), sig)

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """Start one more worker, as an orchestrator replaces a dead one."""
        log = (self.fleet.state_dir / "logs" / f"{name}.log").open("ab")
        popen = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker", "--name", name],
            env=self.fleet.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.started.append(popen)
        self.alive[name] = popen.pid
        return popen

    def stop_started(self) -> None:
        """Warm-stop every worker this test started; kill those still up after a while."""
        for popen in self.started:
            if popen.poll() is None:
                os.killpg(popen.pid, signal.SIGTERM)
        try:
            wait_until(
                "started workers to stop",
                lambda: all(p.poll() is not None for p in self.started),
                60,
            )
        except WaitTimeout:
            pass  # one still finishing a case: killed below, as an orchestrator would
        finally:
            for popen in self.started:
                if popen.poll() is None:
                    os.killpg(popen.pid, signal.SIGKILL)
                    popen.wait()


def pool_children(pid: int) -> list[int]:
    """The pool processes of the worker whose main process is ``pid``."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(c) for c in children.read_text().split()]
    except OSError:
        return []


STARTED: list[Command] = []
"""Every command a test started, stopped at its end whatever happened (``_stop_commands``)."""


class Command:
    """``testfleet ARGS`` running in the background, as a user's terminal runs it."""

    def __init__(self, fleet: Fleet, *args: str) -> None:
        STARTED.append(self)
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            env=fleet.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.first_line = ""

    def run_id(self) -> str:
        assert self.popen.stdout is not None
        self.first_line = self.popen.stdout.readline()
        assert " queued" in self.first_line, self.first_line
        return self.first_line.split()[1].rstrip(":")

    def finish(self, timeout_s: float = 60) -> tuple[int, str, str]:
        out, err = self.popen.communicate(timeout=timeout_s)
        return self.popen.returncode, self.first_line + out, err

    def close(self) -> None:
        """Kill it if it still runs, and reap it."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.communicate()
