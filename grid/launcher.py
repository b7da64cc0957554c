"""The local Selenium Grid behind ``testfleet grid hub|node|standalone``.

``grid_command`` writes one TOML config per role into ``<state_dir>/grid/`` and
returns the java command line that runs it; ``main`` runs that command in the
foreground and makes sure nothing it started outlives it. What a running Grid
reports (ready, free slots, queue) is read by ``testfleet.gridstatus``, which
every component may use.

The node drives Debian's ``chromium`` through Debian's ``chromedriver``, both named
in the config: nothing is detected on ``PATH`` and nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from grid.jvm import JAVA_OPTS, class_archive_opts, java_executable
from testfleet import logs
from testfleet.errors import InfrastructureError
from testfleet.settings import Settings

log = logs.get_logger(__name__)

Role = Literal["hub", "node", "standalone"]
ROLES: tuple[Role, ...] = get_args(Role)

STOP_GRACE_S = 10.0
"""How long the JVM gets to quit its sessions after SIGTERM before it is killed."""

_POLL_INTERVAL_S = 0.2
_PR_SET_PDEATHSIG = 1


def config_dir(settings: Settings) -> Path:
    """Where the generated TOML files go."""
    return settings.paths.state_dir / "grid"


def render_config(settings: Settings, role: Role) -> str:
    """The TOML config for one role, with a comment on why each value is what it is."""
    if role not in ROLES:
        raise ValueError(f"unknown grid role {role!r}; expected one of {', '.join(ROLES)}")
    lines = [
        f"# Written by testfleet for `testfleet grid {role}`; regenerated on every start,",
        "# edits are lost. Change testfleet settings (TESTFLEET_GRID__*) instead.",
        "",
        *_server_section(settings, role),
    ]
    if role == "hub":
        lines += _hub_events_section(settings)
    if role == "node":
        lines += _node_events_section(settings)
    if role in ("hub", "standalone"):
        lines += _queue_sections(settings)
    if role in ("node", "standalone"):
        lines += _node_sections(settings, role)
    lines += _logging_section()
    return "\n".join(lines) + "\n"


def write_config(settings: Settings, role: Role) -> Path:
    """Write the role's TOML config (atomically) and return its path."""
    directory = config_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{role}.toml"
    tmp = path.with_suffix(f".toml.{os.getpid()}.tmp")
    tmp.write_text(render_config(settings, role), encoding="utf-8")
    tmp.replace(path)
    return path


def grid_command(settings: Settings, role: Role) -> list[str]:
    """Write the role's config and return the command line that runs it.

    For ``node`` and ``standalone`` it starts with ``env TMPDIR=...`` (see
    ``browser_tmp_dir``), then ``java``.

    JVM flags: ``grid.jvm.JAVA_OPTS`` (measured there), the settings' ``java_opts``,
    and the role's class-data-sharing archive. Raises ``InfrastructureError``
    when java or the Selenium server jar is missing.
    """
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
    config = write_config(settings, role)
    command = [java, *jvm_opts, "-jar", str(jar), role, "--config", str(config)]
    if role == "hub":
        return command
    # Chromium leaves a directory in its TMPDIR after every session; give the
    # node's browsers their own, emptied on every start and by `main` at exit.
    tmp = browser_tmp_dir(settings, role)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return ["env", f"TMPDIR={tmp}", *command]


def browser_tmp_dir(settings: Settings, role: Role) -> Path:
    """The ``TMPDIR`` of a node's (or standalone's) chromedriver and Chromium processes.

    In the system temp dir, not under ``state_dir``: Chromium puts a Unix socket
    in it, and socket paths longer than 107 bytes make Chromium exit at start.
    One per role and port, as only one node can listen on a port.
    """
    port = settings.grid.node_port if role == "node" else settings.grid.port
    return Path(tempfile.gettempdir()) / f"testfleet-{role}-{port}"


def main(role: Role, settings: Settings) -> int:
    """Run one Grid role in the foreground until it exits or is told to stop.

    SIGTERM, SIGINT and SIGHUP are forwarded to the JVM as SIGTERM, which makes
    it quit its browser sessions; it is killed if it has not exited
    ``STOP_GRACE_S`` seconds later, and whatever is left of its process group
    (chromedriver, Chromium) is killed after it. If this process itself is
    killed, Linux sends the JVM SIGTERM (``PR_SET_PDEATHSIG``). Returns 0 after
    a requested stop, else the JVM's exit status.
    """
    logs.configure(settings.log, "grid")
    command = grid_command(settings, role)
    log.info("starting the Selenium Grid %s from %s", role, settings.selenium_jar)
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


# --- TOML sections ---------------------------------------------------------------------


