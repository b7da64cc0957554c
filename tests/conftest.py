"""Shared fixtures: the one Redis server, the one worker launcher, a real local fleet.

Nothing here is an in-memory stand-in:
- ``redis_url``: a real redis-server on a free port, one per session, emptied when a
  test module starts using it. A test that stops Redis on purpose starts a server of
  its own with ``tests.fixtures_redis.redis_server``.
- ``r`` and ``store``: a client of the Redis in the module's ``settings`` fixture,
  emptied for each test, and the run store on it.
- ``start_worker``: a real Celery worker process (``workers.main``), always reaped.
- ``fleet``: ``testfleet up`` on free ports (Redis, a Selenium Grid hub and node from
  the server jar, Celery workers, the API, the gateway and the demo site, each its
  own process), started and stopped through the ``testfleet`` command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hypothesis
import pytest
import redis

from cli.fleet import PORT_SETTINGS
from testfleet.history import local as history_local
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.fixtures_redis import free_port, redis_server
from tests.leftovers import pytest_configure, pytest_sessionfinish  # noqa: F401 (hooks)

ROOT = Path(__file__).resolve().parent.parent

# CI runs the property tests on the same examples every time (seeded from each test), so
# a red build is the change's and can be replayed; elsewhere they explore at random, and
# what they find is kept in the example database and tried first from then on.
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    hypothesis.settings.load_profile("ci")

__all__ = ["ROOT", "Fleet", "WorkerLauncher", "cli", "fleet_env", "free_port", "start_fleet"]


FLEET_GROUPS = 2
"""xdist groups the session ``fleet``'s test files are dealt into (``fleet-0``, ``fleet-1``):
each worker that takes one starts a fleet of its own (~15 s), and the fleet's tests, about
seven minutes in one process, no longer set the parallel run's length on their own."""
NETNS_GROUP = "netns"
"""The xdist group of the network-namespace labs (``multihost``): one at a time."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group tests for ``pytest -n N --dist loadgroup`` (``make test``).

    Each test file but the unit tests' stays on one worker, so its module fixtures (a
    Grid, a demo site, a Sentinel cluster) start once; the files of tests on the
    session's ``fleet`` are dealt into ``FLEET_GROUPS`` groups, so only that many
    workers pay for a fleet. Runs before xdist's own hook (tryfirst), which reads the marks; without
    xdist it is inert.
    """
    fleet_files = sorted(
        {item.nodeid.split("::", 1)[0] for item in items if _uses_session_fleet(item)}
    )
    fleet_group = {path: f"fleet-{i % FLEET_GROUPS}" for i, path in enumerate(fleet_files)}
    for item in items:
        if item.get_closest_marker("multihost") is not None:
            # Network-namespace labs run one after another: with two at once, the
            # multihost lab's SeaweedFS master listed the other lab's filer and its own
            # filer died. Each starts fleets of its own (a ``fleet`` there is the lab's),
            # so they queue apart from the session fleet's tests.
            item.add_marker(pytest.mark.xdist_group(NETNS_GROUP))
        elif _uses_session_fleet(item):
            item.add_marker(pytest.mark.xdist_group(fleet_group[item.nodeid.split("::", 1)[0]]))
        elif not item.nodeid.startswith("tests/unit/"):
            # Unit tests' fixtures are cheap: left ungrouped, they spread test by test.
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


def _uses_session_fleet(item: pytest.Item) -> bool:
    return item.get_closest_marker("multihost") is None and "fleet" in getattr(
        item, "fixturenames", ()
    )


@pytest.fixture(scope="session")
def redis_session_url() -> Iterator[str]:
    """The session's one redis-server (``redis://127.0.0.1:<free port>/0``); use ``redis_url``."""
    with redis_server() as url:
        yield url


@pytest.fixture(scope="module")
def redis_url(redis_session_url: str) -> str:
    """The shared Redis, empty when the module's first test that needs it starts.

    Module scope because most users build module-scoped settings and servers on it;
    emptied here so that no module sees another's keys, as when each started its own.
    """
    client = redis.Redis.from_url(redis_session_url, socket_connect_timeout=5)
    try:
        client.flushall()
    except redis.ConnectionError as e:
        raise RuntimeError(
            f"the session's Redis at {redis_session_url} is gone ({e}): a test that stops "
            "Redis must start its own with tests.fixtures_redis.redis_server()"
        ) from e
    finally:
        client.close()
    return redis_session_url


