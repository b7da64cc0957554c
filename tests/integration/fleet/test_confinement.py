"""Browsers are confined: one project's suite cannot reach the Grid, the node, another
project's browser, the fleet's services, local files or metadata addresses.

Against a real local fleet (``conftest.fleet``): project alpha's case logs in with a
secret and keeps its browser open; while it does, project beta's suite tries every
way from its own page to alpha's session that the fleet had open before (the Grid's
``/status`` and ``se:cdp``, the node's port, chromedriver's and Chromium's ports
on the node), the fleet's API and Redis, the metadata address, and redirects to all
of those and to ``file://``. Every attempt must fail, and say why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Fleet
from tests.ports import listening_on, socket_inodes
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

ALPHA_SECRET = "alpha-s3cret-pw"
SETTING = "TESTFLEET_SECURITY__ALLOWED_TARGETS"

FETCH = """
return fetch(%s, %s).then(r => 'reached ' + r.status, e => 'failed: ' + e.message);
"""
REFUSED_FETCH = "failed: Failed to fetch"
"""What a page sees of a refusal: the proxy's 403 carries no CORS header, so the page
cannot tell it from any other cross-origin failure (the proxy's log says it refused)."""
SOCKET = """
return new Promise(done => {
  const socket = new WebSocket(%s);
  socket.onopen = () => { socket.close(); done('open'); };
  socket.onerror = () => done('refused');
  setTimeout(() => done('no answer'), 5000);
});
"""


def fetch_blocked(name: str, url: str, init: dict[str, Any] | None = None) -> dict[str, Any]:
    """A script step that passes only when the request failed; ``refused_in_log`` then
    checks the egress proxy refused it (the page may not learn that)."""
    script = FETCH % (json.dumps(url), json.dumps(init or {}))
    return {
        "name": name,
        "script": script,
        "equals": REFUSED_FETCH,
        "url": url,
        "method": (init or {}).get("method", "GET"),
    }


def refused_in_log(fleet: Fleet, probes: list[dict[str, Any]]) -> list[str]:
    """The fetch probes the egress proxy's log does not record as refused."""
    text = "\n".join(
        log.read_text(errors="replace") for log in (fleet.state_dir / "logs").glob("*.log")
    )
    return [
        p["name"]
        for p in probes
        if "url" in p and f"egress proxy refused {p['method']} {p['url']}" not in text
    ]


def socket_refused(name: str, url: str) -> dict[str, Any]:
    return {"name": name, "script": SOCKET % json.dumps(url), "equals": "refused"}


def script_step(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_index": 0,
        "step_type": "custom",
        "name": step["name"],
        "input_data": step["script"],
        "expected_result": step["equals"],
        "continue_on_failure": True,
    }


def navigate(name: str, target: str) -> dict[str, Any]:
    return {
        "order_index": 0,
        "step_type": "navigate",
        "name": name,
        "input_data": target,
        "continue_on_failure": True,
    }


def numbered(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**step, "order_index": i} for i, step in enumerate(steps, 1)]


