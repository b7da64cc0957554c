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


# --- warm spares (grid.pool_spares) -------------------------------------------------------


class Spares(Handing):
    """``Handing``, whose opens after the first ``free`` wait for ``gate`` (a spare opening
    in the background) and then raise ``error`` when one is set."""

    def __init__(self, free: int = 1) -> None:
        super().__init__()
        self.free = free
        self.asked = 0
        self.gate = threading.Event()
        self.error: Exception | None = None

    def open(self, project: str = "") -> WebDriver:
        self.asked += 1
        if self.asked > self.free:
            assert self.gate.wait(10), "the test never let the spare open"
            if self.error is not None:
                raise self.error
        return super().open(project)


def with_spares(provider: Handing, resets: Resets | None = None, **grid: object) -> SessionPool:
    settings = Settings(grid=GridSettings.model_validate({"pool_spares": 1, **grid}))
    return SessionPool(provider, settings, reset=resets or Resets())


def test_a_spare_opens_in_the_background_not_on_the_tests_path() -> None:
    provider = Spares()
    pool = with_spares(provider)
    first = pool.open("alpha")  # returns while the spare's open is still held back
    wait_until("the spare is being opened", lambda: provider.asked == 2, 10)
    assert (provider.opened, pool.idle) == ([first], 0)
    provider.gate.set()
    pool.wait_for_spares()
    assert (pool.idle, pool.stats.spares_opened, pool.stats.opened) == (1, 1, 1)
    assert len(provider.opened) == 2


def test_the_next_lend_takes_the_ready_spare_while_the_returned_one_resets() -> None:
    provider, resets = Spares(), Resets()
    provider.gate.set()
    pool = with_spares(provider, resets)
    first = pool.open("alpha")
    pool.wait_for_spares()
    spare = provider.opened[1]
    resets.gate.clear()  # the returned session's reset is still under way...
    pool.close(first)
    assert pool.open("alpha") is spare, "...so the spare is lent, not the un-reset session"
    assert pool.stats.waited_for_reset == 0
    assert resets.done == []
    assert len(provider.opened) == 2, "two sessions of alpha held: no more spares"
    resets.gate.set()
    pool.wait_for_resets()
    pool.close(spare)
    assert pool.open("alpha") is first, "reset meanwhile: lent again"
    assert resets.done == [first]
    assert (pool.stats.waited_for_reset, handing_quit(provider)) == (0, [])


def handing_quit(provider: Handing) -> list[str]:
    return [str(driver.session_id) for driver in provider.quit]


def test_a_spare_never_serves_another_project() -> None:
    provider = Spares()
    provider.gate.set()
    pool = with_spares(provider)
    alpha = pool.open("alpha")
    pool.wait_for_spares()
    alpha_spare = provider.opened[1]
    pool.close(alpha)
    beta = pool.open("beta")
    assert beta not in (alpha, alpha_spare)
    pool.close(beta)
    pool.wait_for_spares()
    assert pool.open("alpha") in (alpha, alpha_spare)


def test_no_spare_ever_serves_two_projects() -> None:
    rng = random.Random(4321)
    provider = Spares()
    provider.gate.set()
    pool = with_spares(provider, pool_size=2)
    served: dict[int, set[str]] = {}
    lent: list[WebDriver] = []
    for _ in range(500):
        if lent and (len(lent) == 2 or rng.random() < 0.5):
            pool.close(lent.pop(rng.randrange(len(lent))))
            continue
        if rng.random() < 0.5:
            pool.wait_for_spares()
        project = rng.choice(["alpha", "beta", "gamma"])
        driver = pool.open(project)
        served.setdefault(id(driver), set()).add(project)
        lent.append(driver)
    assert all(len(projects) == 1 for projects in served.values())
    # A spare takes a free slot only (it never quits another project's session), so with
    # three projects on three slots few are opened; the affinity holds for them too.
    assert pool.stats.spares_opened >= 1, "spares were opened and joined the pool"
    pool.shutdown()
    assert sorted(handing_quit(provider)) == sorted(str(d.session_id) for d in provider.opened)


def test_shutdown_quits_a_spare_still_opening() -> None:
    provider = Spares()
    pool = with_spares(provider, pool_spares=2)
    first = pool.open("alpha")
    # One spare opens at a time: the first is under way, the second waits its turn.
    wait_until("the first spare's open has started", lambda: provider.asked == 2, 10)
    closing = threading.Thread(target=pool.shutdown)
    closing.start()
    queued = pool._opening[1].opening  # the pool's own record of the second spare
    wait_until("shutdown cancels the spare not yet started", queued.cancelled, 10)
    assert closing.is_alive(), "shutdown waits for the spare being opened"
    provider.gate.set()
    closing.join(10)
    assert not closing.is_alive()
    assert len(provider.opened) == 2, "the queued spare never opened"
    assert set(provider.quit) == {first, provider.opened[1]}, "the late spare is quit, not leaked"
    assert pool.idle == 0


def test_a_spare_that_fails_to_open_is_not_raised_and_is_asked_for_again() -> None:
    provider = Spares()
    provider.error = not_created()
    provider.gate.set()
    pool = with_spares(provider)
    first = pool.open("alpha")
    pool.wait_for_spares()
    assert (pool.stats.spares_failed, pool.stats.spares_opened) == (1, 0)
    pool.close(first)
    assert pool.open("alpha") is first, "the test runs on the pooled session"
    pool.wait_for_spares()
    assert (provider.asked, pool.stats.spares_failed) == (3, 2), "asked again at the next lend"
    provider.error = None
    pool.close(first)
    assert pool.open("alpha") is first
    pool.wait_for_spares()
    assert (pool.stats.spares_opened, pool.idle) == (1, 1)


def test_a_lend_with_nothing_idle_waits_for_the_spare_opening() -> None:
    provider = Spares()
    pool = with_spares(provider, pool_max_uses=1)
    first = pool.open("alpha")
    pool.close(first)  # served its one test: quit at the next lend, not lent
    lent: list[WebDriver] = []
    lender = threading.Thread(target=lambda: lent.append(pool.open("alpha")))
    lender.start()
    wait_until("the lend waits for the spare", lambda: pool.stats.waited_for_spare == 1, 10)
    assert lent == []
    provider.gate.set()
    lender.join(10)
    assert lent == [provider.opened[1]], "the spare, not a third session beside it"
    assert provider.quit == [first]
    assert pool.stats.opened == 1


def test_pool_spares_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTFLEET_GRID__POOL_SPARES", "1")
    assert Settings().grid.pool_spares == 1
    assert GridSettings().pool_spares == 0, "off unless asked for"
    with pytest.raises(ValueError, match="pool_spares"):
        GridSettings(pool_spares=-1)
