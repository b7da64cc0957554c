"""A local fleet tests an app on this machine's loopback when `testfleet up --allow`
names it, and its own services stay refused (issue 25, item 1).

A fleet of its own (`testfleet up --allow localhost:<app>`) and two apps of the test's
own on loopback ports it bound itself: the allowed one passes a suite run with
`testfleet run`, and from its page Redis, the API and the Grid are still refused (the
egress proxy's log says so: a page cannot tell a refusal from any other cross-origin
failure). The other app is refused: `testfleet run` ends with the command that allows
it, and a run submitted to the API anyway fails at the egress proxy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from testfleet.client.ws import websocket_url
from testfleet.results import SETTLED_RUN_STATUSES
from tests.conftest import Fleet, cli, fleet_env, port_env_var
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

TITLE = "Local app under test"
RECV_S = 30.0
"""How long one WebSocket receive may wait (a bound on a failure, not a timing check)."""
FETCH = "return fetch(%s).then(r => 'reached ' + r.status, e => 'failed: ' + e.message);"


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"<!doctype html><title>{TITLE}</title><h1>served by the test</h1>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def apps() -> Iterator[tuple[int, int]]:
    """Two apps on loopback ports bound (and held) here: the allowed one, the other."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Page) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield servers[0].server_address[1], servers[1].server_address[1]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def local_fleet(tmp_path_factory: pytest.TempPathFactory, apps: tuple[int, int]) -> Iterator[Fleet]:
    """`testfleet up --allow localhost:<allowed app>` with its own ports and state."""
    state_dir = tmp_path_factory.mktemp("allow-fleet")
    env = fleet_env(state_dir)
    allowed, _ = apps
    try:
        started = cli(
            "up", "--workers", "1", "--browsers", "1", "--allow", f"localhost:{allowed}", env=env
        )
        if started.returncode != 0:
            logs = "\n".join(
                f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
                for log in sorted((state_dir / "logs").glob("*.log"))
            )
            pytest.fail(f"testfleet up failed:\n{started.stdout}\n{started.stderr}\n{logs}")
        status = json.loads(cli("status", "--json", env=env).stdout)
        # As start_fleet does: from here on the env names the ports the fleet chose.
        env.update({port_env_var(name): str(port) for name, port in status["ports"].items()})
        yield Fleet(env, state_dir, status, started.stdout.strip().splitlines()[-1])
    finally:
        cli("down", env=env)


def custom(name: str, script: str, equals: str) -> dict[str, Any]:
    return {
        "order_index": 0,
        "step_type": "custom",
        "name": name,
        "input_data": script,
        "expected_result": equals,
        "continue_on_failure": True,
    }


def suite_file(tmp_path: Path, port: int, probes: list[dict[str, Any]]) -> Path:
    steps = [
        {"order_index": 0, "step_type": "navigate", "input_data": "/"},
        custom("the app's page", "return document.title", TITLE),
        *probes,
    ]
    numbered = [{**step, "order_index": i} for i, step in enumerate(steps, 1)]
    test = {"name": "opens the app", "category": "smoke", "steps": numbered}
    suite = {"name": f"App on {port}", "base_url": f"http://localhost:{port}", "tests": [test]}
    path = tmp_path / f"app-{port}.json"
    path.write_text(json.dumps(suite))
    return path


def fleet_urls(fleet: Fleet) -> dict[str, str]:
    """The fleet's services, as a page would ask for them."""
    status = fleet.status
    redis_port = str(status["redis_url"]).rsplit(":", 1)[1].split("/")[0]
    return {
        "Redis": f"http://127.0.0.1:{redis_port}/",
        "API": f"{status['api_url']}/api/v1/runs",
        "Grid": f"{status['grid_url']}/status",
    }


def proxy_log(fleet: Fleet) -> str:
    return "\n".join(
        log.read_text(errors="replace") for log in (fleet.state_dir / "logs").glob("*.log")
    )


