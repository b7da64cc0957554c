"""The Grid launcher without a Grid: generated TOML, command lines, status parsing, CDS archive."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
import time
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from grid import gridconfig, jvm, launcher
from grid.gridconfig import render_config
from grid.launcher import grid_command
from testfleet.errors import InfrastructureError, UsageError
from testfleet.fleet import gridstatus
from testfleet.fleet.gridstatus import GridCapacity, read_capacity
from testfleet.settings import GridSettings, PathSettings, SecuritySettings, Settings
from tests.ports import held_port


def make_settings(tmp_path: Path, **grid: Any) -> Settings:
    fields = {
        "url": "http://127.0.0.1:14444",
        "port": 14444,
        "event_bus_publish_port": 14442,
        "event_bus_subscribe_port": 14443,
        "node_port": 15555,
        "jar_path": tmp_path / "selenium-server.jar",
        "class_archive": False,
        **grid,
    }
    return Settings(
        grid=GridSettings.model_validate(fields),
        paths=PathSettings(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache"),
        security=SecuritySettings(
            grid_username="fleet",
            grid_password=SecretStr('pa ss"word'),
            grid_registration_secret=SecretStr("s3cret"),
            egress_port=18703,
        ),
    )


def config(settings: Settings, role: gridconfig.Role) -> dict[str, Any]:
    return tomllib.loads(render_config(settings, role))


# --- TOML ------------------------------------------------------------------------------


def test_node_config_names_the_driver_and_never_detects_or_downloads(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_sessions=2, session_timeout_s=90)
    node = config(settings, "node")["node"]
    assert node["detect-drivers"] is False
    assert node["selenium-manager"] is False
    assert node["max-sessions"] == 2
    assert node["session-timeout"] == 90
    [driver] = node["driver-configuration"]
    assert driver["display-name"] == "chrome"
    assert driver["webdriver-executable"] == "/usr/bin/chromedriver"
    assert driver["max-sessions"] == 2
    assert json.loads(driver["stereotype"]) == {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--proxy-server=http://127.0.0.1:18703",
                "--proxy-bypass-list=<-loopback>",
                "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
            ],
        },
    }


def test_node_config_uses_the_configured_browser_paths(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        chromium_binary=Path('/opt/my "chromium"/chrome'),
        chromedriver_path=Path("/opt/drivers/chromedriver"),
    )
    [driver] = config(settings, "node")["node"]["driver-configuration"]
    assert driver["webdriver-executable"] == "/opt/drivers/chromedriver"
    stereotype = json.loads(driver["stereotype"])
    assert stereotype["goog:chromeOptions"]["binary"] == '/opt/my "chromium"/chrome'


def test_node_reaches_the_hub_through_the_urls_host_and_bus_ports(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, url="http://grid.internal:14444/", node_host="10.0.0.7")
    doc = config(settings, "node")
    assert doc["server"] == {"host": "10.0.0.7", "port": 15555, "registration-secret": "s3cret"}
    assert doc["events"] == {
        "bind": False,
        "publish": "tcp://grid.internal:14442",
        "subscribe": "tcp://grid.internal:14443",
    }
    assert doc["node"]["grid-url"] == "http://grid.internal:14444"
    assert doc["node"]["register-cycle"] == 1  # joins a hub that starts later within 1 s


def test_override_max_sessions_only_beyond_the_cpu_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert (
        config(make_settings(tmp_path, max_sessions=2), "node")["node"]["override-max-sessions"]
        is False
    )
    assert (
        config(make_settings(tmp_path, max_sessions=3), "node")["node"]["override-max-sessions"]
        is True
    )


def test_hub_binds_the_event_bus_and_sets_the_queue(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        session_request_timeout_s=120,
        session_retry_interval_s=0.25,
        new_session_timeout_s=180,
    )
    doc = config(settings, "hub")
    assert doc["server"] == {"host": "127.0.0.1", "port": 14444, "registration-secret": "s3cret"}
    assert doc["events"] == {
        "bind": True,
        "publish": "tcp://127.0.0.1:14442",
        "subscribe": "tcp://127.0.0.1:14443",
    }
    assert doc["sessionqueue"]["session-request-timeout"] == 120
    assert doc["sessionqueue"]["session-retry-interval"] == 250  # Selenium wants ms
    assert "node" not in doc


def test_hub_on_every_interface_binds_the_bus_everywhere(tmp_path: Path) -> None:
    doc = config(make_settings(tmp_path, host="0.0.0.0"), "hub")
    assert doc["events"]["publish"] == "tcp://*:14442"
    assert doc["server"]["host"] == "0.0.0.0"


def test_standalone_is_queue_plus_node_without_event_bus(tmp_path: Path) -> None:
    doc = config(make_settings(tmp_path), "standalone")
    assert "events" not in doc
    assert doc["server"]["port"] == 14444
    # The default 300 s is cut to 5 s under the client's default 60 s wait.
    assert doc["sessionqueue"]["session-request-timeout"] == 55
    assert doc["node"]["detect-drivers"] is False
    assert "grid-url" not in doc["node"]
    assert len(doc["node"]["driver-configuration"]) == 1


@pytest.mark.parametrize("role", ["hub", "standalone"])
def test_the_router_asks_for_the_credentials(tmp_path: Path, role: gridconfig.Role) -> None:
    router = config(make_settings(tmp_path), role)["router"]
    assert router == {"username": "fleet", "password": 'pa ss"word'}


def test_a_node_has_no_router_credentials_but_the_secret(tmp_path: Path) -> None:
    doc = config(make_settings(tmp_path), "node")
    assert "router" not in doc
    assert doc["server"]["registration-secret"] == "s3cret"
    assert "pa ss" not in render_config(make_settings(tmp_path), "node")


@pytest.mark.parametrize(
    ("role", "cleared", "named"),
    [
        ("hub", "grid_password", "TESTFLEET_SECURITY__GRID_PASSWORD"),
        ("standalone", "grid_username", "TESTFLEET_SECURITY__GRID_USERNAME"),
        ("node", "grid_registration_secret", "TESTFLEET_SECURITY__GRID_REGISTRATION_SECRET"),
    ],
)
def test_no_role_starts_open(
    tmp_path: Path, role: gridconfig.Role, cleared: str, named: str
) -> None:
    settings = make_settings(tmp_path)
    empty = "" if cleared == "grid_username" else SecretStr("")
    settings.security = settings.security.model_copy(update={cleared: empty})
    settings.selenium_jar.write_bytes(b"PK")
    with pytest.raises(UsageError, match=named):
        grid_command(settings, role)


def test_config_files_are_private(tmp_path: Path) -> None:
    path = gridconfig.write_config(make_settings(tmp_path), "hub")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("role", gridconfig.ROLES)
def test_every_value_is_explained_by_a_comment(tmp_path: Path, role: gridconfig.Role) -> None:
    lines = render_config(make_settings(tmp_path), role).splitlines()
    exempt = (
        "port",
        "host",
        "display-name",
        "bind",
        "publish",
        "subscribe",
        "max-sessions",
        "password",
    )
    for i, line in enumerate(lines):
        if "=" not in line or line.startswith("#") or line.split(" =")[0] in exempt:
            continue
        assert lines[i - 1].startswith("#"), f"{role}.toml: no comment above {line!r}"


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown grid role 'router'"):
        render_config(make_settings(tmp_path), "router")  # type: ignore[arg-type]


# --- command lines ---------------------------------------------------------------------


def test_missing_jar_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError, match=r"make setup.*TESTFLEET_GRID__JAR_PATH"):
        grid_command(make_settings(tmp_path), "hub")


def test_commands_write_config_and_give_nodes_their_own_tmpdir(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, java_opts=("-Xmx1g",), node_port=held_port())
    settings.selenium_jar.write_bytes(b"PK")
    hub = grid_command(settings, "hub")
    assert Path(hub[0]).name == "java"
    assert hub[-5:] == ["-jar", str(settings.selenium_jar), "hub", "--config", hub[-1]]
    assert Path(hub[-1]).read_text() == render_config(settings, "hub")
    opts = hub[1:-5]
    assert opts[: len(jvm.JAVA_OPTS)] == list(jvm.JAVA_OPTS)
    assert opts[-1] == "-Xmx1g"  # after the defaults, so it wins

    tmp = launcher.browser_tmp_dir(settings, "node")
    try:
        node = grid_command(settings, "node")
        assert node[:2] == ["env", f"TMPDIR={tmp}"]
        assert tmp.is_dir()
        # Chromium's socket in it must stay under the 107-byte limit of a socket path.
        assert len(f"{tmp}/org.chromium.Chromium.XXXXXX/SingletonSocket") < 100
        config = gridconfig.config_dir(settings) / "node.toml"
        assert node[-3:] == ["node", "--config", str(config)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- /status and GraphQL ---------------------------------------------------------------


class FakeGrid:
    """A tiny HTTP server answering /status and /graphql with what a test sets."""

    def __init__(self) -> None:
        self.status: dict[str, Any] = {"ready": False, "message": "booting", "nodes": []}
        self.upcoming: list[dict[str, Any]] = []
        """Statuses for the next GETs, one each, before ``status`` is served again."""
        self.gets = 0
        self.queue_size = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.gets += 1
                if fake.upcoming:
                    fake.status = fake.upcoming.pop(0)
                self._json({"value": fake.status})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self._json({"data": {"grid": {"sessionQueueSize": fake.queue_size}}})

            def _json(self, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def fake_grid() -> Iterator[FakeGrid]:
    fake = FakeGrid()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join()


def node(availability: str = "UP", sessions: tuple[bool, ...] = (False, False)) -> object:
    slots = [{"id": {}, "session": {"sessionId": "x"} if busy else None} for busy in sessions]
    return {"availability": availability, "slots": slots}


def test_read_capacity_counts_up_nodes_only(fake_grid: FakeGrid) -> None:
    fake_grid.status = {
        "ready": True,
        "nodes": [node(sessions=(True, False)), node(sessions=(False,)), node("DOWN")],
    }
    fake_grid.queue_size = 3
    capacity = read_capacity(fake_grid.url)
    assert capacity == GridCapacity(total_slots=3, free_slots=2, queue_size=3, nodes_up=2)
    assert capacity.busy_slots == 1


def test_wait_until_ready_waits_for_ready_and_slots(fake_grid: FakeGrid) -> None:
    booting = {"ready": False, "message": "booting", "nodes": []}
    no_node = {"ready": True, "nodes": []}  # hub up, node not registered yet
    fake_grid.upcoming = [booting, booting, no_node, no_node, {"ready": True, "nodes": [node()]}]
    gridstatus.wait_until_ready(fake_grid.url, timeout_s=10)
    assert fake_grid.gets == 5


def test_wait_until_ready_times_out_saying_what_it_saw(fake_grid: FakeGrid) -> None:
    fake_grid.status = {"ready": True, "nodes": []}
    with pytest.raises(InfrastructureError, match=r"not ready after 0.5 s \(ready, but 0 browser"):
        gridstatus.wait_until_ready(fake_grid.url, timeout_s=0.5)


def test_wait_until_ready_stops_when_the_process_died(fake_grid: FakeGrid) -> None:
    started = time.monotonic()
    with pytest.raises(InfrastructureError, match="exited before it was ready"):
        gridstatus.wait_until_ready(fake_grid.url, timeout_s=30, alive=lambda: False)
    assert time.monotonic() - started < 5


def test_no_grid_at_all_is_an_infrastructure_error(tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError, match="failed"):
        read_capacity("http://127.0.0.1:9", timeout_s=1)


# --- class-data-sharing archive --------------------------------------------------------


def fake_java(tmp_path: Path, exit_code: int) -> str:
    """A stand-in ``java`` that records its arguments and exits with ``exit_code``."""
    path = tmp_path / f"java-{exit_code}"
    path.write_text(f'#!/bin/sh\necho "$@" >> "{path}.calls"\nexit {exit_code}\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def old_dump(directory: Path, stem: str) -> Path:
    dump = directory / f"{stem}.abcd.dump"
    dump.write_bytes(b"archive")
    past = time.time() - 60
    os.utime(dump, (past, past))
    return dump


def test_first_start_dumps_an_archive_at_exit(tmp_path: Path) -> None:
    java, jar = fake_java(tmp_path, 0), tmp_path / "selenium.jar"
    jar.write_bytes(b"PK")
    opts = jvm.class_archive_opts(java, jar, [], tmp_path / "cds", "node")
    assert opts[0].startswith(f"-XX:ArchiveClassesAtExit={tmp_path / 'cds'}/node-")
    assert opts[0].endswith(".dump")


def test_a_dump_that_loads_becomes_the_archive(tmp_path: Path) -> None:
    java, jar, cds = fake_java(tmp_path, 0), tmp_path / "selenium.jar", tmp_path / "cds"
    jar.write_bytes(b"PK")
    first = jvm.class_archive_opts(java, jar, ["-Xmx1g"], cds, "hub")
    stem = Path(first[0].split("=", 1)[1]).name.split(".")[0]
    old_dump(cds, stem)
    (cds / "hub-000000000000.jsa").write_bytes(b"stale")  # an older java or jar
    opts = jvm.class_archive_opts(java, jar, ["-Xmx1g"], cds, "hub")
    assert opts[0] == f"-XX:SharedArchiveFile={cds / stem}.jsa"
    assert sorted(p.name for p in cds.iterdir()) == [f"{stem}.jsa"]
    check = Path(f"{java}.calls").read_text()
    assert "-Xmx1g" in check  # checked with the flags it will run with
    assert "-Xshare:on" in check


def test_a_dump_that_does_not_load_is_deleted(tmp_path: Path) -> None:
    java, jar, cds = fake_java(tmp_path, 134), tmp_path / "selenium.jar", tmp_path / "cds"
    jar.write_bytes(b"PK")
    first = jvm.class_archive_opts(java, jar, [], cds, "node")
    stem = Path(first[0].split("=", 1)[1]).name.split(".")[0]
    dump = old_dump(cds, stem)
    opts = jvm.class_archive_opts(java, jar, [], cds, "node")
    assert opts[0].startswith("-XX:ArchiveClassesAtExit=")
    assert not dump.exists()


def test_a_fresh_dump_is_left_alone(tmp_path: Path) -> None:
    java, jar, cds = fake_java(tmp_path, 0), tmp_path / "selenium.jar", tmp_path / "cds"
    jar.write_bytes(b"PK")
    first = jvm.class_archive_opts(java, jar, [], cds, "node")
    fresh = Path(first[0].split("=", 1)[1])
    fresh.write_bytes(b"being written")  # a JVM may still be writing it
    jvm.class_archive_opts(java, jar, [], cds, "node")
    assert fresh.exists()
    assert not Path(f"{java}.calls").exists()


def test_the_queue_gives_up_before_the_client_does(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, session_request_timeout_s=300, new_session_timeout_s=30)
    assert config(settings, "hub")["sessionqueue"]["session-request-timeout"] == 25
    short = make_settings(tmp_path, session_request_timeout_s=10, new_session_timeout_s=30)
    assert config(short, "standalone")["sessionqueue"]["session-request-timeout"] == 10
