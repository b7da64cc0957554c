"""Baseline (a): the bench suites as plain pytest tests, a fresh driver per test.

What a team without testfleet runs today: one pytest test per suite test, a
function-scoped ``driver`` fixture that opens a new ``webdriver.Remote`` on the
Grid and quits it after, ``pytest-xdist -n 2`` for parallelism. The benchmark
runs it as a subprocess::

    TESTFLEET_BENCH_SUITES=DIR TESTFLEET_BENCH_GRID_URL=URL DEMO_URL=URL \\
        python -m pytest -n 2 -p no:cacheprovider bench/pytest_baseline.py

(pytest collects a file named on its command line whatever its name, and this
one is not under ``tests/``, so the project's own test run never picks it up.)
An empty ``TESTFLEET_BENCH_GRID_URL`` drives local chromedriver instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from bench.plain_selenium import open_driver, run_test
from bench.throughput_suites import load_suites
from testfleet.suites.model import Suite, TestCase

# A benchmark harness, not application code: its whole configuration is these
# variables, set by bench_throughput for the subprocess.
_SUITES_DIR = os.environ.get("TESTFLEET_BENCH_SUITES", "")
_GRID_URL = os.environ.get("TESTFLEET_BENCH_GRID_URL", "")
_GRID_AUTH = os.environ.get("TESTFLEET_BENCH_GRID_AUTH", "")
"""``user:password`` of the Grid router."""
_DEMO_URL = os.environ.get("DEMO_URL", "")


def _cases() -> list[tuple[Suite, TestCase]]:
    if not _SUITES_DIR:
        return []
    suites = load_suites(Path(_SUITES_DIR), _DEMO_URL)
    return [(suite, test) for suite in suites for test in suite.tests]


_CASES = _cases()


@pytest.fixture
def driver() -> Iterator[WebDriver]:
    """A new browser for every test, always quit: the textbook conftest fixture."""
    user, _, password = _GRID_AUTH.partition(":")
    browser = open_driver(_GRID_URL or None, auth=(user, password) if _GRID_AUTH else None)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.mark.parametrize(("suite", "test"), _CASES, ids=[f"{s.name}/{t.name}" for s, t in _CASES])
def test_bench_case(driver: WebDriver, suite: Suite, test: TestCase) -> None:
    run_test(driver, suite, test)
