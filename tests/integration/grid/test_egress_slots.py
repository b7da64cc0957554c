"""Issue 24, item 3: one page must not take the egress proxy's connections from the others.

Real Chromium sessions send everything through one egress proxy running with its
shipped limits. Two hog sessions open hundreds of WebSockets and fetches to a server
that accepts connections and never answers (one such page alone held 384 of them;
two held every one of the proxy's 512 slots, and every other page load through it
stalled until the proxy's 600 s response timeout). A third session's page load must
still complete within a navigation step's default deadline while the hogs run.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from grid.egress import MAX_CONNECTIONS
from grid.provider import LocalProvider
from testfleet.settings import SecuritySettings, Settings
from testfleet.suites.model import Suite
from tests.fixtures_pages import page_server
from tests.integration.grid.test_egress import running_proxy
from tests.waiting import wait_until

pytestmark = [pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

HOGS = 2
CONNECTIONS_PER_HOG = 400
"""Of each kind (WebSockets and fetches): more than Chromium lets one page open."""
STEP_DEADLINE_S = float(Suite.model_fields["timeout_seconds"].default)
"""A navigation step's default deadline."""


class Blackhole:
    """A TCP server that accepts every connection and never answers."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("0.0.0.0", 0), backlog=4096)
        self.port = self._listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="blackhole", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            self.held.append(connection)

    def close(self) -> None:
        self._listener.close()
        self._thread.join(10)
        for connection in self.held:
            connection.close()


@contextlib.contextmanager
def blackhole() -> Iterator[Blackhole]:
    server = Blackhole()
    try:
        yield server
    finally:
        server.close()


def hog_page(port: int) -> str:
    """A page that opens ``CONNECTIONS_PER_HOG`` WebSockets and fetches to ``port``,
    each to another loopback address (Chromium limits connections per host)."""
    return f"""<title>hog</title><script>
for (let i = 0; i < {CONNECTIONS_PER_HOG}; i++) {{
  const host = '127.0.' + (1 + (i >> 8)) + '.' + (1 + (i & 255)) + ':{port}';
  try {{ new WebSocket('ws://' + host + '/socket' + i); }} catch (e) {{}}
  fetch('http://' + host + '/fetch' + i).catch(() => {{}});
}}
</script>"""


def connections_to(port: int) -> int:
    """Established TCP connections on this host whose far end is ``port`` (clients')."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    count += 1
    return count


@contextlib.contextmanager
def sessions(proxy: str, count: int) -> Iterator[list[WebDriver]]:
    """``count`` local Chromium sessions whose every request goes through ``proxy``."""
    provider = LocalProvider(Settings(security=SecuritySettings(browser_proxy=proxy)))
    drivers: list[WebDriver] = []
    try:
        for _ in range(count):
            drivers.append(provider.open())
        yield drivers
    finally:
        for driver in drivers:
            provider.close(driver)


def test_pages_that_open_hundreds_of_connections_slow_only_themselves() -> None:
    with (
        blackhole() as server,
        page_server({"/hog": hog_page(server.port), "/": "<title>mine</title>ok"}) as site,
    ):
        site_port = site.rsplit(":", 1)[1]
        # The site, and the blackhole on every loopback address the hogs use.
        allowed = (f"127.0.0.1:{site_port}", "127.0.0.0/8")
        with running_proxy(*allowed) as proxy, sessions(proxy, HOGS + 1) as drivers:
            *hogs, victim = drivers
            for hog in hogs:
                hog.get(f"{site}/hog")
            # The hogs have more connections open to the proxy than it has slots (each
            # page about 380; the old proxy served them all, up to its 512 slots).
            proxy_port = int(proxy.rsplit(":", 1)[1])
            wait_until(
                "the hogs to open more connections to the proxy than it has slots",
                lambda: connections_to(proxy_port) >= MAX_CONNECTIONS,
                60,
            )
            victim.set_page_load_timeout(STEP_DEADLINE_S)
            victim.get(f"{site}/")
            assert victim.title == "mine"
            assert hogs[0].title == "hog", "the hogs' pages are still open"
