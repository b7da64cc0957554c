"""The session pool on a real Grid: reuse, reset between tests, health, recycling, shutdown."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from grid.pool import SessionPool
from grid.provider import GridProvider
from testfleet.gridstatus import read_capacity
from testfleet.settings import Settings
from tests.fixtures_grid import free_port, grid_test_settings, running_demosite, running_grid
from tests.waiting import wait_until

pytestmark = [pytest.mark.grid, pytest.mark.browser]


@pytest.fixture(scope="module")
def site_port() -> Iterator[int]:
    port = free_port()
    with running_demosite(port):
        yield port


@pytest.fixture(scope="module")
def origins(site_port: int) -> tuple[str, str]:
    """Two origins of the same demo site: another host name is another origin."""
    return f"http://127.0.0.1:{site_port}", f"http://localhost:{site_port}"


@pytest.fixture(scope="module")
def grid_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = grid_test_settings(tmp_path_factory.mktemp("pool"), max_sessions=2)
    with running_grid(settings, standalone=True):
        yield settings


def with_grid(settings: Settings, **grid: object) -> Settings:
    return settings.model_copy(update={"grid": settings.grid.model_copy(update=grid)})


@pytest.fixture
def pool(grid_settings: Settings) -> Iterator[SessionPool]:
    pool = SessionPool(GridProvider(grid_settings), grid_settings)
    yield pool
    pool.shutdown()


def storage_state(driver: WebDriver, origin: str) -> dict[str, str]:
    """What the demo's /storage page says this browser remembered on ``origin``."""
    driver.get(f"{origin}/storage")
    WebDriverWait(driver, 10).until(
        expected_conditions.visibility_of_element_located((By.ID, "storage-ready"))
    )
    return {
        kind: driver.find_element(By.ID, f"{kind}-state").text
        for kind in ("cookie", "local", "session")
    }


def test_second_test_sees_nothing_of_the_first(pool: SessionPool, origins: tuple[str, str]) -> None:
    first = pool.open()
    session_id = first.session_id
    for origin in origins:
        assert set(storage_state(first, origin).values()) == {"new"}
        # Visited twice: every store now remembers us, so a leak would show.
        assert set(storage_state(first, origin).values()) == {"returning"}
    first.execute_script("window.open(arguments[0] + '/storage');", origins[0])
    first.set_window_size(640, 480)
    first.execute_script("setTimeout(() => alert('left open'), 0);")
    WebDriverWait(first, 5).until(expected_conditions.alert_is_present())
    pool.close(first)

    second = pool.open()
    assert second.session_id == session_id, pool.stats.reasons
    assert len(second.window_handles) == 1
    assert second.current_url == "about:blank"
    assert second.execute_script("return [innerWidth, innerHeight];") == [1280, 800]
    for origin in origins:
        assert storage_state(second, origin) == {
            "cookie": "new",
            "local": "new",
            "session": "new",
        }, origin
    pool.close(second)
    assert pool.stats.opened == 1
    assert pool.stats.lent_reused == 1


def test_a_session_goes_back_to_its_own_project_only(
    pool: SessionPool, origins: tuple[str, str]
) -> None:
    alpha = pool.open("alpha")
    alpha_id = alpha.session_id
    assert set(storage_state(alpha, origins[0]).values()) == {"new"}
    pool.close(alpha)

    beta = pool.open("beta")
    assert beta.session_id != alpha_id, "beta never gets the browser alpha used"
    assert pool.stats.other_project == 1, "alpha's idle session made room (pool_size 1)"
    assert set(storage_state(beta, origins[0]).values()) == {"new"}
    pool.close(beta)

    again = pool.open("beta")
    assert again.session_id == beta.session_id, "one project keeps its pooled session"
    pool.close(again)
    assert pool.open("alpha").session_id not in (alpha_id, beta.session_id)
    assert pool.stats.lent_reused == 1


def test_a_dead_session_is_replaced_not_lent(pool: SessionPool, origins: tuple[str, str]) -> None:
    driver = pool.open()
    pool.close(driver)
    driver.quit()  # dies while idle in the pool (the node's session timeout, a crash)
    again = pool.open()
    try:
        assert again.session_id != driver.session_id
        again.get(f"{origins[0]}/storage")
        assert pool.stats.replaced == 1
        assert pool.stats.reasons[0].startswith("failed its health check: InvalidSession")
    finally:
        pool.close(again)


def test_a_session_that_died_under_its_test_is_replaced(pool: SessionPool) -> None:
    driver = pool.open()
    driver.quit()  # died under the test
    pool.close(driver)
    again = pool.open()
    try:
        assert again.session_id != driver.session_id
        assert again.execute_script("return 1;") == 1
        assert pool.idle == 0
        assert pool.stats.replaced == 1
        assert pool.stats.opened == 2
    finally:
        pool.close(again)


def test_recycled_after_max_uses(grid_settings: Settings) -> None:
    settings = with_grid(grid_settings, pool_max_uses=2)
    pool = SessionPool(GridProvider(settings), settings)
    try:
        ids = []
        for _ in range(3):
            driver = pool.open()
            ids.append(driver.session_id)
            pool.close(driver)
        assert ids[0] == ids[1] != ids[2]
        assert pool.stats.recycled == 1
        assert pool.stats.reasons == ["recycled after 2 tests"]
    finally:
        pool.shutdown()


def test_recycled_after_max_age(grid_settings: Settings) -> None:
    now = [1000.0]
    settings = with_grid(grid_settings, pool_max_age_s=60)
    pool = SessionPool(GridProvider(settings), settings, clock=lambda: now[0])
    try:
        driver = pool.open()
        pool.close(driver)
        now[0] += 61
        fresh = pool.open()
        assert fresh.session_id != driver.session_id
        assert pool.stats.reasons == ["recycled after 61 s"]
        pool.close(fresh)
    finally:
        pool.shutdown()


def test_shutdown_quits_every_session_and_frees_the_slots(grid_settings: Settings) -> None:
    settings = with_grid(grid_settings, pool_size=2)
    pool = SessionPool(GridProvider(settings), settings)
    url = settings.grid.url
    first, second = pool.open(), pool.open()
    pool.close(first)  # one idle, one still lent
    assert read_capacity(url, auth=settings.security.grid_credentials).free_slots == 0
    pool.shutdown()
    wait_until(
        "both slots are free",
        lambda: read_capacity(url, auth=settings.security.grid_credentials).free_slots == 2,
        15,
    )
    assert pool.idle == 0
    assert second.session_id is not None


def test_a_pool_refuses_use_from_another_process(pool: SessionPool) -> None:
    pool._pid = -1  # as if this process were a fork of the one that made it
    with pytest.raises(RuntimeError, match="forked process"):
        pool.open()
    pool._pid = os.getpid()
