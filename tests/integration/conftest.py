"""Fixtures of the integration tests that run steps on the demo site through a real
Grid (steps, recordings, visual checks): one demo site, one Grid and one browser session
per test module, the session reset between its tests. A module that needs another
kind of ``site``, ``session`` or ``driver`` defines its own, which wins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from grid.provider import GridProvider
from grid.reset import reset_session
from tests.fixtures_grid import (
    grid_leftovers,
    grid_test_settings,
    running_demosite,
    running_grid,
)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The demo site on a free port."""
    with running_demosite() as url:
        yield url


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """One session on a Grid of the module's own (hub and node from the jar)."""
    settings = grid_test_settings(tmp_path_factory.mktemp("grid"), max_sessions=1)
    with running_grid(settings):
        provider = GridProvider(settings)
        driver = provider.open()
        try:
            yield driver
        finally:
            provider.close(driver)
    assert grid_leftovers(settings) == []


@pytest.fixture
def driver(session: WebDriver) -> Iterator[WebDriver]:
    """The module's session, reset after each test as the pool resets it."""
    yield session
    reset_session(session, 1280, 800)
