"""The TOML config ``testfleet grid hub|node|standalone`` runs each Grid role with.

One file per role in ``<state_dir>/grid/``, regenerated on every start, with a
comment on why each value is what it is. It holds the router's credentials and
the registration secret, so it is readable by its owner only; ``check_credentials``
refuses a role whose settings would leave the Grid open.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from grid.egress import EgressConfig, chrome_proxy_args
from testfleet.errors import UsageError
from testfleet.settings import Settings

Role = Literal["hub", "node", "standalone"]
ROLES: tuple[Role, ...] = get_args(Role)


def config_dir(settings: Settings) -> Path:
    """Where the generated TOML files go."""
    return settings.paths.state_dir / "grid"


def render_config(settings: Settings, role: Role, browser_binary: Path | None = None) -> str:
    """The TOML config for one role, with a comment on why each value is what it is."""
    if role not in ROLES:
        raise ValueError(f"unknown grid role {role!r}; expected one of {', '.join(ROLES)}")
    lines = [
        f"# Written by testfleet for `testfleet grid {role}`; regenerated on every start,",
        "# edits are lost. Change testfleet settings (TESTFLEET_GRID__*) instead.",
        "",
        *_server_section(settings, role),
    ]
    if role in ("hub", "standalone"):
        lines += _router_section(settings)
    if role == "hub":
        lines += _hub_events_section(settings)
    if role == "node":
        lines += _node_events_section(settings)
    if role in ("hub", "standalone"):
        lines += _queue_sections(settings)
    if role in ("node", "standalone"):
        lines += _node_sections(settings, role, browser_binary or settings.grid.chromium_binary)
    lines += _logging_section()
    return "\n".join(lines) + "\n"


def write_config(settings: Settings, role: Role, browser_binary: Path | None = None) -> Path:
    """Write the role's TOML config (atomically) and return its path."""
    directory = config_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{role}.toml"
    tmp = path.with_suffix(f".toml.{os.getpid()}.tmp")
    # It holds the Grid's credentials: readable by this user only.
    tmp.touch(mode=0o600)
    tmp.write_text(render_config(settings, role, browser_binary), encoding="utf-8")
    tmp.replace(path)
    return path


def check_credentials(settings: Settings, role: Role) -> None:
    """Raise ``UsageError`` unless ``settings`` hold what ``role`` needs to be closed:
    the router's user name and password (hub, standalone) and the registration secret."""
    security = settings.security
    missing = []
    if role in ("hub", "standalone") and security.grid_credentials is None:
        missing += ["TESTFLEET_SECURITY__GRID_USERNAME", "TESTFLEET_SECURITY__GRID_PASSWORD"]
    if not security.grid_registration_secret.get_secret_value():
        missing.append("TESTFLEET_SECURITY__GRID_REGISTRATION_SECRET")
    if missing:
        raise UsageError(
            f"the Grid {role} needs {', '.join(missing)}: without them anyone who can reach "
            "it could drive (or register) browsers; `testfleet up` makes them up for a local "
            "fleet, elsewhere set the same values on the hub, its nodes and the workers"
        )


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
    secret = settings.security.grid_registration_secret.get_secret_value()
    return [
        "[server]",
        "# Where this component listens; also the address it reports to others.",
        f"host = {_toml(host)}",
        f"port = {_toml(port)}",
        "# Shared by the hub and its nodes: a node without it is not registered, and",
        "# the hub's own requests to nodes carry it.",
        f"registration-secret = {_toml(secret)}",
        "",
    ]


def _router_section(settings: Settings) -> list[str]:
    credentials = settings.security.grid_credentials
    assert credentials is not None  # check_credentials ran
    user, password = credentials
    return [
        "[router]",
        "# HTTP basic auth on every route of the router (sessions, /status, GraphQL,",
        "# the UI): pages in a browser, or anyone else, get 401 without these.",
        f"username = {_toml(user)}",
        f"password = {_toml(password)}",
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


def _node_sections(settings: Settings, role: Role, browser_binary: Path) -> list[str]:
    grid = settings.grid
    egress = EgressConfig.from_settings(settings)
    stereotype = {
        "browserName": "chrome",
        # The node merges these arguments into every session's (they come first):
        # its browsers reach the web through the egress proxy beside it.
        "goog:chromeOptions": {
            "binary": str(browser_binary),
            "args": chrome_proxy_args(egress.url),
        },
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
        "# (clients do not send one): grid/sandbox.py's wrapper, which starts Debian's",
        "# chromium sandboxed, under the fleet's URL policy (as root: as",
        "# security.browser_user), and its arguments send everything the browser",
        "# fetches through the egress proxy.",
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
