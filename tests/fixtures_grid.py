"""Start and stop a real Selenium Grid and the demo site, for integration tests.

The Grid is the fleet's as it ships: its router asks for credentials (random ones,
in the settings), its node's browsers run under the URL policy and through an
egress proxy beside the node.

Plain context managers (no pytest fixtures here), so any test module, the
benchmarks and ad-hoc scripts can use them::

    settings = grid_test_settings(tmp_path)
    with running_demosite() as site_url, running_grid(settings) as grid_url:
        ...

Everything they start runs in its own process group and is stopped on exit,
whatever happened in the block; ``running_grid`` then checks that nothing it
started (java, chromedriver, Chromium) is left and fails loudly if something is.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
from pydantic import SecretStr

from grid.gridconfig import Role, config_dir
from grid.launcher import browser_tmp_dir, grid_command, start_egress, stop_group
from grid.policy import ensure_installed
from testfleet.errors import InfrastructureError
from testfleet.fleet.gridstatus import wait_until_ready
from testfleet.settings import GridSettings, PathSettings, SecuritySettings, Settings
from tests.waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parents[1]
GRID_READY_TIMEOUT_S = 90.0
"""Generous: two JVMs booting on a busy 2-core CI box."""
DEMOSITE_READY_TIMEOUT_S = 20.0
_LOG_TAIL_BYTES = 3000


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


LOOPBACK_ALLOWED = ("127.0.0.1", "localhost")
"""What Grid tests let their browsers reach beyond the demo site: any loopback port but
the fleet's own (their demo sites and pages listen on free ports). The confinement
tests allow nothing of the sort."""


def grid_test_settings(
    base: Path, *, allowed_targets: tuple[str, ...] = LOOPBACK_ALLOWED, **grid: object
) -> Settings:
    """Settings for a private Grid: free ports, state under ``base``, the cached jar,
    random credentials and registration secret, an egress proxy on a free port.

    ``grid`` overrides ``GridSettings`` fields (``max_sessions=1``, ...);
    ``allowed_targets`` is ``security.allowed_targets``.
    """
    hub_port = free_port()
    fields: dict[str, object] = {
        "url": f"http://127.0.0.1:{hub_port}",
        "port": hub_port,
        "event_bus_publish_port": free_port(),
        "event_bus_subscribe_port": free_port(),
        "node_port": free_port(),
        **grid,
    }
    security = SecuritySettings(
        grid_username="tests",
        grid_password=SecretStr(secrets.token_urlsafe(16)),
        grid_registration_secret=SecretStr(secrets.token_urlsafe(16)),
        egress_port=free_port(),
        allowed_targets=allowed_targets,
    )
    return Settings(
        grid=GridSettings.model_validate(fields),
        paths=PathSettings(state_dir=base / "state", cache_dir=PathSettings().cache_dir),
        security=security,
    )


def grid_env(settings: Settings) -> dict[str, str]:
    """Environment variables that give a ``testfleet`` process ``settings``' Grid: its
    URL and ports, its credentials and secret, its egress proxy's port."""
    grid, sec = settings.grid, settings.security
    return {
        "TESTFLEET_GRID__URL": grid.url,
        "TESTFLEET_GRID__PORT": str(grid.port),
        "TESTFLEET_GRID__NODE_PORT": str(grid.node_port),
        "TESTFLEET_GRID__EVENT_BUS_PUBLISH_PORT": str(grid.event_bus_publish_port),
        "TESTFLEET_GRID__EVENT_BUS_SUBSCRIBE_PORT": str(grid.event_bus_subscribe_port),
        "TESTFLEET_SECURITY__GRID_USERNAME": sec.grid_username,
        "TESTFLEET_SECURITY__GRID_PASSWORD": sec.grid_password.get_secret_value(),
        "TESTFLEET_SECURITY__GRID_REGISTRATION_SECRET": (
            sec.grid_registration_secret.get_secret_value()
        ),
        "TESTFLEET_SECURITY__EGRESS_PORT": str(sec.egress_port),
        "TESTFLEET_SECURITY__ALLOWED_TARGETS": json.dumps(list(sec.allowed_targets)),
    }


PORT_ATTEMPTS = 3
"""The JVMs cannot bind port 0 and report it: ``running_grid`` starts a Grid on ports
chosen anew (in ``settings``) when one it was given was taken before it bound it."""


def _port_taken(settings: Settings) -> bool:
    logs = config_dir(settings).glob("*.log")
    return any("address already in use" in log.read_text(errors="replace").lower() for log in logs)


def _choose_ports_again(settings: Settings) -> None:
    """New ports for the Grid and its egress proxy, in ``settings`` (which callers hold)."""
    grid = settings.grid
    grid.port, grid.node_port = free_port(), free_port()
    grid.event_bus_publish_port, grid.event_bus_subscribe_port = free_port(), free_port()
    grid.url = f"http://127.0.0.1:{grid.port}"
    settings.security.egress_port = free_port()


