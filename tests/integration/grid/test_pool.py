"""The session pool on a real Grid: reuse, reset between tests, health, recycling, shutdown.

Isolation is checked against what a fresh Playwright context gives a test: no
cookie, Web Storage, IndexedDB, Cache Storage, service worker, HTTP cache entry
or permission override from the test before, on either of two origins. Each
check is shown to fail when the reset is switched off.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import Executor

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from grid.pool import ResetFn, SessionPool
from grid.provider import GridProvider
from grid.reset import cdp, reset_session
from testfleet.fleet.browser import known_viewport
from testfleet.fleet.gridstatus import read_capacity
from testfleet.settings import Settings
from tests.fixtures_grid import grid_test_settings, running_demosite, running_grid
from tests.waiting import wait_until

pytestmark = [pytest.mark.grid, pytest.mark.browser]


@pytest.fixture(scope="module")
def site_port() -> Iterator[int]:
    with running_demosite() as url:
        yield int(url.rsplit(":", 1)[1])


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


_ISOLATION_IDS = (
    "indexeddb-state",
    "cache-storage-state",
    "service-worker-state",
    "permission-state",
    "http-cache-stamp",
)


def isolation_state(driver: WebDriver, origin: str) -> dict[str, str]:
    """What the demo's /isolation page says this browser remembered on ``origin``."""
    driver.get(f"{origin}/isolation")

    def settled(d: WebDriver) -> bool:
        error = d.find_element(By.ID, "isolation-error").text
        assert not error, f"the /isolation page failed: {error}"
        return d.find_element(By.ID, "isolation-ready").is_displayed()

    WebDriverWait(driver, 10).until(settled)
    return {key: driver.find_element(By.ID, key).text for key in _ISOLATION_IDS}


def remembered(driver: WebDriver, origin: str) -> dict[str, str]:
    return {**storage_state(driver, origin), **isolation_state(driver, origin)}


def leave_everything_behind(
    driver: WebDriver, origins: tuple[str, str]
) -> dict[str, dict[str, str]]:
    """A first test that leaves something in every store on both origins (and grants
    one a permission); returns what a fresh browser showed on each origin."""
    fresh = {}
    for origin in origins:
        fresh[origin] = remembered(driver, origin)
        assert {v for k, v in fresh[origin].items() if k.endswith("state")} <= {
            "new",
            "prompt",
            "denied",
        }, fresh[origin]
        grant = {"origin": origin, "permissions": ["notifications"]}
        cdp(driver, "Browser.grantPermissions", grant)
        # Visited twice: every store now remembers us, so a leak would show.
        assert leaks(fresh[origin], remembered(driver, origin)) == set(fresh[origin])
    return fresh


def leaks(fresh: dict[str, str], now: dict[str, str]) -> set[str]:
    """Which stores show what an earlier test left (``fresh``: a fresh browser's view)."""
    found = set()
    for key, value in now.items():
        if key == "http-cache-stamp":
            leaked = value == fresh[key]  # served from the cache, not the server
        elif key == "permission-state":
            leaked = value != fresh[key]
        else:
            leaked = value != "new"
        if leaked:
            found.add(key)
    return found


def test_second_test_sees_nothing_of_the_first(pool: SessionPool, origins: tuple[str, str]) -> None:
    first = pool.open()
    session_id = first.session_id
    fresh = leave_everything_behind(first, origins)
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
        assert leaks(fresh[origin], remembered(second, origin)) == set(), origin
    pool.close(second)
    assert pool.stats.opened == 1
    assert pool.stats.lent_reused == 1


