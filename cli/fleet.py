"""The local fleet: ``testfleet up``, ``status`` and ``down`` on one machine, no Docker.

Each component runs as its own process in its own process group (so ``down``
stops a Grid node together with the chromedriver and Chrome it started), with
its log in ``state_dir/logs``. What was started, and where it listens, is
recorded in ``state_dir/fleet.json`` so that ``testfleet run`` works with no flags.
Components are started through the ``testfleet`` command itself
(``python -m cli.main api`` ...), never imported: the orchestrator
does not import the other components.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from testfleet.errors import InfrastructureError, UsageError
from testfleet.fleet import reaper, redisconn
from testfleet.fleet.auth import KeyStore
from testfleet.fleet.gridstatus import read_capacity
from testfleet.settings import Settings

STOP_GRACE_S = 15.0
PORT_ATTEMPTS = 5
"""Fleets ``up`` starts from scratch when a port it chose was taken before its component
bound it (another program took it in between): then it chooses all ports anew."""
_PORT_TAKEN = "address already in use"
"""What Redis, the JVMs, uvicorn and the egress proxy all log when their port is taken."""


@dataclass
class Proc:
    """One process the fleet started."""

    name: str
    pid: int
    cmd: list[str]
    log: str


@dataclass
class FleetState:
    """What ``fleet.json`` holds."""

    started_ms: int
    api_url: str
    gateway_url: str
    redis_url: str
    grid_url: str
    demo_url: str
    admin_key: str
    workers: int
    processes: list[Proc] = field(default_factory=list)
    grid_username: str = ""
    """The Grid router's credentials, made up by ``up`` when the settings had none."""
    grid_password: str = ""
    grid_registration_secret: str = ""
    """The secret the Grid's roles share: a node started by hand joins with it."""
    allowed_targets: list[str] = field(default_factory=list)
    """What the fleet's browsers may reach although the target policy refuses it: the
    settings' ``security.allowed_targets`` and ``up --allow``'s."""
    browsers: int = 0
    """Browser slots on the Grid node (0: a fleet recorded before this was)."""
    database_url: str = ""
    """The history database (the private cluster's, unless ``database.url`` named one)."""
    ports: dict[str, int] = field(default_factory=dict)
    """The port each part listens on (``PORT_SETTINGS``' names), those ``up`` chose for
    settings of 0 included: read them here, not from the settings."""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.chmod(0o600)  # it holds the local admin key
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> FleetState | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        data["processes"] = [Proc(**p) for p in data.get("processes", [])]
        return cls(**data)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purpose.
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout_s: float,
    log: str | None = None,
    procs: Sequence[Proc] = (),
) -> None:
    """Poll ``check`` until true or raise ``InfrastructureError`` at the deadline, or at
    once when one of ``procs`` (the processes that should answer) has exited."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    hint = f"; see its log: {log}" if log else ""
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        dead = [p.name for p in procs if not alive(p.pid)]
        if dead:
            raise InfrastructureError(f"{what}: {', '.join(dead)} exited at start{hint}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    raise InfrastructureError(f"{what} did not become ready within {timeout_s:.0f} s{hint}")


def _http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2.0).status_code == 200


def _grid_ready(url: str, auth: tuple[str, str] | None) -> Callable[[], bool]:
    def check() -> bool:
        value = httpx.get(f"{url}/status", timeout=2.0, auth=auth).json()["value"]
        slots = sum(len(n.get("slots", [])) for n in value.get("nodes", []))
        return bool(value.get("ready")) and slots > 0

    return check


class Launcher:
    """Starts processes detached, each in its own session, logging to a file."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.logs = settings.paths.state_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.started: list[Proc] = []
        self.env = env or {}
        """Added to every process's environment (the Grid's credentials)."""
        self.log_starts: dict[str, int] = {}
        """Each log's size (bytes) when this launcher started its process: logs are
        appended to, and only this start's lines tell why it failed."""

    def start(self, name: str, cmd: list[str], user: str | None = None) -> Proc:
        """Start ``cmd`` as ``name`` (as ``user`` when given: the PostgreSQL cluster as root)."""
        log = self.logs / f"{name}.log"
        self.log_starts[str(log)] = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            popen = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
                user=user,
            )
        proc = Proc(name=name, pid=popen.pid, cmd=cmd, log=str(log))
        self.started.append(proc)
        return proc

    def component(self, name: str, *args: str) -> Proc:
        return self.start(name, [sys.executable, "-m", "cli.main", *args])

    def port_taken(self) -> list[str]:
        """The processes this launcher started that failed because their port was taken."""
        taken = []
        for proc in self.started:
            with contextlib.suppress(OSError), open(proc.log, "rb") as log:
                log.seek(self.log_starts.get(proc.log, 0))
                if _PORT_TAKEN in log.read().decode(errors="replace").lower():
                    taken.append(proc.name)
        return taken


