"""Shared fixtures: a real local fleet (``testfleet up``) on free ports, for end-to-end tests.

Nothing here is an in-memory stand-in: the fleet is Redis, a Selenium Grid hub and
node from the server jar, Celery workers, the API, the gateway and the demo site,
each its own process, started and stopped through the ``testfleet`` command.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fleet_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a fleet of its own: every port free, state in ``state_dir``."""
    ports = {name: free_port() for name in
             ("redis", "grid", "bus_pub", "bus_sub", "node", "api", "gateway", "demo",
              "egress")}  # fmt: skip
    env = {
        **os.environ,
        "TESTFLEET_PATHS__STATE_DIR": str(state_dir),
        "TESTFLEET_REDIS__PORT": str(ports["redis"]),
        "TESTFLEET_GRID__PORT": str(ports["grid"]),
        "TESTFLEET_GRID__EVENT_BUS_PUBLISH_PORT": str(ports["bus_pub"]),
        "TESTFLEET_GRID__EVENT_BUS_SUBSCRIBE_PORT": str(ports["bus_sub"]),
        "TESTFLEET_GRID__NODE_PORT": str(ports["node"]),
        "TESTFLEET_API__PORT": str(ports["api"]),
        "TESTFLEET_GATEWAY__PORT": str(ports["gateway"]),
        "TESTFLEET_DEMO__PORT": str(ports["demo"]),
        "TESTFLEET_SECURITY__EGRESS_PORT": str(ports["egress"]),
        "DEMO_URL": f"http://127.0.0.1:{ports['demo']}",
        **extra,
    }
    for var in (
        "TESTFLEET_SERVER",
        "TESTFLEET_API_KEY",
        "TESTFLEET_REDIS__URL",
        "TESTFLEET_GRID__URL",
    ):
        env.pop(var, None)
    return env


def cli(
    *args: str, env: dict[str, str], timeout_s: float = 300, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run the ``testfleet`` command for real and capture what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Fleet:
    env: dict[str, str]
    state_dir: Path
    status: dict[str, object]
    admin_key: str

    def run(self, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        return cli(*args, env=self.env, timeout_s=timeout_s)

    @property
    def state(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.state_dir / "fleet.json").read_text())
        return data


def start_fleet(state_dir: Path, workers: int = 2, **extra_env: str) -> Iterator[Fleet]:
    """``testfleet up`` with its own ports and state; always ``testfleet down`` after."""
    env = fleet_env(state_dir, **extra_env)
    try:
        started = cli("up", "--workers", str(workers), "--browsers", "2", env=env)
        if started.returncode != 0:
            logs = "\n".join(
                f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
                for log in sorted((state_dir / "logs").glob("*.log"))
            )
            pytest.fail(f"testfleet up failed:\n{started.stdout}\n{started.stderr}\n{logs}")
        status = json.loads(cli("status", "--json", env=env).stdout)
        yield Fleet(env, state_dir, status, started.stdout.strip().splitlines()[-1])
    finally:
        cli("down", env=env)


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One real local fleet shared by the end-to-end tests of a session."""
    yield from start_fleet(tmp_path_factory.mktemp("fleet"))