def test_the_reset_passes_on_the_viewport_it_saw(
    pool: SessionPool, origins: tuple[str, str]
) -> None:
    driver = pool.open()
    assert known_viewport(driver) is None, "a new session: not seen yet, the executor checks"
    # A new session's window is its --window-size, frame included: the first reset sizes
    # it to the viewport; from then on each reset finds it right and says so.
    for _ in range(2):
        driver.get(f"{origins[0]}/storage")
        pool.close(driver)
        driver = pool.open()
    assert known_viewport(driver) == (1280, 800)
    assert driver.execute_script("return [innerWidth, innerHeight];") == [1280, 800]
    # The executor clears no implicit wait: nothing set one, and WebDriver's default is 0.
    assert driver.timeouts.implicit_wait == 0
    driver.set_window_size(640, 480)
    pool.close(driver)
    driver = pool.open()
    assert known_viewport(driver) is None, "resized back, not seen since: the executor checks"
    assert driver.execute_script("return [innerWidth, innerHeight];") == [1280, 800]
    pool.close(driver)


def _no_reset(driver: WebDriver, width: int, height: int, parallel: Executor) -> None:
    """The reset switched off."""


def test_every_isolation_check_fails_without_the_reset(
    grid_settings: Settings, origins: tuple[str, str]
) -> None:
    pool = SessionPool(GridProvider(grid_settings), grid_settings, reset=_no_reset)
    try:
        first = pool.open()
        fresh = leave_everything_behind(first, origins)
        pool.close(first)
        second = pool.open()
        assert second.session_id == first.session_id
        for origin in origins:
            assert leaks(fresh[origin], remembered(second, origin)) == set(fresh[origin]), origin
    finally:
        pool.shutdown()


def _gated(gates: dict[str, threading.Event], began: threading.Event) -> ResetFn:
    """The real reset, held back for the sessions in ``gates`` until their event is set."""

    def reset(driver: WebDriver, width: int, height: int, parallel: Executor) -> None:
        gate = gates.get(str(driver.session_id))
        if gate is not None:
            began.set()
            assert gate.wait(60), "the test never released the reset"
        reset_session(driver, width, height, parallel)

    return reset


def test_a_lend_waits_for_the_giveback_reset(
    grid_settings: Settings, origins: tuple[str, str]
) -> None:
    gates: dict[str, threading.Event] = {}
    began = threading.Event()
    pool = SessionPool(GridProvider(grid_settings), grid_settings, reset=_gated(gates, began))
    try:
        first = pool.open()
        gates[str(first.session_id)] = release = threading.Event()
        assert set(storage_state(first, origins[0]).values()) == {"new"}
        pool.close(first)
        wait_until("the give-back reset began", began.is_set, 30)
        lent: list[WebDriver] = []
        lender = threading.Thread(target=lambda: lent.append(pool.open()))
        lender.start()
        try:
            wait_until("the lend waits", lambda: pool.stats.waited_for_reset == 1, 30)
            assert not lent, "a session was lent before its reset was over"
        finally:
            release.set()
            lender.join(60)
        assert lent[0].session_id == first.session_id
        assert set(storage_state(lent[0], origins[0]).values()) == {"new"}
    finally:
        pool.shutdown()


def test_a_lend_takes_a_ready_session_over_one_still_resetting(
    grid_settings: Settings, origins: tuple[str, str]
) -> None:
    gates: dict[str, threading.Event] = {}
    began = threading.Event()
    settings = with_grid(grid_settings, pool_size=2)
    pool = SessionPool(GridProvider(settings), settings, reset=_gated(gates, began))
    try:
        slow, ready = pool.open(), pool.open()
        gates[str(slow.session_id)] = release = threading.Event()
        for driver in (slow, ready):
            assert set(storage_state(driver, origins[0]).values()) == {"new"}
        pool.close(ready)
        pool.wait_for_resets()
        pool.close(slow)
        wait_until("the slow reset began", began.is_set, 30)
        try:
            lent = pool.open()
            assert lent.session_id == ready.session_id
            assert pool.stats.waited_for_reset == 0
            assert set(storage_state(lent, origins[0]).values()) == {"new"}
        finally:
            release.set()
    finally:
        pool.shutdown()


