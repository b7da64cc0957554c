"""The egress proxy refuses every host of the Grid's nodes, learnt from the hub's
``/status`` (issue 24: on several hosts, other nodes were not fleet endpoints)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from grid.egress import EgressLimits, EgressProxy
from grid.egress_nodes import node_hosts
from testfleet.targets.policy import TargetPolicy, parse_allowance

STATUS = {
    "value": {
        "ready": True,
        "message": "Selenium Grid ready.",
        "nodes": [
            {"id": "a", "uri": "http://192.0.2.10:5555", "availability": "UP", "slots": []},
            {"id": "b", "uri": "http://Node-B.example:5555", "availability": "DOWN"},
            {"id": "c", "uri": "http://[2001:db8::7]:5555"},
            {"id": "d", "uri": "http://192.0.2.10:5556"},
            {"id": "e"},
            {"id": "f", "uri": 42},
        ],
    }
}


def test_node_hosts_are_read_from_a_status_document() -> None:
    assert node_hosts(STATUS) == ["192.0.2.10", "node-b.example", "2001:db8::7"]


def test_a_document_without_nodes_names_none() -> None:
    assert node_hosts({}) == []
    assert node_hosts({"value": {"nodes": None}}) == []
    assert node_hosts({"value": "not a status"}) == []


class FakeHub:
    """A hub's ``/status`` behind basic auth; ``document`` None answers 500."""

    def __init__(self, user: str, password: str) -> None:
        self.document: dict[str, Any] | None = STATUS
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                if hub.document is None:
                    self.send_response(500)
                    self.end_headers()
                    return
                body = json.dumps(hub.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextlib.contextmanager
def fake_hub(user: str, password: str) -> Iterator[FakeHub]:
    hub = FakeHub(user, password)
    thread = threading.Thread(target=hub.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.server.shutdown()
        hub.server.server_close()
        thread.join(10)


def refused(policy: TargetPolicy, address: str, port: int) -> bool:
    return policy.check_address(address, port, ipaddress.ip_address(address)) is not None


def test_the_proxy_refuses_node_hosts_and_keeps_them_when_the_hub_does_not_answer() -> None:
    # The network is allowed as a whole: only an endpoint can refuse it, and a node
    # host is one on every port (chromedriver and browser ports too).
    policy = TargetPolicy((parse_allowance("192.0.2.0/24"),))
    assert not refused(policy, "192.0.2.10", 5555)

    async def scenario(hub: FakeHub) -> None:
        proxy = EgressProxy(
            policy,
            limits=EgressLimits(resolve_every_s=0.0),  # every request reads the hub again
            grid_url=hub.url,
            grid_auth=("grid", "s3cret"),
        )
        learnt = await proxy.current_policy()
        for port in (5555, 9515, 40000):
            assert refused(learnt, "192.0.2.10", port)
        assert refused(learnt, "2001:db8::7", 5555)
        assert not refused(learnt, "192.0.2.11", 5555)
        hub.document = None  # the hub fails: the last list stands
        assert refused(await proxy.current_policy(), "192.0.2.10", 5555)
        hub.document = {"value": {"nodes": []}}  # the node left the Grid
        assert not refused(await proxy.current_policy(), "192.0.2.10", 5555)

    with fake_hub("grid", "s3cret") as hub:
        asyncio.run(scenario(hub))


def test_wrong_credentials_keep_the_last_list() -> None:
    async def scenario(hub: FakeHub) -> None:
        proxy = EgressProxy(
            TargetPolicy((parse_allowance("192.0.2.0/24"),)),
            limits=EgressLimits(resolve_every_s=0.0),
            grid_url=hub.url,
            grid_auth=("grid", "wrong"),
        )
        assert not refused(await proxy.current_policy(), "192.0.2.10", 5555)

    with fake_hub("grid", "s3cret") as hub:
        asyncio.run(scenario(hub))


def test_a_node_on_the_proxys_own_host_leaves_an_operators_allowance_open() -> None:
    """A local fleet's node is on 127.0.0.1: the loopback is refused already, and an
    allowance of it (an app under test on this machine) must keep working."""
    policy = TargetPolicy((parse_allowance("127.0.0.1"),))

    async def scenario(hub: FakeHub) -> None:
        proxy = EgressProxy(policy, grid_url=hub.url, grid_auth=("grid", "s3cret"))
        learnt = await proxy.current_policy()
        assert not refused(learnt, "127.0.0.1", 3000)
        assert refused(learnt, "192.0.2.10", 5555), "a node elsewhere is still refused"

    with fake_hub("grid", "s3cret") as hub:
        hub.document = {
            "value": {
                "nodes": [
                    {"uri": "http://127.0.0.1:5555"},
                    {"uri": "http://localhost:5556"},
                    {"uri": "http://192.0.2.10:5555"},
                ]
            }
        }
        asyncio.run(scenario(hub))