PORT_SETTINGS: dict[str, tuple[str, str]] = {
    "redis": ("redis", "port"),
    "grid": ("grid", "port"),
    "grid_event_bus_publish": ("grid", "event_bus_publish_port"),
    "grid_event_bus_subscribe": ("grid", "event_bus_subscribe_port"),
    "grid_node": ("grid", "node_port"),
    "egress": ("security", "egress_port"),
    "api": ("api", "port"),
    "gateway": ("gateway", "port"),
    "demo": ("demo", "port"),
}
"""Each port of a local fleet: its name in ``fleet.json`` -> (settings section, field).
A setting of 0 lets ``up`` choose the port (and choose again if it was taken)."""


def fleet_ports(settings: Settings) -> dict[str, int]:
    """The ports ``settings`` give a local fleet, by ``PORT_SETTINGS`` name."""
    return {
        name: int(getattr(getattr(settings, section), key))
        for name, (section, key) in PORT_SETTINGS.items()
    }


def _bind_host(settings: Settings, section: str) -> str:
    host = getattr(getattr(settings, section), "host", None)
    if section == "security":
        host = settings.security.egress_host
    return str(host) if host else "127.0.0.1"


def _kernel_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def with_chosen_ports(
    settings: Settings, requested: dict[str, int]
) -> tuple[Settings, dict[str, str]]:
    """``settings`` with a port the kernel hands out for each ``requested`` port of 0, and
    the environment that gives the fleet's processes those ports (each builds its settings
    from it). The port is released until its component binds it: ``up`` retries with
    new ones when another program took one in between (``PORT_ATTEMPTS``)."""
    sections: dict[str, dict[str, object]] = {}
    env: dict[str, str] = {}
    for name, (section, key) in PORT_SETTINGS.items():
        if requested[name] != 0:
            continue
        port = _kernel_port(_bind_host(settings, section))
        sections.setdefault(section, {})[key] = port
        env[f"TESTFLEET_{section.upper()}__{key.upper()}"] = str(port)
    redis_url, grid_url = "redis://127.0.0.1:0/0", "http://127.0.0.1:0"
    if "port" in sections.get("redis", {}) and settings.redis.url == redis_url:
        # The URL was derived from port 0: derive it again from the chosen port.
        sections["redis"]["url"] = f"redis://127.0.0.1:{sections['redis']['port']}/0"
    if "port" in sections.get("grid", {}) and settings.grid.url == grid_url:
        sections["grid"]["url"] = f"http://127.0.0.1:{sections['grid']['port']}"
    update = {
        section: getattr(settings, section).model_copy(update=fields)
        for section, fields in sections.items()
    }
    return settings.model_copy(update=update), env


def browser_slots(settings: Settings, workers: int) -> int:
    """Grid slots ``workers`` worker processes can hold at once: each Celery pool child
    (``worker.concurrency`` per worker) keeps ``grid.pool_size`` sessions plus
    ``grid.pool_spares`` warm spares (one session when pooling is off)."""
    grid = settings.grid
    per_child = grid.pool_size + grid.pool_spares if grid.pool_size else 1
    return workers * settings.worker.concurrency * per_child


