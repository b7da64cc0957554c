"""The throughput benchmark's Playwright baseline, on the machine's Chromium and the demo site.

A fair comparison needs Playwright to really run the bench tests: every one
passes in a fresh context, a broken expectation fails with the step named, and
the context really isolates (the storage test that fails in a reused page
passes in the next fresh context).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from bench.playwright_runner import LAUNCH_ARGS, PlaywrightStepFailed, run_playwright, run_test
from bench.throughput_suites import load_suites, write_suites
from testfleet.settings import GridSettings
from tests.fixtures_grid import running_demosite

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with running_demosite() as url:
        yield url


def test_every_bench_test_passes_in_two_playwright_workers(site: str, tmp_path: Path) -> None:
    tests = write_suites(tmp_path / "suites", per_template=1)
    write_suites(tmp_path / "warmup", per_template=1, prefix="Warm-up ", kinds=1)
    result = run_playwright(tmp_path / "suites", tmp_path / "warmup", site, processes=2)
    assert (result.tests, result.failed) == (tests, [])
    assert len(result.reset_ms) == tests, "a fresh context per test"


def test_a_fresh_context_isolates_and_a_failure_names_its_step(site: str, tmp_path: Path) -> None:
    write_suites(tmp_path)
    tests = {t.name: (s, t) for s in load_suites(tmp_path, site) for t in s.tests}
    grid = GridSettings()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(grid.chromium_binary), args=list(LAUNCH_ARGS)
        )
        try:
            context = browser.new_context()
            page = context.new_page()
            run_test(page, *tests["home links to /storage"])
            with pytest.raises(PlaywrightStepFailed, match=r"step 3 \(assert text #cookie-state"):
                run_test(page, *tests["storage starts empty (1)"])
            context.close()
            context = browser.new_context()
            run_test(context.new_page(), *tests["storage starts empty (1)"])
            context.close()
        finally:
            browser.close()