def project_key(fleet: Fleet, project: str) -> str:
    done = fleet.run("keys", "create", "--project", project, "--scopes", "test:read,test:write")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def submit(fleet: Fleet, key: str, suite: dict[str, Any]) -> httpx.Response:
    api = str(fleet.status["api_url"])
    return httpx.post(
        f"{api}/api/v1/runs",
        json={"suites": [suite]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def get_run(fleet: Fleet, key: str, run_id: str) -> dict[str, Any]:
    api = str(fleet.status["api_url"])
    response = httpx.get(
        f"{api}/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    data: dict[str, Any] = response.json()
    return data


def grid_auth(fleet: Fleet) -> tuple[str, str]:
    state = fleet.state
    return str(state["grid_username"]), str(state["grid_password"])


def grid_sessions(fleet: Fleet) -> list[dict[str, Any]]:
    """Every session the Grid runs, as its (authenticated) ``/status`` lists them."""
    status = httpx.get(f"{fleet.status['grid_url']}/status", auth=grid_auth(fleet)).json()
    return [
        slot["session"]
        for node in status["value"]["nodes"]
        for slot in node["slots"]
        if slot.get("session")
    ]


def browser_ports(node_port: str) -> list[int]:
    """Ports that the node's chromedriver and Chromium processes listen on."""
    marker = f"testfleet-node-{node_port}".encode()
    inodes: set[str] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes():
                inodes |= socket_inodes(int(proc.name))
        except OSError:
            continue
    ports = listening_on(inodes)
    return sorted(ports)


def test_the_grid_router_requires_credentials(fleet: Fleet) -> None:
    grid = str(fleet.status["grid_url"])
    assert httpx.get(f"{grid}/status").status_code == 401
    query = {"query": "{ sessionsInfo { sessions { id capabilities } } }"}
    assert httpx.post(f"{grid}/graphql", json=query).status_code == 401
    assert httpx.get(f"{grid}/status", auth=grid_auth(fleet)).status_code == 200


def test_refused_targets_are_refused_before_anything_is_queued(fleet: Fleet) -> None:
    status = fleet.status
    redis_port = str(status["redis_url"]).rsplit(":", 1)[1].split("/")[0]
    targets = {
        "file:///etc/hostname": "file: is not allowed",
        "view-source:http://example.com/": "view-source: is not allowed",
        "data:text/html,<h1>hi</h1>": "data: is not allowed",
        "chrome://version": "chrome: is not allowed",
        f"{status['grid_url']}/status": "the fleet's Selenium Grid",
        f"{status['api_url']}/api/v1/runs": "the fleet's API",
        f"http://127.0.0.1:{redis_port}/": "the fleet's Redis",
        "http://169.254.169.254/latest/meta-data/": "link-local",
        "http://metadata.google.internal/": "cloud metadata",
    }
    steps = numbered([navigate(f"to {i}", target) for i, target in enumerate(targets)])
    suite = {
        "name": "Reach out",
        "base_url": status["demo_url"],
        "tests": [{"name": "every target", "steps": steps}],
    }
    response = submit(fleet, fleet.admin_key, suite)
    assert response.status_code == 422, response.text
    problems = response.json()["error"]["problems"]
    for i, reason in enumerate(targets.values()):
        [problem] = [p for p in problems if f"steps[{i}]" in p]
        assert "refused by the fleet's target policy" in problem
        assert reason in problem, problem
        # A host can be allowed by an operator (the message says how), a scheme cannot.
        assert (SETTING in problem) == (":" not in reason), problem


def alpha_suite(demo: str) -> dict[str, Any]:
    """Signs in with a secret, then keeps its browser open until cancelled."""
    steps = numbered(
        [
            {"order_index": 0, "step_type": "navigate", "input_data": "/login"},
            {"order_index": 0, "step_type": "type", "selector": "#user", "input_data": "alice"},
            {
                "order_index": 0,
                "step_type": "type",
                "selector": "#pass",
                "input_data": ALPHA_SECRET,
                "secret": True,
            },
            {"order_index": 0, "step_type": "wait", "input_data": "120"},
            {"order_index": 0, "step_type": "navigate", "input_data": "/"},
        ]
    )
    return {
        "name": "Alpha",
        "base_url": demo,
        "tests": [{"name": "holds a session", "steps": steps}],
    }


def beta_probes(
    fleet: Fleet, sessions: list[dict[str, Any]], ports: list[int]
) -> list[dict[str, Any]]:
    """Script steps that each try one way from a page to the Grid, a session, the node
    or the fleet, and pass only when it was refused."""
    status = fleet.status
    grid, api = str(status["grid_url"]), str(status["api_url"])
    ws_grid = grid.replace("http", "ws", 1)
    node_port = fleet.env["TESTFLEET_GRID__NODE_PORT"]
    probes = [
        fetch_blocked("Grid status", f"{grid}/status"),
        fetch_blocked("Grid GraphQL", f"{grid}/graphql", {"method": "POST", "body": "{}"}),
        fetch_blocked("node status", f"http://127.0.0.1:{node_port}/status"),
        fetch_blocked("API", f"{api}/api/v1/runs"),
        fetch_blocked("Redis", f"http://127.0.0.1:{redis_port(fleet)}/"),
        fetch_blocked("metadata", "http://169.254.169.254/latest/meta-data/"),
    ]
    for session in sessions:
        sid = session["sessionId"]
        probes.append(fetch_blocked(f"drive {sid} via the Grid", f"{grid}/session/{sid}/url"))
        probes.append(socket_refused(f"se:cdp of {sid}", f"{ws_grid}/session/{sid}/se/cdp"))
        advertised = session["capabilities"].get("se:cdp")
        if advertised:
            probes.append(socket_refused(f"advertised se:cdp of {sid}", advertised))
    for port in ports:
        probes.append(fetch_blocked(f"port {port}", f"http://127.0.0.1:{port}/json"))
        probes.append(socket_refused(f"socket {port}", f"ws://127.0.0.1:{port}/devtools/browser"))
    return probes


def beta_redirects(fleet: Fleet) -> dict[str, str]:
    """Demo-site redirects beyond the policy -> what the refused step's error says."""
    status = fleet.status
    grid, api = str(status["grid_url"]), str(status["api_url"])
    node_port = fleet.env["TESTFLEET_GRID__NODE_PORT"]
    return {
        "/redirect?to=file:///etc/hostname": "redirected to a URL browsers may not open",
        f"/redirect?to={grid}/status": "the fleet's Selenium Grid",
        f"/redirect?to={api}/health": "the fleet's API",
        f"/redirect?to=http://127.0.0.1:{redis_port(fleet)}/": "the fleet's Redis",
        f"/redirect?to=http://127.0.0.1:{node_port}/status": "Selenium Grid node",
        "/redirect?to=http://169.254.169.254/latest/meta-data/": "refused",
    }


def redis_port(fleet: Fleet) -> str:
    return str(fleet.status["redis_url"]).rsplit(":", 1)[1].split("/")[0]


def stays(name: str, url: str) -> dict[str, Any]:
    """A script step that sends its page to ``url`` and passes if the page stayed."""
    script = (
        f"location.href = {json.dumps(url)};"
        "return new Promise(r => setTimeout(() => r(location.protocol), 500));"
    )
    return {"name": name, "script": script, "equals": "http:"}


def finished_run(fleet: Fleet, key: str, run_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        run = get_run(fleet, key, run_id)
        return run if run.get("finishedMs") else None

    return wait_until(f"run {run_id} to finish", done, timeout_s=240)


def test_another_projects_browser_and_the_fleet_are_out_of_reach(fleet: Fleet) -> None:
    demo = str(fleet.status["demo_url"])
    alpha_key, beta_key = project_key(fleet, "alpha"), project_key(fleet, "beta")
    submitted = submit(fleet, alpha_key, alpha_suite(demo))
    assert submitted.status_code == 202, submitted.text
    alpha_run = submitted.json()["runId"]

    def alpha_typed() -> bool:
        [case] = get_run(fleet, alpha_key, alpha_run)["tests"]
        return case["status"] == "running" and len(case["steps"]) >= 3

    try:
        wait_until("alpha to type its secret", alpha_typed, timeout_s=120)
        sessions = grid_sessions(fleet)
        assert sessions, "alpha's session is on the Grid"
        ports = browser_ports(fleet.env["TESTFLEET_GRID__NODE_PORT"])
        assert ports, "the node's chromedriver listens somewhere"
        probes = [
            *beta_probes(fleet, sessions, ports),
            stays("no file: from a page", "file:///etc/hostname"),
            stays("no chrome: from a page", "chrome://version"),
        ]
        redirects = beta_redirects(fleet)
        steps = numbered(
            [
                navigate("the demo site", "/"),
                *[script_step(p) for p in probes],
                *[navigate(f"redirect {i}", target) for i, target in enumerate(redirects)],
                navigate("the demo site still", "/login"),
            ]
        )
        beta_suite = {
            "name": "Beta",
            "base_url": demo,
            "tests": [{"name": "reaches out", "steps": steps}],
        }
        submitted = submit(fleet, beta_key, beta_suite)
        assert submitted.status_code == 202, submitted.text
        beta = finished_run(fleet, beta_key, submitted.json()["runId"])
    finally:
        headers = {"Authorization": f"Bearer {alpha_key}"}
        api = str(fleet.status["api_url"])
        httpx.post(f"{api}/api/v1/runs/{alpha_run}/cancel", headers=headers, timeout=10)

    [case] = beta["tests"]
    results = {s["label"]: s for s in case["steps"]}
    should_pass = ["the demo site", "the demo site still", *[p["name"] for p in probes]]
    failed = {n: results[n]["error"] for n in should_pass if results[n]["status"] != "passed"}
    assert failed == {}, failed
    for i, reason in enumerate(redirects.values()):
        step = results[f"redirect {i}"]
        assert step["status"] == "failed", step
        assert reason in step["error"], step["error"]
    assert case["status"] == "failed"  # the refused navigations fail it
    assert ALPHA_SECRET not in json.dumps(beta)
    assert refused_in_log(fleet, probes) == []
    alpha = finished_run(fleet, alpha_key, alpha_run)
    assert alpha["tests"][0]["status"] == "cancelled"
    assert ALPHA_SECRET not in json.dumps(alpha)