def up(
    settings: Settings,
    workers: int,
    browsers: int,
    say: Callable[[str], None],
    allow: Sequence[str] = (),
) -> FleetState:
    """Start the whole local fleet and wait until every part is ready; ``allow``: more
    targets for its browsers (checked by ``cli.local_targets.parse_allow``)."""
    path = settings.paths.fleet_file
    existing = FleetState.load(path)
    if existing and any(alive(p.pid) for p in existing.processes):
        raise UsageError(
            "a local fleet is already running (see `testfleet status`); "
            "stop it with `testfleet down`"
        )
    if not settings.selenium_jar.is_file():
        raise InfrastructureError(
            f"the Selenium server jar is missing at {settings.selenium_jar}: run `make setup`, "
            "or set TESTFLEET_GRID__JAR_PATH"
        )
    settings, grid_env = with_grid_secrets(settings)
    settings, notify_env = with_notify_key(settings)
    grid_env = {**grid_env, **notify_env}
    settings, allow_env = with_allowed_targets(settings, allow)
    requested = fleet_ports(settings)
    for attempt in range(1, PORT_ATTEMPTS + 1):
        chosen, port_env = with_chosen_ports(settings, requested)
        _check_ports_free(chosen, requested)
        launcher = Launcher(chosen, {**grid_env, **allow_env, **port_env})
        try:
            return _start_all(chosen, launcher, workers, browsers, say)
        except InfrastructureError:
            taken = launcher.port_taken()
            _stop(launcher.started, say=lambda _m: None)
            if not port_env or not taken or attempt == PORT_ATTEMPTS:
                raise
            say(f"the port of {', '.join(taken)} was taken meanwhile: starting on other ports")
        except BaseException:
            _stop(launcher.started, say=lambda _m: None)
            raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _check_ports_free(settings: Settings, requested: dict[str, int]) -> None:
    """Refuse to start when a port the settings fix (not 0) is taken: ``UsageError``
    naming it and its setting. The ports ``up`` chose are not checked: the kernel just
    handed them out, and a component that finds one taken makes ``up`` choose again."""
    busy = []
    for name, (section, key) in PORT_SETTINGS.items():
        port = int(getattr(getattr(settings, section), key))
        if requested[name] != 0 and not port_free(_bind_host(settings, section), port):
            busy.append(f"{name} port {port} (TESTFLEET_{section.upper()}__{key.upper()})")
    if busy:
        raise UsageError(
            f"already in use: {', '.join(busy)}; stop what holds them, choose other ports, "
            "or set them to 0 to let the fleet choose"
        )


def _start_all(
    settings: Settings, launcher: Launcher, workers: int, browsers: int, say: Callable[[str], None]
) -> FleetState:
    s = settings
    redis_dir = s.paths.state_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    redis_options = {
        "--port": str(s.redis.port),
        "--bind": "127.0.0.1",
        "--dir": str(redis_dir),
        "--appendonly": "yes",
        "--save": "",
        "--daemonize": "no",
    }
    redis_command = ["redis-server", *(part for pair in redis_options.items() for part in pair)]
    redis_log = launcher.start("redis", redis_command).log
    client = redisconn.connect(s.redis)
    wait_for("redis", lambda: bool(client.ping()), 20, redis_log, launcher.started[-1:])
    say(f"redis      {s.redis.url}")
    database_url = _start_database(s, launcher)
    say(f"postgres   {database_url}")

    hub = launcher.component("grid-hub", "grid", "hub")
    node = launcher.component("grid-node", "grid", "node", "--max-sessions", str(browsers))
    demo = launcher.component("demo-site", "demo-site")
    api = launcher.component("api", "api")
    gateway = launcher.component("gateway", "gateway")
    archiver = launcher.component("archiver", "archiver")
    notifier = launcher.component("notifier", "notifier")
    worker_procs = [
        launcher.component(f"worker-{i}", "worker", "--name", f"tfworker-{i}")
        for i in range(1, workers + 1)
    ]
    demo_url = f"http://{s.demo.host}:{s.demo.port}"
    wait_for("the demo site", _http_ok(demo_url + "/"), 30, demo.log, [demo])
    say(f"demo site  {demo_url}")
    wait_for("the API", _http_ok(f"{s.api_url}/health"), 30, api.log, [api])
    say(f"api        {s.api_url}")
    wait_for("the gateway", _http_ok(f"{s.gateway_url}/health"), 30, gateway.log, [gateway])
    say(f"gateway    {s.gateway_url}")
    credentials = s.security.grid_credentials
    wait_for(
        "the Selenium Grid",
        _grid_ready(s.grid.url, credentials),
        90,
        f"{hub.log} and {node.log}",
        [hub, node],
    )
    say(f"grid       {s.grid.url} ({browsers} browser slots)")
    for proc in worker_procs:
        wait_for(f"worker {proc.name}", _worker_ready(proc.log), 60, proc.log, [proc])
    say(f"workers    {workers}")
    wait_for("the archiver", _archiver_ready(launcher, archiver.log), 60, archiver.log, [archiver])
    say("archiver   ready")
    notified = _log_says(launcher, notifier.log, b" ready: telling each project")
    wait_for("the notifier", notified, 60, notifier.log, [notifier])
    say("notifier   ready")

    _record, admin_key = KeyStore(client).create(
        "default", ["admin"], name="local admin (testfleet up)"
    )
    state = FleetState(
        started_ms=int(time.time() * 1000),
        api_url=s.api_url,
        gateway_url=s.gateway_url,
        redis_url=s.redis.url,
        database_url=database_url,
        grid_url=s.grid.url,
        demo_url=demo_url,
        admin_key=admin_key,
        workers=workers,
        processes=launcher.started,
        grid_username=credentials[0] if credentials else "",
        grid_password=credentials[1] if credentials else "",
        grid_registration_secret=s.security.grid_registration_secret.get_secret_value(),
        allowed_targets=list(s.security.allowed_targets),
        browsers=browsers,
        ports=fleet_ports(s),
    )
    state.save(s.paths.fleet_file)
    return state


