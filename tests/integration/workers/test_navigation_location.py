"""Where a navigation lands is checked too: a redirect the check before navigating never
saw cannot leave the browser on a fleet service (real Chromium, no egress proxy, as with
the local provider)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from grid.provider import LocalProvider
from testfleet.settings import Settings
from testfleet.suites.model import CaseSpec, TestCase
from testfleet.suites.steps.model import Step
from testfleet.targets.policy import Endpoint, TargetPolicy
from tests.fixtures_pages import page_server
from workers.executor import Hooks, execute_steps

pytestmark = pytest.mark.browser

SECRET = "internal-service-page"


class _Redirect(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", parse_qs(urlsplit(self.path).query)["to"][0])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def redirector() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def internal() -> Iterator[int]:
    """A page standing for a fleet service on this machine; yields its port."""
    with page_server({"/": f"<p>{SECRET}</p>"}) as url:
        yield int(url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    provider = LocalProvider(Settings())
    session = provider.open()
    try:
        yield session
    finally:
        provider.close(session)


@pytest.mark.parametrize("spelling", ["[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "127.0.0.1"])
def test_a_redirect_to_a_fleet_service_fails_the_step_and_leaves_the_page(
    driver: WebDriver, redirector: str, internal: int, spelling: str
) -> None:
    policy = TargetPolicy(endpoints=(Endpoint("internal service", "127.0.0.1", internal),))
    steps = [
        Step(order_index=1, step_type="navigate", continue_on_failure=True,
             input_data=f"{redirector}/go?to=http://{spelling}:{internal}/"),
        Step(order_index=2, step_type="custom", input_data="return location.href",
             expected_result="about:blank"),
    ]  # fmt: skip
    case = CaseSpec(suite="s", base_url=redirector, timeout_seconds=10.0,
                    test=TestCase(name="redirected", steps=steps))  # fmt: skip
    outcome = execute_steps(driver, case, Hooks(targets=policy))
    first, second = outcome.steps
    assert first.status == "failed"
    assert "led the browser to a refused location" in str(first.error), first.error
    assert "the fleet's internal service" in str(first.error), first.error
    assert second.status == "passed", f"the refused page was left: {second.error}"
