"""A local fleet on ports it chooses: settings of 0 let ``testfleet up`` pick each port,
record it in ``fleet.json`` and choose again when another program takes one before the
component binds it (once in CI a chaos fleet's API found its port taken)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cli import fleet as fleet_module
from tests.conftest import ROOT, Fleet, cli, fleet_env

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.slow]


def test_the_fleet_records_the_ports_it_chose_and_listens_on_them(fleet: Fleet) -> None:
    ports = fleet.state["ports"]
    assert isinstance(ports, dict)
    assert set(ports) == set(fleet_module.PORT_SETTINGS)
    assert all(isinstance(port, int) and port > 0 for port in ports.values()), ports
    assert fleet.status["ports"] == ports
    for name, url in (("api", "api_url"), ("gateway", "gateway_url"), ("demo", "demo_url")):
        assert urlsplit(str(fleet.status[url])).port == ports[name], url
    assert urlsplit(str(fleet.status["redis_url"])).port == ports["redis"]
    assert urlsplit(str(fleet.status["grid_url"])).port == ports["grid"]
    for name in ("redis", "grid", "grid_node", "egress", "api", "gateway", "demo"):
        with socket.create_connection(("127.0.0.1", ports[name]), timeout=5):
            pass  # something of the fleet listens there


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another program holds (listening) for the whole test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


RACING_UP = """
import sys
from cli import fleet
from cli.main import main

chosen, calls = fleet._kernel_port, []

def racing(host):
    calls.append(host)
    return {held} if len(calls) == {call} else chosen(host)

fleet._kernel_port = racing
sys.argv = ["testfleet", "up", "--workers", "1", "--browsers", "1"]
main()
"""
"""``testfleet up`` whose ``call``-th port choice is the port ``held``: the race, made
certain (another program binds a port between ``up``'s choice and its component's bind)."""


@pytest.mark.parametrize("taken", ["redis", "api"])
def test_a_port_taken_before_its_component_binds_it_is_chosen_again(
    taken: str, held_port: int, tmp_path: Path
) -> None:
    env = fleet_env(tmp_path / "state")
    for var in (
        "TESTFLEET_SERVER",
        "TESTFLEET_API_KEY",
        "TESTFLEET_REDIS__URL",
        "TESTFLEET_GRID__URL",
    ):
        env.pop(var, None)
    # Ports are chosen in PORT_SETTINGS' order, all of them 0 here.
    call = list(fleet_module.PORT_SETTINGS).index(taken) + 1
    code = RACING_UP.format(held=held_port, call=call)
    try:
        started = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert started.returncode == 0, f"{started.stdout}\n{started.stderr}"
        assert "was taken meanwhile: starting on other ports" in started.stdout, started.stdout
        status = json.loads(cli("status", "--json", env=env).stdout)
        assert status["running"], status
        assert status["ports"][taken] not in (0, held_port), status["ports"]
        assert status["health"] == {"api": "ok", "gateway": "ok", "demo-site": "ok"}
    finally:
        cli("down", env=env)