def test_the_fleet_records_and_shows_what_it_allows(
    local_fleet: Fleet, apps: tuple[int, int]
) -> None:
    allowed = [f"localhost:{apps[0]}"]
    assert local_fleet.status["allowed_targets"] == allowed
    assert local_fleet.state["allowed_targets"] == allowed
    shown = local_fleet.run("status")
    assert f"allowed      localhost:{apps[0]}" in shown.stdout, shown.stdout


def test_an_allowed_app_passes_and_the_fleet_stays_refused_from_its_page(
    local_fleet: Fleet, apps: tuple[int, int], tmp_path: Path
) -> None:
    urls = fleet_urls(local_fleet)
    probes = [
        custom(f"fetch {name}", FETCH % json.dumps(url), "failed: Failed to fetch")
        for name, url in urls.items()
    ]
    # The control: a fetch the policy allows does reach (the probes fail for the policy).
    probes.append(custom("fetch the app", FETCH % json.dumps("/"), "reached 200"))
    result_path = tmp_path / "result.json"
    done = local_fleet.run(
        "run", str(suite_file(tmp_path, apps[0], probes)), "--json", str(result_path)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(result_path.read_text())["status"] == "passed"
    log = proxy_log(local_fleet)
    for name, url in urls.items():
        assert f"egress proxy refused GET {url}" in log, name
    run_id = json.loads(result_path.read_text())["runId"]
    seen = case_events(local_fleet, run_id, {"testTypes": ["smoke"]})
    assert {kind for kind, _ in seen} == {"test_started", "test_progress", "test_completed"}
    assert {test_type for _, test_type in seen} == {"smoke"}


def case_events(fleet: Fleet, run_id: str, filters: dict[str, Any]) -> list[tuple[str, Any]]:
    """Type and ``testType`` of each case event of the run a ``test_execution``
    subscription with ``filters`` receives, through the run's ``test_completed`` (issue
    25 item 7: ``testTypes`` reads the test's ``category``, which the worker publishes)."""
    url = websocket_url(str(fleet.status["gateway_url"]))
    seen: list[tuple[str, Any]] = []
    with connect(url, open_timeout=RECV_S) as ws:
        ws.send(json.dumps({"type": "auth", "id": "m1", "payload": {"apiKey": fleet.admin_key}}))
        assert json.loads(ws.recv(timeout=RECV_S))["type"] == "auth_response"
        kinds = ["test_started", "test_progress", "test_completed"]
        wanted = {**filters, "runIds": [run_id], "eventTypes": kinds}
        subscribe = {
            "channel": "test_execution",
            "filters": wanted,
            "options": {"includeHistory": True},
        }
        ws.send(json.dumps({"type": "subscribe", "id": "s1", "payload": subscribe}))
        while not seen or seen[-1][0] != "test_completed":
            message = json.loads(ws.recv(timeout=RECV_S))
            if message.get("type") in kinds:
                seen.append((message["type"], message["payload"].get("testType")))
    return seen


def test_a_refused_app_ends_the_run_with_the_command_that_allows_it(
    local_fleet: Fleet, apps: tuple[int, int], tmp_path: Path
) -> None:
    allowed, refused = apps
    path = suite_file(tmp_path, refused, [])
    done = local_fleet.run("run", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    command = (
        "testfleet down && testfleet up --workers 1 --browsers 1 "
        f"--allow localhost:{allowed} --allow localhost:{refused}"
    )
    assert last.endswith(command), last

    # Submitted anyway (past the CLI's check), the egress proxy refuses the page.
    api = str(local_fleet.status["api_url"])
    headers = {"Authorization": f"Bearer {local_fleet.admin_key}"}
    answer = httpx.post(
        f"{api}/api/v1/runs",
        json={"suites": [json.loads(path.read_text())]},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    run_url = f"{api}/api/v1/runs/{answer.json()['runId']}"

    def settled() -> dict[str, Any]:
        now: dict[str, Any] = httpx.get(run_url, headers=headers, timeout=10).json()
        return now if now.get("status") in SETTLED_RUN_STATUSES else {}

    run: dict[str, Any] = wait_until(
        "the refused run to settle", settled, timeout_s=180, interval_s=0.5
    )
    assert run["status"] == "failed"
    [test] = run["tests"]
    assert "egress proxy refused the page" in str(test["error"]), test["error"]