@pytest.fixture
def r(settings: Settings) -> Iterator[redis.Redis]:
    """A client of the module's Redis (its ``settings``), emptied for each test."""
    client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def store(r: redis.Redis, settings: Settings) -> RunStore:
    """The run store on the module's Redis, publishing as a worker would."""
    return RunStore(r, settings, source="worker@test")


class WorkerLauncher:
    """Starts real worker processes (``workers.main.main``) for one test; reaps them after.

    The worker reads its settings from the environment as in production: the test's
    Redis, the local browser provider and the test's own state directory.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.started: list[subprocess.Popen[str]] = []

    def __call__(
        self, settings: Settings, concurrency: int, name: str, **env: str
    ) -> subprocess.Popen[str]:
        """A worker ``name`` with ``concurrency`` pool processes; stdout+stderr piped, text."""
        environ = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TESTFLEET_REDIS__URL": settings.redis.url,
            "TESTFLEET_GRID__PROVIDER": "local",
            "TESTFLEET_PATHS__STATE_DIR": str(self.state_dir),
            **env,
        }
        code = "from testfleet.settings import Settings; from workers.main import main; "
        code += f"main(Settings(), {int(concurrency)}, {name!r})"
        process = subprocess.Popen(
            [sys.executable, "-c", code],
            env=environ,
            cwd=self.state_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.started.append(process)
        return process

    def reap(self) -> None:
        """Kill whatever the test left running (a test stops its workers itself)."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.communicate()
            elif process.stdout is not None and not process.stdout.closed:
                process.stdout.close()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[WorkerLauncher]:
    """Launch worker processes with the test's ``tmp_path`` as their state directory."""
    launcher = WorkerLauncher(tmp_path)
    try:
        yield launcher
    finally:
        launcher.reap()


def port_env_var(name: str) -> str:
    """The environment variable of the fleet port ``name`` (``fleet.PORT_SETTINGS``)."""
    section, key = PORT_SETTINGS[name]
    return f"TESTFLEET_{section.upper()}__{key.upper()}"


def fleet_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a fleet of its own: state in ``state_dir``, every port 0 (``up``
    chooses them and records them in ``fleet.json``; ``start_fleet`` reads them back)."""
    env = {
        **os.environ,
        "TESTFLEET_PATHS__STATE_DIR": str(state_dir),
        **{port_env_var(name): "0" for name in PORT_SETTINGS},
        **extra,
    }
    for var in (
        "TESTFLEET_SERVER",
        "TESTFLEET_API_KEY",
        "TESTFLEET_REDIS__URL",
        "TESTFLEET_GRID__URL",
        "TESTFLEET_DATABASE__URL",
    ):
        env.pop(var, None)
    return env


def cli(
    *args: str, env: dict[str, str], timeout_s: float = 300, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run the ``testfleet`` command for real and capture what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
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


def start_fleet(
    state_dir: Path, workers: int = 2, browsers: int = 2, **extra_env: str
) -> Iterator[Fleet]:
    """``testfleet up`` with its own ports and state; always ``testfleet down`` after."""
    env = fleet_env(state_dir, **extra_env)
    try:
        started = cli("up", "--workers", str(workers), "--browsers", str(browsers), env=env)
        if started.returncode != 0:
            logs = "\n".join(
                f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
                for log in sorted((state_dir / "logs").glob("*.log"))
            )
            pytest.fail(f"testfleet up failed:\n{started.stdout}\n{started.stderr}\n{logs}")
        status = json.loads(cli("status", "--json", env=env).stdout)
        # From here on the env names the ports the fleet listens on, as a user's would.
        ports = status["ports"]
        env.update({port_env_var(name): str(port) for name, port in ports.items()})
        env["DEMO_URL"] = str(status["demo_url"])
        yield Fleet(env, state_dir, status, started.stdout.strip().splitlines()[-1])
    finally:
        cli("down", env=env)
        # As root the fleet's PostgreSQL cluster lives outside the state directory.
        shutil.rmtree(history_local.cluster_dir(Settings(paths={"state_dir": state_dir})), True)


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One real local fleet shared by the end-to-end tests of a session."""
    yield from start_fleet(tmp_path_factory.mktemp("fleet"))