@contextlib.contextmanager
def running_grid(
    settings: Settings, *, standalone: bool = False, timeout_s: float = GRID_READY_TIMEOUT_S
) -> Iterator[str]:
    """A Grid (hub + node, or one standalone) on ``settings``' ports; yields its URL.

    Logs go to ``<state_dir>/grid/<role>.log``; a Grid that does not get ready
    raises ``InfrastructureError`` with the tail of each log. When a port was taken
    meanwhile, the Grid starts again on new ones, written into ``settings``.
    """
    for attempt in range(1, PORT_ATTEMPTS + 1):
        with contextlib.ExitStack() as stack:
            try:
                url = stack.enter_context(_running_grid(settings, standalone, timeout_s))
            except InfrastructureError:
                if attempt == PORT_ATTEMPTS or not _port_taken(settings):
                    raise
                for log in config_dir(settings).glob("*.log"):
                    log.unlink()
                _choose_ports_again(settings)
                continue
            yield url
            return


@contextlib.contextmanager
def _running_grid(settings: Settings, standalone: bool, timeout_s: float) -> Iterator[str]:
    roles: tuple[Role, ...] = ("standalone",) if standalone else ("hub", "node")
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []
    try:
        ensure_installed(settings)
        config_dir(settings).mkdir(parents=True, exist_ok=True)
        egress_log = (config_dir(settings) / "egress.log").open("wb")
        logs.append(egress_log)
        processes.append(start_egress(settings, egress_log))
        for role in roles:
            command = grid_command(settings, role)
            log = (config_dir(settings) / f"{role}.log").open("wb")
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        try:
            wait_until_ready(
                settings.grid.url,
                timeout_s,
                alive=lambda: all(p.poll() is None for p in processes),
                auth=settings.security.grid_credentials,
            )
        except InfrastructureError as exc:
            tails = "\n".join(_tail(Path(stream.name)) for stream in logs)
            raise InfrastructureError(f"{exc}\n{tails}") from exc
        yield settings.grid.url
    finally:
        for process in reversed(processes):  # node first: it quits its browsers
            stop_group(process)
        for stream in logs:
            stream.close()
        for role in roles:
            if role != "hub":
                shutil.rmtree(browser_tmp_dir(settings, role), ignore_errors=True)
    left = grid_leftovers(settings)
    if left:
        raise AssertionError(f"processes left after stopping the Grid: {left}")


def grid_leftovers(settings: Settings) -> list[str]:
    """Processes a Grid on ``settings`` started that are still running (see below)."""
    markers = [str(settings.paths.state_dir)]
    markers += [str(browser_tmp_dir(settings, role)) for role in ("node", "standalone")]
    return sorted({p for marker in markers for p in leftover_processes(marker)})


_DEMOSITE_ON_PORT_0 = """
import socket, sys, uvicorn
from demosite.app import app
sock = socket.socket()
sock.bind(({host!r}, {port}))
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
"""
"""The demo site on a port the kernel hands out, bound before it is printed: no other
process can take it between the choice and the bind (``demosite.app.main`` binds a
port it is given)."""


@contextlib.contextmanager
def running_demosite(port: int = 0, host: str = "127.0.0.1") -> Iterator[str]:
    """The demo site served by uvicorn in a subprocess, on ``port`` or (0) a port it binds
    itself and reports; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", _DEMOSITE_ON_PORT_0.format(host=host, port=int(port))],
        cwd=REPO_ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()  # the port, or "" if it died first
        if not line.isdigit():
            raise InfrastructureError(f"the demo site did not start (exit {process.wait()})")
        url = f"http://{host}:{int(line)}"
        _wait_http_ok(f"{url}/health", DEMOSITE_READY_TIMEOUT_S, process)
        yield url
    finally:
        stop_group(process, grace_s=5.0)
        if process.stdout is not None:
            process.stdout.close()


def leftover_processes(marker: str) -> list[str]:
    """Processes (``pid command``) whose command line or environment mentions ``marker``.

    Whatever ``running_grid`` starts carries a marker in one of them: the JVMs
    the state dir (their config path), chromedriver and Chromium their
    ``TMPDIR`` (``browser_tmp_dir``). Other users' processes may not be
    readable; they cannot be ours.
    """
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in cmdline or needle in environ:
            command = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
            if command:  # zombies have no command line: already dead
                found.append(f"{entry.name} {command[:200]}")
    return found


def _wait_http_ok(
    url: str, timeout_s: float, process: subprocess.Popen[bytes] | subprocess.Popen[str]
) -> None:
    def answers() -> bool:
        if process.poll() is not None:
            raise InfrastructureError(f"{url}: server exited with {process.returncode}")
        return httpx.get(url, timeout=1.0).status_code == 200

    wait_until(f"{url} to answer", answers, timeout_s, ignore=(httpx.HTTPError,))


def _tail(path: Path) -> str:
    try:
        data = path.read_bytes()[-_LOG_TAIL_BYTES:]
    except OSError:
        return f"--- {path}: no log"
    return f"--- {path} (tail)\n{data.decode(errors='replace')}"