def with_local_grid_credentials(settings: Settings) -> Settings:
    """``settings``, with the Grid credentials and registration secret ``up`` recorded in
    ``fleet.json`` where the settings name none (a worker or a Grid node started by hand
    joins the local fleet's Grid)."""
    sec = settings.security
    state = FleetState.load(settings.paths.fleet_file)
    if state is None:
        return settings
    update: dict[str, object] = {}
    if sec.grid_credentials is None and state.grid_password:
        update["grid_username"] = state.grid_username
        update["grid_password"] = SecretStr(state.grid_password)
    if not sec.grid_registration_secret.get_secret_value() and state.grid_registration_secret:
        update["grid_registration_secret"] = SecretStr(state.grid_registration_secret)
    if not update:
        return settings
    return settings.model_copy(update={"security": sec.model_copy(update=update)})


def with_allowed_targets(
    settings: Settings, allow: Sequence[str]
) -> tuple[Settings, dict[str, str]]:
    """``settings`` with ``allow`` added to ``security.allowed_targets``, and the
    environment that hands the whole list to the fleet's processes (the API's loader,
    the workers and the egress proxy each read it when they start)."""
    sec = settings.security
    allowed = tuple(dict.fromkeys([*sec.allowed_targets, *allow]))
    if not allow:
        return settings, {}
    security = sec.model_copy(update={"allowed_targets": allowed})
    env = {"TESTFLEET_SECURITY__ALLOWED_TARGETS": json.dumps(list(allowed))}
    return settings.model_copy(update={"security": security}), env


