"""Pooled session lease against opening a new session, through the same Grid (hub + node).

Both sides start from the same point: a test has just used a session (visited
the demo site's /storage page, which sets a cookie, localStorage and
sessionStorage). Then:

- pooled, back to back: ``pool.close(driver)`` + ``pool.open()`` at once: the
  lend waits for the whole give-back reset (fresh tab, cookies, storage, HTTP
  cache and permissions of every visited origin cleared, window size), which
  is its health check too. This is ``lease_p50_ms``: the worst case, a worker
  with nothing else to do between two tests.
- pooled, reset overlapped: ``pool.close(driver)``, the reset left to finish
  (in a worker, it overlaps the result write, the ack and Celery's next
  delivery), then ``pool.open()`` timed alone: the health check before lending
  a session that sat idle after its reset. This is ``lease_ready_p50_ms``.
- new session: ``provider.open()`` on the Grid, what every test costs without
  a pool (``new_session_p50_ms``; the old session's ``quit()`` is timed apart as
  ``quit_p50_ms`` and not counted, which flatters the baseline).

Target (SPEC section 9): lease >= 10x faster at P50; printed for both leases.
Starts its own Grid and demo site on free ports with a temporary state dir.
``TESTFLEET_BENCH__QUICK=1`` takes 5 samples of each instead of 30.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from selenium.webdriver.remote.webdriver import WebDriver

from bench.common import percentile, ratio, verdict
from grid.pool import SessionPool
from grid.provider import GridProvider
from testfleet.settings import Settings
from tests.fixtures_grid import grid_test_settings, running_demosite, running_grid

TITLE = "Browser pool: pooled lease (reset at give-back + check) vs a new Grid session"

SAMPLES = 30
QUICK_SAMPLES = 5
TARGET_RATIO = 10.0


def _use(driver: WebDriver, site_url: str) -> None:
    """What a short test leaves behind: a page, a cookie, local and session storage."""
    driver.get(f"{site_url}/storage")


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def measure(settings: Settings, site_url: str, samples: int) -> dict[str, Any]:
    """Both figures against the running Grid of ``settings``."""
    provider = GridProvider(settings)
    new_ms: list[float] = []
    quit_ms: list[float] = []
    driver = provider.open()  # the first session also warms the Grid up; not counted
    try:
        for _ in range(samples):
            _use(driver, site_url)
            started = time.perf_counter()
            provider.close(driver)
            quit_ms.append(_ms(started))
            started = time.perf_counter()
            driver = provider.open()
            new_ms.append(_ms(started))
    finally:
        provider.close(driver)

    pool = SessionPool(provider, settings)
    lease_ms: list[float] = []
    ready_ms: list[float] = []
    try:
        driver = pool.open()
        _use(driver, site_url)
        pool.close(driver)  # the first reset warms up CDP on this session; not counted
        driver = pool.open()
        for _ in range(samples):
            _use(driver, site_url)
            started = time.perf_counter()
            pool.close(driver)
            driver = pool.open()
            lease_ms.append(_ms(started))
        for _ in range(samples):
            _use(driver, site_url)
            pool.close(driver)
            pool.wait_for_resets()
            started = time.perf_counter()
            driver = pool.open()
            ready_ms.append(_ms(started))
        pool.close(driver)
        reused = pool.stats.lent_reused
    finally:
        pool.shutdown()
    lease_p50 = percentile(lease_ms, 50)
    ready_p50 = percentile(ready_ms, 50)
    new_p50 = percentile(new_ms, 50)
    return {
        "lease_ready_p50_ms": round(ready_p50, 1),
        "lease_ready_p95_ms": round(percentile(ready_ms, 95), 1),
        "ratio_ready": ratio(new_p50, ready_p50),
        "lease_p50_ms": round(lease_p50, 1),
        "lease_p95_ms": round(percentile(lease_ms, 95), 1),
        "new_session_p50_ms": round(new_p50, 1),
        "new_session_p95_ms": round(percentile(new_ms, 95), 1),
        "quit_p50_ms": round(percentile(quit_ms, 50), 1),
        "ratio": ratio(new_p50, lease_p50),
        "samples": samples,
        "reused": reused,
    }


def run(settings: Settings) -> dict[str, Any]:
    samples = QUICK_SAMPLES if settings.bench.quick else SAMPLES
    with tempfile.TemporaryDirectory(prefix="testfleet-bench-pool-") as tmp:
        grid = grid_test_settings(Path(tmp), max_sessions=2)
        with running_demosite() as site_url, running_grid(grid) as _:
            figures = measure(grid, site_url, samples)
    figures["grid"] = "hub + node"
    figures["quick"] = settings.bench.quick
    return figures


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    met = figures["ratio"] >= TARGET_RATIO
    ready = figures.get("ratio_ready", 0.0)
    return [
        ("pooled lease P50", f"{figures['lease_p50_ms']} ms", "(back to back: waits for reset)"),
        (
            "pooled lease, reset overlapped P50",
            f"{figures.get('lease_ready_p50_ms')} ms",
            "(the check before lending)",
        ),
        ("new session P50", f"{figures['new_session_p50_ms']} ms", "(through hub + node)"),
        ("ratio new / lease", f"{figures['ratio']}x", f">= {TARGET_RATIO:g}x {verdict(met)}"),
        (
            "ratio new / lease, reset overlapped",
            f"{ready}x",
            f">= {TARGET_RATIO:g}x {verdict(ready >= TARGET_RATIO)}",
        ),
        ("pooled lease P95", f"{figures['lease_p95_ms']} ms", ""),
        ("quit P50 (not counted)", f"{figures['quit_p50_ms']} ms", ""),
    ]
