"""What ``test_egress_mapped`` runs inside its network namespaces (``tests.netns``).

``python -m tests.integration.grid.egress_lab serve NAME ADDRESS PORT``: a web server
that answers every path with a page naming ``NAME`` (and readable from any origin, so
a page that reaches it would show it) and prints ``HIT <path>`` for every request it
receives; ``/redirect?to=URL`` answers 302 to URL.

``python -m tests.integration.grid.egress_lab probe JSON``: on the browser's host, the
egress proxy (``grid.egress``) with the fleet's policy, real headless Chromium through
it, and each route to the store tried once; prints what each route showed as JSON.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from grid.egress import EgressConfig, serve
from grid.provider import LocalProvider
from testfleet.settings import SecuritySettings, Settings
from testfleet.suites.model import CaseSpec, TestCase
from testfleet.suites.steps.model import Step
from testfleet.targets.policy import BLOCKED_META, TargetPolicy
from tests.waiting import wait_until
from workers.executor import Hooks, execute_steps

READY_TIMEOUT_S = 30.0
PAGE_JS = f"""
const blocked = document.querySelector('meta[name="{BLOCKED_META}"]');
return [document.title, document.body ? document.body.innerText : "",
        blocked ? blocked.content : null];
"""
FETCH_JS = """
const done = arguments[arguments.length - 1];
fetch(arguments[0]).then(r => r.text()).then(t => done("read: " + t),
                                             e => done("failed: " + e.message));
"""
SOCKET_JS = """
const done = arguments[arguments.length - 1];
const socket = new WebSocket(arguments[0]);
socket.onopen = () => { socket.close(); done("open"); };
socket.onerror = () => done("refused");
"""


def serve_pages(name: str, address: str, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            print(f"HIT {self.path}", flush=True)
            parts = urlsplit(self.path)
            if parts.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", parse_qs(parts.query)["to"][0])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = f"<title>{name}</title><p>{name} page {parts.path}</p>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer((address, port), Handler).serve_forever()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # direct: no proxy in a lab
        text: str = response.read().decode()
        return text


def _listens(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), 1):
        return True


def probe(lab: dict[str, Any]) -> dict[str, Any]:
    store = f"{lab['store_ip']}:{lab['store_port']}"
    mapped_store = f"[::ffff:{lab['store_ip']}]:{lab['store_port']}"
    site = f"http://{lab['site_ip']}:{lab['site_port']}"
    proxy_url = f"http://127.0.0.1:{lab['egress_port']}"
    security = SecuritySettings(
        internal_hosts=(lab["store_ip"],),
        egress_port=lab["egress_port"],
        browser_proxy=proxy_url,
    )
    settings = Settings(security=security)
    shown: dict[str, Any] = {}
    # The route exists: this host reaches the store directly (the proxy is what refuses).
    shown["direct"] = wait_until(
        "the store to answer", lambda: _get(f"http://{store}/direct"), READY_TIMEOUT_S,
        ignore=(OSError,),
    )  # fmt: skip
    wait_until("the site to answer", lambda: _get(f"{site}/"), READY_TIMEOUT_S, ignore=(OSError,))

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    config = EgressConfig.from_settings(settings)
    proxy = threading.Thread(target=loop.run_until_complete, args=(serve(config, stop),))
    proxy.start()
    provider = LocalProvider(settings)
    try:
        wait_until("the proxy", lambda: _listens(lab["egress_port"]), 10, ignore=(OSError,))
        driver = provider.open()
        try:
            driver.set_script_timeout(20)
            for name, url in (
                ("site", f"{site}/"),
                ("site_mapped", f"http://[::ffff:{lab['site_ip']}]:{lab['site_port']}/"),
                ("navigate", f"http://{mapped_store}/navigated"),
            ):
                driver.get(url)
                shown[name] = driver.execute_script(PAGE_JS)
            driver.get(f"{site}/")
            shown["fetch"] = driver.execute_async_script(FETCH_JS, f"http://{mapped_store}/fetched")
            shown["websocket"] = driver.execute_async_script(SOCKET_JS, f"ws://{mapped_store}/ws")
            # The worker's navigate step, sent there by a redirect its own check never saw.
            step = Step(
                order_index=1, step_type="navigate",
                input_data=f"{site}/redirect?to=http://{mapped_store}/redirected",
            )  # fmt: skip
            case = CaseSpec(suite="lab", base_url=site, timeout_seconds=20.0,
                            test=TestCase(name="redirect", steps=[step]))  # fmt: skip
            outcome = execute_steps(
                driver, case, Hooks(targets=TargetPolicy.from_settings(settings))
            )
            shown["step"] = [outcome.status, outcome.error]
        finally:
            provider.close(driver)
    finally:
        loop.call_soon_threadsafe(stop.set)
        proxy.join(10)
        loop.close()
    return shown


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        serve_pages(argv[1], argv[2], int(argv[3]))
        return 0
    if argv[:1] == ["probe"]:
        print(json.dumps(probe(json.loads(argv[1]))), flush=True)
        return 0
    print("usage: egress_lab serve NAME ADDRESS PORT | probe JSON", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
