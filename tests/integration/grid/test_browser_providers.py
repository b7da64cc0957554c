"""One contract, two browser providers: the real Grid and this machine's chromedriver.

``ProviderContract`` holds the tests; each subclass says how to make its
provider (saq style). Both run real headless Chromium; the Grid one runs a real
Grid standalone from the cached server jar.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from grid.launcher import browser_tmp_dir
from grid.pool import SessionPool, make_pooled_provider
from grid.provider import GridProvider, LocalProvider
from testfleet.fleet.browser import BrowserProvider, load_provider
from testfleet.settings import Settings
from tests.fixtures_grid import (
    grid_test_settings,
    leftover_processes,
    running_demosite,
    running_grid,
)

pytestmark = [pytest.mark.grid, pytest.mark.browser]


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    with running_demosite() as url:
        yield url


@pytest.fixture(scope="module")
def grid_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = grid_test_settings(tmp_path_factory.mktemp("grid"), max_sessions=2)
    with running_grid(settings, standalone=True):
        yield settings


def kill_browser(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class ProviderContract:
    """What every ``BrowserProvider`` must do."""

    @pytest.fixture
    def provider(self) -> BrowserProvider:
        raise NotImplementedError

    def chromium_pids(self, driver: WebDriver) -> list[int]:
        """The session's Chromium browser processes (not chromedriver)."""
        raise NotImplementedError

    def test_opens_a_blank_live_session(self, provider: BrowserProvider, site_url: str) -> None:
        driver = provider.open()
        try:
            assert driver.current_url in ("about:blank", "data:,")  # a fresh Chrome shows data:,
            assert driver.get_window_size() == {"width": 1280, "height": 800}
            assert provider.healthy(driver)
            driver.get(f"{site_url}/login")
            assert driver.title == "Sign in - testfleet demo"
        finally:
            provider.close(driver)

    def test_a_quit_session_is_unhealthy_and_closes_quietly(
        self, provider: BrowserProvider
    ) -> None:
        driver = provider.open()
        driver.quit()
        assert not provider.healthy(driver)
        provider.close(driver)  # must not raise
        provider.shutdown()

    def test_a_killed_browser_is_unhealthy(self, provider: BrowserProvider) -> None:
        driver = provider.open()
        try:
            kill_browser(self.chromium_pids(driver))
            assert not provider.healthy(driver)
        finally:
            provider.close(driver)

    def test_two_sessions_share_nothing(self, provider: BrowserProvider, site_url: str) -> None:
        first = provider.open()
        try:
            first.get(f"{site_url}/storage")
            assert first.find_element("id", "local-state").text == "new"
        finally:
            provider.close(first)
        second = provider.open()
        try:
            second.get(f"{site_url}/storage")
            assert second.find_element("id", "cookie-state").text == "new"
            assert second.find_element("id", "local-state").text == "new"
        finally:
            provider.close(second)


def _main_chromium(marker: str) -> list[int]:
    """Chromium browser processes (not renderers, not chromedriver) whose env has ``marker``."""
    pids = []
    for line in leftover_processes(marker):
        pid, command = line.split(" ", 1)
        if "chromium" in command and "chromedriver" not in command and "--type=" not in command:
            pids.append(int(pid))
    return pids


class TestGridProvider(ProviderContract):
    @pytest.fixture
    def provider(self, grid_settings: Settings) -> BrowserProvider:
        return GridProvider(grid_settings)

    @pytest.fixture(autouse=True)
    def _settings(self, grid_settings: Settings) -> None:
        self.settings = grid_settings

    def chromium_pids(self, driver: WebDriver) -> list[int]:
        # The node's browsers share one TMPDIR; only this test's session runs now.
        return _main_chromium(str(browser_tmp_dir(self.settings, "standalone")))


class TestLocalProvider(ProviderContract):
    @pytest.fixture
    def provider(self) -> BrowserProvider:
        return LocalProvider(Settings())

    def chromium_pids(self, driver: WebDriver) -> list[int]:
        service = getattr(driver, "service")  # noqa: B009 - Chrome has it, WebDriver does not
        return _main_chromium(service.env["TMPDIR"])


class TestPooledGridProvider(TestGridProvider):
    """The pool keeps the contract too: a session it lends looks fresh."""

    @pytest.fixture
    def provider(self, grid_settings: Settings) -> Iterator[BrowserProvider]:
        pool = SessionPool(GridProvider(grid_settings), grid_settings)
        yield pool
        pool.shutdown()


def test_load_provider_honours_pool_size(grid_settings: Settings) -> None:
    assert isinstance(load_provider(grid_settings), SessionPool)  # pool_size 1 by default
    unpooled = grid_settings.model_copy(
        update={"grid": grid_settings.grid.model_copy(update={"pool_size": 0})}
    )
    assert isinstance(make_pooled_provider(unpooled), GridProvider)
    local = Settings().model_copy(
        update={"grid": Settings().grid.model_copy(update={"provider": "local", "pool_size": 0})}
    )
    assert isinstance(load_provider(local), LocalProvider)


def test_a_grid_provider_without_a_grid_needs_no_browser(tmp_path: Path) -> None:
    settings = grid_test_settings(tmp_path)
    assert isinstance(make_pooled_provider(settings), SessionPool)  # lazy: opens nothing yet