def with_grid_secrets(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """``settings`` with the Grid's credentials and registration secret (made up, random,
    for what the settings leave empty), and the environment that hands them to the
    fleet's processes."""
    sec = settings.security
    user = sec.grid_username or "testfleet"
    password = sec.grid_password.get_secret_value() or secrets.token_urlsafe(24)
    secret = sec.grid_registration_secret.get_secret_value() or secrets.token_urlsafe(24)
    security = sec.model_copy(
        update={
            "grid_username": user,
            "grid_password": SecretStr(password),
            "grid_registration_secret": SecretStr(secret),
        }
    )
    env = {
        "TESTFLEET_SECURITY__GRID_USERNAME": user,
        "TESTFLEET_SECURITY__GRID_PASSWORD": password,
        "TESTFLEET_SECURITY__GRID_REGISTRATION_SECRET": secret,
    }
    return settings.model_copy(update={"security": security}), env


def _start_database(settings: Settings, launcher: Launcher) -> str:
    """The history database, migrated to this testfleet's schema: the private cluster
    (initdb the first time) unless ``database.url`` names another; returns its URL
    without password. A database named by ``database.url`` is not migrated here: the
    API and the archiver refuse an old schema and say so (``testfleet db upgrade``)."""
    from cli.postgres import Cluster
    from testfleet.history import db, migrate

    if settings.database.url:
        bound = db.engine(settings)
        try:
            return db.describe(bound)
        finally:
            bound.dispose()
    cluster = Cluster.of_fleet(settings)
    cluster.initialise()
    proc = launcher.start("postgres", cluster.command(), user=cluster.user)
    wait_for("PostgreSQL", cluster.ready, 60, proc.log, [proc])
    cluster.create_database()
    bound = db.engine(settings)
    try:
        migrate.upgrade(bound)
        return db.describe(bound)
    finally:
        bound.dispose()


def _archiver_ready(launcher: Launcher, log: str) -> Callable[[], bool]:
    start = launcher.log_starts.get(log, 0)

    def ready() -> bool:
        with open(log, "rb") as out:
            out.seek(start)
            return b" ready: writing finished runs" in out.read()

    return ready


def _log_says(launcher: Launcher, log: str, text: bytes) -> Callable[[], bool]:
    """Whether the process's log says ``text`` since it started."""
    start = launcher.log_starts.get(log, 0)

    def said() -> bool:
        with open(log, "rb") as out:
            out.seek(start)
            return text in out.read()

    return said


NOTIFY_KEY_FILE = "notify.key"
"""In the state directory: the key the local fleet encrypts notification secrets with."""


def with_notify_key(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """``settings`` with the key notification secrets are sealed with: the settings' own,
    else the one kept in the state directory (made up, random, the first time: secrets
    added before a restart stay readable), and the environment that hands it on."""
    key = settings.notify.secret_key.get_secret_value()
    if not key:
        path = settings.paths.state_dir / NOTIFY_KEY_FILE
        if path.is_file():
            key = path.read_text(encoding="utf-8").strip()
        if not key:
            key = secrets.token_urlsafe(32)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(key, encoding="utf-8")
    notify = settings.notify.model_copy(update={"secret_key": SecretStr(key)})
    env = {"TESTFLEET_NOTIFY__SECRET_KEY": key}
    return settings.model_copy(update={"notify": notify}), env


def _worker_ready(log: str) -> Callable[[], bool]:
    # Celery prints "<node> ready." once it consumes; its log is ours to read.
    return lambda: " ready." in Path(log).read_text(errors="replace")


def _stop(procs: list[Proc], say: Callable[[str], None]) -> None:
    """SIGTERM every process group (newest first), then SIGKILL what outlives the grace."""
    for proc in reversed(procs):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and any(_group_alive(p.pid) for p in procs):
        time.sleep(0.1)
    for proc in procs:
        if _group_alive(proc.pid):
            say(f"{proc.name} did not stop within {STOP_GRACE_S:.0f} s: killing it")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
    for proc in procs:  # reap the ones that are our own children
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(proc.pid, os.WNOHANG)


def _group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in process group ``pgid``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces) in parentheses.
        rest = stat[stat.rfind(")") + 2 :].split()
        if rest[0] != "Z" and int(rest[2]) == pgid:
            return True
    return False


def down(settings: Settings, say: Callable[[str], None]) -> bool:
    """Stop everything ``up`` started; False when nothing was recorded."""
    state = FleetState.load(settings.paths.fleet_file)
    if state is None:
        return False
    _stop(state.processes, say)
    # A worker killed outright (or its browsers' guard with it) can leave browsers.
    orphans = reaper.sweep_orphans()
    if orphans:
        say(f"killed {len(orphans)} browser process(es) left by stopped workers")
    settings.paths.fleet_file.unlink(missing_ok=True)
    return True


def status(settings: Settings) -> dict[str, Any]:
    """The fleet's state: URLs, each process, the Grid's capacity."""
    state = FleetState.load(settings.paths.fleet_file)
    if state is None:
        return {
            "running": False,
            "api_url": settings.api_url,
            "gateway_url": settings.gateway_url,
            "redis_url": settings.redis.url,
            "grid_url": settings.grid.url,
            "processes": [],
        }
    processes = [
        {
            "name": p.name,
            "pid": p.pid,
            "state": "running" if alive(p.pid) else "stopped",
            "log": p.log,
        }
        for p in state.processes
    ]
    checks = {
        "api": f"{state.api_url}/health",
        "gateway": f"{state.gateway_url}/health",
        "demo-site": f"{state.demo_url}/",
    }
    health = {}
    for name, url in checks.items():
        try:
            health[name] = "ok" if httpx.get(url, timeout=2.0).status_code == 200 else "failing"
        except httpx.HTTPError:
            health[name] = "down"
    return {
        "running": all(p["state"] == "running" for p in processes),
        "api_url": state.api_url,
        "gateway_url": state.gateway_url,
        "redis_url": state.redis_url,
        "grid_url": state.grid_url,
        "demo_url": state.demo_url,
        "workers": state.workers,
        "allowed_targets": state.allowed_targets,
        "ports": state.ports,
        "health": health,
        "grid": grid_capacity(state.grid_url, _grid_auth(settings, state)),
        "processes": processes,
    }


def _grid_auth(settings: Settings, state: FleetState) -> tuple[str, str] | None:
    if state.grid_username and state.grid_password:
        return state.grid_username, state.grid_password
    return settings.security.grid_credentials


def grid_capacity(grid_url: str, auth: tuple[str, str] | None = None) -> dict[str, Any]:
    """Free and total browser slots and the queue, as the Grid reports them."""
    try:
        capacity = read_capacity(grid_url, timeout_s=3.0, auth=auth)
    except InfrastructureError as exc:
        return {
            "ready": False,
            "total_slots": 0,
            "free_slots": 0,
            "queue_size": 0,
            "nodes": 0,
            "error": str(exc),
        }
    return {
        "ready": capacity.nodes_up > 0,
        "total_slots": capacity.total_slots,
        "free_slots": capacity.free_slots,
        "queue_size": capacity.queue_size,
        "nodes": capacity.nodes_up,
    }
