"""The local Selenium Grid behind ``testfleet grid hub|node|standalone``.

``grid_command`` writes one TOML config per role into ``<state_dir>/grid/`` and
returns the java command line that runs it; ``main`` runs that command in the
foreground and makes sure nothing it started outlives it. What a running Grid
reports (ready, free slots, queue) is read by ``testfleet.fleet.gridstatus``, which
every component may use.

The node drives Debian's ``chromium`` through Debian's ``chromedriver``, both named
in the config: nothing is detected on ``PATH`` and nothing is downloaded.

The Grid is closed to everyone but the fleet: the router (hub, standalone) asks
for ``security.grid_username`` / ``grid_password`` on every request, nodes
register with ``security.grid_registration_secret``, and no role starts without
them. A node (or standalone) runs its browsers confined: under the managed URL
policy (``grid.policy``), and through an egress proxy it starts beside itself
(``grid.egress``), which its stereotype names in every session's arguments.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import IO, Any, Literal

from grid import policy
from grid.egress import EgressConfig, egress_command
from grid.egress import run as run_egress
from grid.gridconfig import Role, check_credentials, write_config
from grid.jvm import JAVA_OPTS, class_archive_opts, java_executable
from grid.sandbox import confinement
from testfleet import logs
from testfleet.errors import InfrastructureError
from testfleet.settings import Settings

log = logs.get_logger(__name__)

EGRESS_READY_TIMEOUT_S = 20.0
"""How long a node waits for its egress proxy to listen before it gives up."""

STOP_GRACE_S = 10.0
"""How long the JVM gets to quit its sessions after SIGTERM before it is killed."""

_POLL_INTERVAL_S = 0.2
_PR_SET_PDEATHSIG = 1


def grid_command(settings: Settings, role: Role) -> list[str]:
    """Write the role's config and return the command line that runs it.

    For ``node`` and ``standalone`` it starts with ``env TMPDIR=...`` (see
    ``browser_tmp_dir``), then ``java``; their Chromium runs inside its sandbox (as
    root: as ``security.browser_user``) and under the URL policy (``grid.sandbox``).

    JVM flags: ``grid.jvm.JAVA_OPTS`` (measured there), the settings' ``java_opts``,
    and the role's class-data-sharing archive. Raises ``InfrastructureError``
    when java or the Selenium server jar is missing.
    """
    check_credentials(settings, role)
    jar = settings.selenium_jar
    if not jar.is_file():
        raise InfrastructureError(
            f"Selenium server jar not found at {jar}: run `make setup` (scripts/setup.sh) "
            "to fetch it, or point TESTFLEET_GRID__JAR_PATH at a selenium-server-*.jar"
        )
    java = java_executable()
    jvm_opts = [*JAVA_OPTS, *settings.grid.java_opts]
    if settings.grid.class_archive:
        archive_dir = settings.paths.cache_dir / "selenium" / "cds"
        jvm_opts += class_archive_opts(java, jar, jvm_opts, archive_dir, role)
    if role == "hub":
        config = write_config(settings, role)
        return [java, *jvm_opts, "-jar", str(jar), role, "--config", str(config)]
    # Chromium leaves a directory in its TMPDIR after every session; give the
    # node's browsers their own, emptied on every start and by `main` at exit.
    tmp = browser_tmp_dir(settings, role)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # The URL policy reaches this node's browsers only, through the wrapper's mount.
    installed = policy.ensure_installed(settings)
    overlay = installed if isinstance(installed, policy.PolicyOverlay) else None
    browser = confinement(settings, tmp, overlay)
    config = write_config(settings, role, browser_binary=browser)
    command = [java, *jvm_opts, "-jar", str(jar), role, "--config", str(config)]
    return ["env", f"TMPDIR={tmp}", *command]


def browser_tmp_dir(settings: Settings, role: Role) -> Path:
    """The ``TMPDIR`` of a node's (or standalone's) chromedriver and Chromium processes.

    In the system temp dir, not under ``state_dir``: Chromium puts a Unix socket
    in it, and socket paths longer than 107 bytes make Chromium exit at start.
    One per role and port, as only one node can listen on a port.
    """
    port = settings.grid.node_port if role == "node" else settings.grid.port
    return Path(tempfile.gettempdir()) / f"testfleet-{role}-{port}"


def start_egress(settings: Settings, log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """Start the node's egress proxy (its own process group) and wait until it listens.

    ``log``: where its output goes (default: this process's). Raises
    ``InfrastructureError`` when it exits or does not listen within
    ``EGRESS_READY_TIMEOUT_S`` (its port taken, most likely).
    """
    process = subprocess.Popen(
        egress_command(settings),
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509
    )
    config = EgressConfig.from_settings(settings)
    deadline = time.monotonic() + EGRESS_READY_TIMEOUT_S
    while True:
        with contextlib.suppress(OSError), socket.create_connection((config.host, config.port), 1):
            return process
        if process.poll() is not None or time.monotonic() > deadline:
            stop_group(process, 1.0)
            raise InfrastructureError(
                f"the browsers' egress proxy did not listen on {config.url}: is the port "
                "taken? choose another with TESTFLEET_SECURITY__EGRESS_PORT"
            )
        time.sleep(_POLL_INTERVAL_S)


def main(role: Role | Literal["egress"], settings: Settings) -> int:
    """Run one Grid role in the foreground until it exits or is told to stop.

    ``egress`` runs the browsers' egress proxy alone (a node started by this
    function runs its own beside it).

    SIGTERM, SIGINT and SIGHUP are forwarded to the JVM as SIGTERM, which makes
    it quit its browser sessions; it is killed if it has not exited
    ``STOP_GRACE_S`` seconds later, and whatever is left of its process group
    (chromedriver, Chromium) is killed after it. If this process itself is
    killed, Linux sends the JVM SIGTERM (``PR_SET_PDEATHSIG``). Returns 0 after
    a requested stop, else the JVM's exit status.
    """
    if role == "egress":
        return run_egress(EgressConfig.from_settings(settings), settings.log)
    logs.configure(settings.log, "grid")
    command = grid_command(settings, role)
    log.info("starting the Selenium Grid %s from %s", role, settings.selenium_jar)
    egress: subprocess.Popen[bytes] | None = None
    if role != "hub":
        egress = start_egress(settings)
    # preexec_fn is unsafe only with other threads running; this entry point has none.
    process = subprocess.Popen(
        command,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509
    )
    stop_requested_at: list[float] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        stop_requested_at.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:
        try:
            code = process.wait(timeout=_POLL_INTERVAL_S)
            break
        except subprocess.TimeoutExpired:
            if stop_requested_at and time.monotonic() - stop_requested_at[0] > STOP_GRACE_S:
                _signal_group(process.pid, signal.SIGKILL)
    stop_group(process, STOP_GRACE_S)
    if egress is not None:
        stop_group(egress, STOP_GRACE_S)
    if role != "hub":
        shutil.rmtree(browser_tmp_dir(settings, role), ignore_errors=True)
    if stop_requested_at and code in (-signal.SIGTERM, 128 + signal.SIGTERM):
        return 0
    return code if code >= 0 else 128 - code


def stop_group(process: subprocess.Popen[Any], grace_s: float = STOP_GRACE_S) -> None:
    """Stop a process started with ``start_new_session=True`` and everything in its group.

    The leader gets SIGTERM and ``grace_s`` seconds to exit cleanly (a JVM quits
    its browser sessions); then the whole group gets SIGTERM, and SIGKILL once
    ``grace_s`` more seconds pass. Returns when no process of the group is left.
    """
    pgid = process.pid  # a session leader's pgid is its pid
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            process.wait()
    if not _group_alive(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)
    if _wait_group_gone(pgid, grace_s):
        return
    _signal_group(pgid, signal.SIGKILL)
    _wait_group_gone(pgid, grace_s)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_group_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the launching process dies."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
