"""The egress proxy with real sockets and no browser: what it forwards, what it refuses,
and that every request on a connection is judged on its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from grid.egress import EgressConfig, serve
from grid.egress_replies import REFUSED_TEXT
from tests.fixtures_pages import page_server
from tests.ports import held_port, take_held
from tests.waiting import wait_until

EGRESS_LOGGER = "testfleet.grid.egress"


@contextlib.contextmanager
def running_proxy(
    *allowed: str, endpoints: tuple[tuple[str, str, int | None], ...] = ()
) -> Iterator[str]:
    """The egress proxy in a background thread, on a port held for it; yields its URL."""
    config = EgressConfig("127.0.0.1", held_port(), allowed, endpoints)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    served = serve(config, stop, sock=take_held(config.port))
    thread = threading.Thread(target=loop.run_until_complete, args=(served,))
    thread.start()
    try:
        wait_until("the proxy to listen", lambda: _listens(config.port), 10, ignore=(OSError,))
        yield config.url
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def _listens(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), 1):
        return True


@pytest.fixture
def site() -> Iterator[str]:
    with page_server({"/": "<title>app</title>hello", "/other": "other"}) as url:
        yield url


class _Counting(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        reply = str(len(body)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_post_body_goes_through() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        with running_proxy(f"127.0.0.1:{port}") as proxy, httpx.Client(proxy=proxy) as client:
            response = client.post(f"http://127.0.0.1:{port}/", content=b"x" * 200_000)
    finally:
        server.shutdown()
        server.server_close()
    assert (response.status_code, response.text) == (200, "200000")


def test_an_allowed_site_is_forwarded(site: str) -> None:
    port = site.rsplit(":", 1)[1]
    with running_proxy(f"127.0.0.1:{port}") as proxy, httpx.Client(proxy=proxy) as client:
        response = client.get(f"{site}/")
        assert response.status_code == 200
        assert "hello" in response.text
        assert response.headers["connection"] == "close", "one request per connection"
        assert client.get(f"{site}/other").text == "other"


def test_a_refusal_tells_the_page_nothing_it_could_map_the_fleet_with(
    site: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 24: the refusal let any origin read which addresses are the fleet's (CORS
    and an X-Testfleet-Blocked header naming the endpoint). Now the page gets a generic
    403 no other origin can read, and only the proxy's log says why."""
    caplog.set_level(logging.INFO, logger=EGRESS_LOGGER)
    port = site.rsplit(":", 1)[1]
    with running_proxy() as proxy, httpx.Client(proxy=proxy) as client:
        response = client.get(f"{site}/", headers={"Origin": "http://attacker.example"})
    assert response.status_code == 403
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    assert "x-testfleet-blocked" not in response.headers
    assert f'<meta name="testfleet-blocked" content="{REFUSED_TEXT}">' in response.text
    for internal in ("127.0.0.1", port, "loopback", "hello"):
        assert internal not in response.text
        assert internal not in str(response.headers)
    assert any("the node's loopback" in r.getMessage() for r in caplog.records)


def test_a_name_for_the_loopback_is_the_loopback(site: str) -> None:
    port = site.rsplit(":", 1)[1]
    with running_proxy() as proxy, httpx.Client(proxy=proxy) as client:
        response = client.get(f"http://localhost:{port}/")
    assert response.status_code == 403


def test_fleet_endpoints_and_metadata_are_refused(
    site: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=EGRESS_LOGGER)
    port = int(site.rsplit(":", 1)[1])
    endpoints = (("Selenium Grid", "127.0.0.1", port),)
    with (
        running_proxy("127.0.0.1", endpoints=endpoints) as proxy,
        httpx.Client(proxy=proxy) as client,
    ):
        grid = client.get(f"{site}/status")
        metadata = client.get("http://169.254.169.254/latest/meta-data/")
    assert grid.status_code == 403
    assert metadata.status_code == 403
    assert "Selenium Grid" not in grid.text
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "the fleet's Selenium Grid" in logged
    assert "link-local" in logged


def test_connect_tunnels_are_judged_too(site: str) -> None:
    port = int(site.rsplit(":", 1)[1])
    with running_proxy(f"127.0.0.1:{port}") as proxy:
        host, proxy_port = proxy.removeprefix("http://").split(":")
        assert _connect(host, int(proxy_port), f"127.0.0.1:{port}").startswith(b"HTTP/1.1 200")
        refused = _connect(host, int(proxy_port), "127.0.0.1:9")
        assert refused.startswith(b"HTTP/1.1 403")
        assert b"loopback" not in refused


def test_a_second_request_on_a_kept_connection_is_not_let_through(site: str) -> None:
    """A browser may reuse a proxy connection for another host; the proxy closes each
    connection after one request, so nothing rides on an allowed request's connection."""
    port = int(site.rsplit(":", 1)[1])
    with running_proxy(f"127.0.0.1:{port}") as proxy:
        host, proxy_port = proxy.removeprefix("http://").split(":")
        with socket.create_connection((host, int(proxy_port)), 5) as sock:
            sock.sendall(
                f"GET {site}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
                f"GET http://127.0.0.1:9/ HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n".encode()
            )
            received = _read_all(sock)
    assert received.count(b"HTTP/1.") == 1, received
    assert b"hello" in received


def _connect(host: str, port: int, target: str) -> bytes:
    with socket.create_connection((host, port), 5) as sock:
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        return sock.recv(4096)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def test_a_host_it_cannot_reach_is_named_as_chromium_would() -> None:
    closed = held_port()  # nothing listens here
    with running_proxy(f"127.0.0.1:{closed}") as proxy, httpx.Client(proxy=proxy) as client:
        refused = client.get(f"http://127.0.0.1:{closed}/")
        unknown = client.get("http://no-such-host.invalid/")
    assert refused.status_code == 502
    assert '<meta name="testfleet-unreachable" content="net::ERR_CONNECTION_REFUSED">' in (
        refused.text
    )
    assert unknown.status_code == 502
    assert 'content="net::ERR_NAME_NOT_RESOLVED"' in unknown.text
