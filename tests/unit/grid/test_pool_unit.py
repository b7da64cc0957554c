"""The pool's decisions without a browser: open retries, settings, the provider seam."""

from __future__ import annotations

import os
import random
import threading
from concurrent.futures import Executor
from typing import cast

import pytest
from selenium.common.exceptions import SessionNotCreatedException, WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from grid.pool import OPEN_ATTEMPTS, SessionPool, make_pooled_provider
from grid.provider import GridProvider, LocalProvider
from testfleet.artifacts import ArtifactStore
from testfleet.errors import BrowserError, InfrastructureError
from testfleet.fleet import browser
from testfleet.fleet.browser import command_timeout_s, load_provider
from testfleet.settings import GridSettings, Settings
from testfleet.store import RunStore
from tests.waiting import wait_until


class FailingProvider:
    """Fails ``failures`` opens with ``error``, then hands out a placeholder driver."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error = error
        self.failures = failures
        self.opens = 0

    def open(self, project: str = "") -> WebDriver:
        self.opens += 1
        if self.opens <= self.failures:
            raise self.error
        return cast(WebDriver, object())

    def close(self, driver: WebDriver) -> None:
        pass

    def healthy(self, driver: WebDriver) -> bool:
        return True

    def shutdown(self) -> None:
        pass


def not_created() -> BrowserError:
    error = BrowserError("the Grid could not start Chrome")
    error.__cause__ = SessionNotCreatedException("session not created")
    return error


def test_a_browser_that_failed_to_start_is_tried_once_more() -> None:
    provider = FailingProvider(not_created(), failures=1)
    pool = SessionPool(provider, Settings())
    assert pool.open() is not None
    assert provider.opens == 2
    assert pool.stats.opened == 1


def test_the_retry_is_bounded() -> None:
    provider = FailingProvider(not_created(), failures=OPEN_ATTEMPTS)
    with pytest.raises(BrowserError, match="could not start Chrome"):
        SessionPool(provider, Settings()).open()
    assert provider.opens == OPEN_ATTEMPTS


@pytest.mark.parametrize(
    "error",
    [BrowserError("no browser within 60 s"), InfrastructureError("no Selenium Grid")],
)
def test_queue_timeouts_and_a_missing_grid_are_not_retried(error: Exception) -> None:
    provider = FailingProvider(error, failures=1)
    with pytest.raises(type(error)):
        SessionPool(provider, Settings()).open()
    assert provider.opens == 1


def test_pool_size_zero_means_no_pool() -> None:
    assert isinstance(make_pooled_provider(Settings(grid=GridSettings(pool_size=0))), GridProvider)
    local = Settings(grid=GridSettings(pool_size=0, provider="local"))
    assert isinstance(load_provider(local), LocalProvider)
    assert isinstance(load_provider(Settings()), SessionPool)


def test_a_missing_grid_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "PROVIDER_FACTORY", "no_such_grid_pkg:make")
    with pytest.raises(InfrastructureError, match="install testfleet with its grid package"):
        load_provider(Settings())


def test_command_timeout_covers_the_longest_step() -> None:
    settings = Settings(grid=GridSettings(command_timeout_s=20))
    assert command_timeout_s(settings, 10) == 20
    assert command_timeout_s(settings, 60) == 65


def test_a_pool_child_quits_its_browsers_when_it_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    from celery.signals import worker_process_shutdown

    from workers import tasks

    class Recording(FailingProvider):
        shut = 0

        def shutdown(self) -> None:
            self.shut += 1

    provider = Recording(InfrastructureError("unused"), failures=0)
    resources = tasks._Resources(
        pid=os.getpid(),
        settings=Settings(),
        store=cast(RunStore, None),
        provider=provider,
        artifacts=cast(ArtifactStore, None),
    )
    monkeypatch.setattr(tasks, "_resources", resources)
    worker_process_shutdown.send(sender=None, pid=os.getpid(), exitcode=0)
    assert provider.shut == 1
    monkeypatch.setattr(resources, "pid", -1)  # inherited from a parent: not this child's
    worker_process_shutdown.send(sender=None, pid=os.getpid(), exitcode=0)
    assert provider.shut == 1


# --- sessions belong to one project ------------------------------------------------------


class Handing:
    """Hands out fresh placeholder drivers and remembers which were quit."""

    def __init__(self) -> None:
        self.opened: list[WebDriver] = []
        self.quit: list[WebDriver] = []
        self.checks = 0

    def open(self, project: str = "") -> WebDriver:
        fields = {"session_id": f"s{len(self.opened)}", "command_executor": None}
        driver = cast(WebDriver, type("Driver", (), fields)())
        self.opened.append(driver)
        return driver

    def close(self, driver: WebDriver) -> None:
        self.quit.append(driver)

    def healthy(self, driver: WebDriver) -> bool:
        self.checks += 1
        return True

    def shutdown(self) -> None:
        pass


@pytest.fixture
def handing(monkeypatch: pytest.MonkeyPatch) -> Handing:
    # The reset needs a browser; here it only has to succeed.
    monkeypatch.setattr("grid.pool.reset_session", lambda *args: None)
    return Handing()


def pool_of(provider: Handing, size: int) -> SessionPool:
    return SessionPool(provider, Settings(grid=GridSettings(pool_size=size)))


def test_one_project_keeps_reusing_its_session(handing: Handing) -> None:
    pool = pool_of(handing, 1)
    first = pool.open("alpha")
    for _ in range(5):
        pool.close(first)
        assert pool.open("alpha") is first
    assert (len(handing.opened), handing.quit, pool.stats.lent_reused) == (1, [], 5)


def test_another_projects_case_never_gets_the_session(handing: Handing) -> None:
    pool = pool_of(handing, 1)
    alpha = pool.open("alpha")
    pool.close(alpha)
    beta = pool.open("beta")
    assert beta is not alpha
    assert handing.quit == [alpha], "the pool is full: alpha's idle session makes room"
    pool.close(beta)
    again = pool.open("alpha")
    assert again not in (alpha, beta)
    assert handing.quit == [alpha, beta]
    assert pool.stats.other_project == 2


def test_a_larger_pool_keeps_each_projects_session(handing: Handing) -> None:
    pool = pool_of(handing, 2)
    alpha = pool.open("alpha")
    pool.close(alpha)
    beta = pool.open("beta")
    pool.close(beta)
    assert (pool.open("alpha"), handing.quit) == (alpha, [])
    assert pool.open("beta") is beta


def test_no_session_ever_serves_two_projects(handing: Handing) -> None:
    rng = random.Random(1234)
    pool = pool_of(handing, 2)
    served: dict[int, set[str]] = {}
    lent: list[WebDriver] = []
    for _ in range(500):
        if lent and (len(lent) == 2 or rng.random() < 0.5):
            pool.close(lent.pop(rng.randrange(len(lent))))
            continue
        project = rng.choice(["alpha", "beta", "gamma"])
        driver = pool.open(project)
        served.setdefault(id(driver), set()).add(project)
        lent.append(driver)
    assert all(len(projects) == 1 for projects in served.values())
    assert pool.stats.lent_reused > 100, "the pool still reuses sessions"


# --- the reset at give-back ---------------------------------------------------------------


class Resets:
    """A reset that records what it reset, fails when told to, and can be held back."""

    def __init__(self) -> None:
        self.done: list[WebDriver] = []
        self.error: Exception | None = None
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, driver: WebDriver, width: int, height: int, parallel: Executor) -> None:
        assert self.gate.wait(10)
        if self.error is not None:
            raise self.error
        self.done.append(driver)


def test_a_session_is_reset_as_it_is_given_back(handing: Handing) -> None:
    resets = Resets()
    pool = SessionPool(handing, Settings(), reset=resets)
    driver = pool.open()
    pool.close(driver)
    pool.wait_for_resets()
    assert resets.done == [driver], "reset in the background, before any lend"
    assert pool.open() is driver
    assert resets.done == [driver], "and not again at lend"
    assert pool.stats.waited_for_reset == 0
    assert handing.checks == 1, "idle since its reset: checked before lending"


def test_a_lend_waits_for_a_reset_under_way(handing: Handing) -> None:
    resets = Resets()
    resets.gate.clear()
    pool = SessionPool(handing, Settings(), reset=resets)
    driver = pool.open()
    pool.close(driver)
    lent: list[WebDriver] = []
    lender = threading.Thread(target=lambda: lent.append(pool.open()))
    lender.start()
    wait_until("the lend waits for the reset", lambda: pool.stats.waited_for_reset == 1, 10)
    assert lent == []
    resets.gate.set()
    lender.join(10)
    assert lent == [driver]
    assert resets.done == [driver]
    assert handing.checks == 0, "the reset it waited for has just proved the session alive"


def test_reset_at_lend_when_configured(handing: Handing) -> None:
    resets = Resets()
    settings = Settings(grid=GridSettings(pool_reset="lend"))
    pool = SessionPool(handing, settings, reset=resets)
    driver = pool.open()
    pool.close(driver)
    assert resets.done == []
    assert pool.open() is driver
    assert resets.done == [driver]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (WebDriverException("chrome not reachable"), "failed its health check: WebDriverException"),
        (RuntimeError("a bug"), "failed its reset: RuntimeError: a bug"),
    ],
)
def test_a_session_whose_reset_failed_is_replaced(
    handing: Handing, error: Exception, reason: str
) -> None:
    resets = Resets()
    resets.error = error
    pool = SessionPool(handing, Settings(), reset=resets)
    driver = pool.open()
    pool.close(driver)
    again = pool.open()
    assert again is not driver
    assert handing.quit == [driver]
    assert pool.stats.replaced == 1
    assert pool.stats.reasons[0].startswith(reason)


def test_a_session_that_fails_the_check_before_lending_is_replaced(
    handing: Handing, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = SessionPool(handing, Settings(), reset=Resets())
    driver = pool.open()
    pool.close(driver)
    pool.wait_for_resets()  # then idle: a browser may die meanwhile
    monkeypatch.setattr(handing, "healthy", lambda driver: False)
    assert pool.open() is not driver
    assert pool.stats.reasons == ["failed its health check before lending"]
