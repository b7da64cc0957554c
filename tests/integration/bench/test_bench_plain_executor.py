"""The throughput benchmark's plain-Selenium executor, on a real Grid and the real demo site.

The baselines are only a fair comparison if they really run the bench tests:
a bench test passes through them on the Grid, a reused browser is reset between
tests, and a broken expectation fails with the step named.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.plain_selenium import PlainStepFailed, open_driver, reset_browser, run_test
from bench.throughput_suites import load_suites, write_suites
from tests.fixtures_grid import grid_test_settings, running_demosite, running_grid

pytestmark = [pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def grid_and_site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, tuple[str, str] | None]]:
    settings = grid_test_settings(tmp_path_factory.mktemp("bench-grid"))
    with running_demosite() as site, running_grid(settings) as grid_url:
        yield grid_url, site, settings.security.grid_credentials


def test_bench_tests_pass_on_the_grid_with_a_reset_between(
    grid_and_site: tuple[str, str, tuple[str, str] | None], tmp_path: Path
) -> None:
    grid_url, site, auth = grid_and_site
    write_suites(tmp_path)
    tests = {t.name: (s, t) for s in load_suites(tmp_path, site) for t in s.tests}
    shots = tmp_path / "shots"
    shots.mkdir()
    driver = open_driver(grid_url, auth=auth)
    try:
        run_test(driver, *tests["checkout teapot with Express shipping"])
        run_test(driver, *tests["slow page after 100 ms"], screenshot_dir=shots)
        # Visiting /storage leaves a cookie and localStorage behind: without a
        # reset the next storage test must fail, so the executor really checks ...
        run_test(driver, *tests["home links to /storage"])
        with pytest.raises(PlainStepFailed, match=r"step 3 \(assert text #cookie-state"):
            run_test(driver, *tests["storage starts empty (1)"])
        # ... and after the reset the hand-tuned runner does, it passes.
        run_test(driver, *tests["home links to /storage"])
        reset_browser(driver)
        run_test(driver, *tests["storage starts empty (1)"])
    finally:
        driver.quit()
    assert [p.suffix for p in shots.iterdir()] == [".png"]