def _toml(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _bind(host: str) -> str:
    """ZeroMQ spells "every interface" ``*``."""
    return "*" if host in ("0.0.0.0", "") else host


def _server_section(settings: Settings, role: Role) -> list[str]:
    grid = settings.grid
    host, port = (grid.node_host, grid.node_port) if role == "node" else (grid.host, grid.port)
    return [
        "[server]",
        "# Where this component listens; also the address it reports to others.",
        f"host = {_toml(host)}",
        f"port = {_toml(port)}",
        "",
    ]


def _hub_events_section(settings: Settings) -> list[str]:
    grid = settings.grid
    host = _bind(grid.host)
    return [
        "[events]",
        "# The hub owns the event bus; nodes register and heartbeat over it.",
        "bind = true",
        f"publish = {_toml(f'tcp://{host}:{grid.event_bus_publish_port}')}",
        f"subscribe = {_toml(f'tcp://{host}:{grid.event_bus_subscribe_port}')}",
        "",
    ]


def _node_events_section(settings: Settings) -> list[str]:
    grid = settings.grid
    hub_host = urlsplit(grid.url).hostname or "127.0.0.1"
    return [
        "[events]",
        "# The hub's event bus (its host is the one in TESTFLEET_GRID__URL).",
        "bind = false",
        f"publish = {_toml(f'tcp://{hub_host}:{grid.event_bus_publish_port}')}",
        f"subscribe = {_toml(f'tcp://{hub_host}:{grid.event_bus_subscribe_port}')}",
        "",
    ]


QUEUE_MARGIN_S = 5
"""The Grid drops a queued new-session request this many seconds before the client stops waiting."""


def queue_timeout_s(settings: Settings) -> int:
    """The Grid's session-request-timeout (s): ``grid.session_request_timeout_s``, but
    never past the moment the client gives up (``new_session_timeout_s - QUEUE_MARGIN_S``)."""
    grid = settings.grid
    client_s = int(grid.new_session_timeout_s) - QUEUE_MARGIN_S
    return max(1, min(grid.session_request_timeout_s, client_s))


def _queue_sections(settings: Settings) -> list[str]:
    grid = settings.grid
    retry_ms = max(1, round(grid.session_retry_interval_s * 1000))
    request_timeout_s = queue_timeout_s(settings)
    return [
        "[sessionqueue]",
        "# A new-session request waits this long (s) for a free slot, then fails;",
        "# clients see 'Could not start a new session' rather than hanging. Kept",
        f"# {QUEUE_MARGIN_S} s under the client's own wait (new_session_timeout_s "
        f"{grid.new_session_timeout_s:g} s):",
        "# a request still queued after its client gave up would get a slot nobody",
        "# uses, held until session-timeout.",
        f"session-request-timeout = {_toml(request_timeout_s)}",
        "# Check for timed-out requests every second, not every 10 s, so the",
        "# timeout above is honoured to the second.",
        "session-request-timeout-period = 1",
        "# How often (ms) a waiting request is retried while every slot is busy:",
        "# the most a queued test waits after a slot frees (Selenium 4.48 reads ms).",
        f"session-retry-interval = {_toml(retry_ms)}",
        "",
        "[distributor]",
        "# Check every node's health every 30 s instead of 120 s, so a node whose",
        "# machine vanished stops getting sessions sooner.",
        "healthcheck-interval = 30",
        "",
    ]


def _node_sections(settings: Settings, role: Role) -> list[str]:
    grid = settings.grid
    stereotype = {
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": str(grid.chromium_binary)},
    }
    cpus = os.cpu_count() or 1
    lines = ["[node]"]
    if role == "node":
        lines += [
            "# The Grid as clients see it (used in the URLs it hands out for CDP/BiDi).",
            f"grid-url = {_toml(grid.url.rstrip('/'))}",
            "# Try to register every second (default 10 s): a node started",
            "# alongside its hub joins as soon as the hub is up, not up to 10 s later.",
            "register-cycle = 1",
            "# Keep trying for 5 minutes, then stay up unregistered (and say so in the log).",
            "register-period = 300",
            "# Heartbeat every 5 s (default 60 s) so the hub notices a dead node quickly.",
            "heartbeat-period = 5",
        ]
    lines += [
        "# Only the driver configured below: autodetection would scan PATH for every",
        "# browser/driver pair and could offer a browser we did not mean to test with.",
        "detect-drivers = false",
        "# Never download a driver or browser at run time (offline machines, pinned",
        "# versions): Debian's chromedriver is named below.",
        "selenium-manager = false",
        "# Browser sessions this node runs at once.",
        f"max-sessions = {_toml(grid.max_sessions)}",
        "# Selenium caps max-sessions at the CPU count unless this is set; it is set",
        f"# only when the setting asks for more sessions than this machine's {cpus} CPUs.",
        f"override-max-sessions = {_toml(grid.max_sessions > cpus)}",
        "# A session with no command for this long (s) is quit and its slot freed:",
        "# what a SIGKILLed worker's browsers cost. Short, as pooled sessions that",
        "# idle past it are caught by the worker's health check and replaced.",
        f"session-timeout = {_toml(grid.session_timeout_s)}",
        "",
        "[[node.driver-configuration]]",
        'display-name = "chrome"',
        "# Debian's chromedriver, which matches Debian's chromium version.",
        f"webdriver-executable = {_toml(str(grid.chromedriver_path))}",
        f"max-sessions = {_toml(grid.max_sessions)}",
        "# Requests for browserName chrome match this slot; the binary is the node's",
        "# (clients do not send one), so Debian's chromium is what runs.",
        f"stereotype = {_toml(json.dumps(stereotype, separators=(',', ':')))}",
        "",
    ]
    return lines


def _logging_section() -> list[str]:
    return [
        "[logging]",
        "# No OpenTelemetry tracing: nobody collects the spans, and creating them",
        "# costs CPU on every request.",
        "tracing = false",
        "",
    ]
