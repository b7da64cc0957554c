"""What confinement costs: the egress proxy per request and per page, a DevTools pipe per session.

Side by side on this machine, against the demo site:

- ``request``: one HTTP GET (a new connection each time, as the proxy makes one
  per request) straight to the demo site, and through the egress proxy;
- ``navigation``: ``driver.get`` of demo pages in two local headless Chromium
  sessions, one sending everything through the proxy (what a Grid node's
  browsers do), one not; the pages are taken in turns so load drifts hit both;
- ``new_session``: opening a local session with ``--remote-debugging-pipe`` (what
  the fleet's sessions use: no DevTools port) and with a DevTools port.

``TESTFLEET_BENCH__QUICK=1`` takes fewer samples.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from bench.common import percentile, ratio
from grid.chrome import chrome_options
from grid.egress import EgressConfig
from grid.launcher import start_egress, stop_group
from testfleet.settings import Settings
from tests.fixtures_grid import grid_test_settings, running_demosite

TITLE = "confinement cost: egress proxy per request and page, DevTools pipe per session"
PAGES = ("/login", "/shop", "/dashboard", "/storage", "/")
SAMPLES = {"request": 200, "navigation": 60, "new_session": 8}
QUICK = {"request": 50, "navigation": 15, "new_session": 3}


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _browser(settings: Settings, proxy: str = "", pipe: bool = True) -> WebDriver:
    grid = settings.grid
    args = tuple(a for a in grid.chrome_args if pipe or a != "--remote-debugging-pipe")
    options = chrome_options(grid.model_copy(update={"chrome_args": args}), proxy=proxy)
    service = Service(executable_path=str(grid.chromedriver_path))
    return webdriver.Chrome(service=service, options=options)


def _requests(site: str, proxy: str, samples: int) -> dict[str, float]:
    direct: list[float] = []
    proxied: list[float] = []
    with httpx.Client() as plain, httpx.Client(proxy=proxy) as through:
        for _ in range(samples):
            for client, into in ((plain, direct), (through, proxied)):
                started = time.perf_counter()
                response = client.get(f"{site}/health", headers={"Connection": "close"})
                into.append(_ms(started))
                response.raise_for_status()
    return {"direct_p50_ms": percentile(direct, 50), "proxied_p50_ms": percentile(proxied, 50)}


def _navigations(settings: Settings, site: str, proxy: str, samples: int) -> dict[str, float]:
    direct, proxied = _browser(settings), _browser(settings, proxy=proxy)
    times: dict[str, list[float]] = {"direct": [], "proxied": []}
    try:
        for driver in (direct, proxied):
            driver.get(f"{site}/")  # warm up: first renderer, first connection
        for i in range(samples):
            page = f"{site}{PAGES[i % len(PAGES)]}"
            for name, driver in (("direct", direct), ("proxied", proxied)):
                started = time.perf_counter()
                driver.get(page)
                times[name].append(_ms(started))
        if "Blocked by testfleet" in proxied.title:
            raise RuntimeError("the proxy refused the demo site: check the allowance")
    finally:
        direct.quit()
        proxied.quit()
    return {f"{k}_p50_ms": percentile(v, 50) for k, v in times.items()}


def _sessions(settings: Settings, samples: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"pipe": [], "port": []}
    opened: Callable[[bool], WebDriver] = lambda pipe: _browser(settings, pipe=pipe)  # noqa: E731
    for _ in range(samples):
        for name, pipe in (("pipe", True), ("port", False)):
            started = time.perf_counter()
            driver = opened(pipe)
            driver.get("about:blank")
            times[name].append(_ms(started))
            driver.quit()
    return {f"{k}_p50_ms": percentile(v, 50) for k, v in times.items()}


def run(settings: Settings) -> dict[str, Any]:
    samples = QUICK if settings.bench.quick else SAMPLES
    with (
        tempfile.TemporaryDirectory(prefix="testfleet-bench-egress-") as tmp,
        running_demosite() as site,
    ):
        local = grid_test_settings(Path(tmp), allowed_targets=(site.removeprefix("http://"),))
        proxy = EgressConfig.from_settings(local).url
        egress = start_egress(local, (Path(tmp) / "egress.log").open("wb"))
        try:
            request = _requests(site, proxy, samples["request"])
            navigation = _navigations(local, site, proxy, samples["navigation"])
        finally:
            stop_group(egress, 5.0)
        session = _sessions(local, samples["new_session"])
    figures: dict[str, Any] = {
        "request": {**request, "added_ms": request["proxied_p50_ms"] - request["direct_p50_ms"]},
        "navigation": {
            **navigation,
            "added_ms": navigation["proxied_p50_ms"] - navigation["direct_p50_ms"],
            "ratio": ratio(navigation["proxied_p50_ms"], navigation["direct_p50_ms"]),
        },
        "new_session": {**session, "ratio": ratio(session["pipe_p50_ms"], session["port_p50_ms"])},
        "samples": samples,
        "quick": settings.bench.quick,
    }
    for group in ("request", "navigation", "new_session"):
        figures[group] = {k: round(v, 2) for k, v in figures[group].items()}
    return figures


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    req, nav, new = figures["request"], figures["navigation"], figures["new_session"]
    per_request = f"+{req['added_ms']} ms per request"
    per_load = f"x{nav['ratio']} (+{nav['added_ms']} ms)"
    return [
        ("request direct / proxied P50", _p50s(req, "direct", "proxied"), per_request),
        ("page load direct / proxied P50", _p50s(nav, "direct", "proxied"), per_load),
        ("new session pipe / port P50", _p50s(new, "pipe", "port"), f"x{new['ratio']}"),
    ]


def _p50s(group: dict[str, Any], first: str, second: str) -> str:
    """``first / second ms``: the two P50 latencies a row compares."""
    return f"{group[first + '_p50_ms']} / {group[second + '_p50_ms']} ms"