def _failing_reset(driver: WebDriver, width: int, height: int, parallel: Executor) -> None:
    raise WebDriverException("chrome not reachable")


def test_a_failing_reset_replaces_the_session(
    grid_settings: Settings, origins: tuple[str, str]
) -> None:
    pool = SessionPool(GridProvider(grid_settings), grid_settings, reset=_failing_reset)
    try:
        first = pool.open()
        assert set(storage_state(first, origins[0]).values()) == {"new"}
        pool.close(first)
        second = pool.open()
        assert second.session_id != first.session_id
        assert set(storage_state(second, origins[0]).values()) == {"new"}
        assert pool.stats.replaced == 1
        assert pool.stats.reasons == [
            "failed its health check: WebDriverException: chrome not reachable"
        ]
    finally:
        pool.shutdown()


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
    pool.wait_for_resets()
    driver.quit()  # dies while idle in the pool, after its reset (a crash, the node's timeout)
    again = pool.open()
    try:
        assert again.session_id != driver.session_id
        again.get(f"{origins[0]}/storage")
        assert pool.stats.replaced == 1
        assert pool.stats.reasons == ["failed its health check before lending"]
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


# --- a warm spare (grid.pool_spares 1): the Grid's 2 slots hold a session and its spare ----


def grid_sessions(settings: Settings) -> int:
    return read_capacity(settings.grid.url, auth=settings.security.grid_credentials).busy_slots


def test_with_a_warm_spare_no_test_waits_for_a_reset(
    grid_settings: Settings, origins: tuple[str, str]
) -> None:
    settings = with_grid(grid_settings, pool_spares=1)
    gates: dict[str, threading.Event] = {}
    began = threading.Event()
    pool = SessionPool(GridProvider(settings), settings, reset=_gated(gates, began))
    try:
        first = pool.open()
        assert set(storage_state(first, origins[0]).values()) == {"new"}
        assert set(storage_state(first, origins[0]).values()) == {"returning"}, "it remembers"
        pool.wait_for_spares()  # the spare opened while the first test ran
        assert (pool.stats.spares_opened, grid_sessions(settings)) == (1, 2)
        # The first session's reset is held back for as long as the second test runs.
        gates[str(first.session_id)] = release = threading.Event()
        pool.close(first)
        wait_until("the first session's reset began", began.is_set, 30)
        try:
            second = pool.open()
            assert second.session_id != first.session_id, "the spare, not the un-reset one"
            assert set(storage_state(second, origins[0]).values()) == {"new"}
        finally:
            release.set()
        pool.wait_for_resets()  # as it does while the second test runs
        pool.close(second)
        third = pool.open()
        assert third.session_id == first.session_id, "reset meanwhile, lent again"
        assert set(storage_state(third, origins[0]).values()) == {"new"}
        assert pool.stats.waited_for_reset == 0
        assert (pool.stats.opened, pool.stats.spares_opened) == (1, 1), "two sessions in all"
    finally:
        pool.shutdown()
    wait_until("no session left on the Grid", lambda: grid_sessions(settings) == 0, 15)


class CountingProvider(GridProvider):
    """The Grid provider, counting the opens that have begun."""

    began = 0

    def open(self, project: str = "") -> WebDriver:
        self.began += 1
        return super().open(project)


def test_shutdown_quits_a_spare_still_opening(grid_settings: Settings) -> None:
    settings = with_grid(grid_settings, pool_spares=1)
    provider = CountingProvider(settings)
    pool = SessionPool(provider, settings)
    pool.open()
    wait_until("the spare's open began", lambda: provider.began == 2, 15)
    pool.shutdown()  # Chrome takes far longer to start than this line
    assert pool.idle == 0
    assert pool.stats.spares_opened == 1, "shutdown waited for the spare"
    wait_until("no session left on the Grid", lambda: grid_sessions(settings) == 0, 15)
