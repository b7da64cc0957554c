"""A real Selenium Grid (hub + node from the cached server jar) driving real Chromium.

Needs java, the jar (``make setup``), chromium and chromedriver. Every test
checks that what it started is gone afterwards: no java, chromedriver or
Chromium left behind.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.selenium_manager import SeleniumManager
from selenium.webdriver.remote.webdriver import WebDriver

from grid.launcher import browser_tmp_dir, stop_group
from grid.provider import GridProvider, LocalProvider, browser
from testfleet.errors import InfrastructureError
from testfleet.fleet.gridstatus import read_capacity, wait_until_ready
from testfleet.settings import Settings
from tests.fixtures_grid import (
    REPO_ROOT,
    grid_env,
    grid_leftovers,
    grid_test_settings,
    leftover_processes,
    running_demosite,
    running_grid,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.grid, pytest.mark.browser]

LOGIN_TITLE = "Sign in - testfleet demo"


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    with running_demosite() as url:
        yield url


@pytest.fixture(scope="module")
def grid_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = grid_test_settings(tmp_path_factory.mktemp("grid"), max_sessions=2)
    with running_grid(settings):
        yield settings
    assert grid_leftovers(settings) == []


def test_session_through_hub_and_node(grid_settings: Settings, site_url: str) -> None:
    url, auth = grid_settings.grid.url, grid_settings.security.grid_credentials
    assert read_capacity(url, auth=auth).free_slots == 2
    provider = GridProvider(grid_settings)
    driver = provider.open()
    try:
        driver.get(f"{site_url}/login")
        assert driver.title == LOGIN_TITLE
        assert driver.get_window_size() == {"width": 1280, "height": 800}
        capacity = read_capacity(url, auth=auth)
        assert (capacity.total_slots, capacity.free_slots, capacity.nodes_up) == (2, 1, 1)
    finally:
        provider.close(driver)
    wait_until("the slot is free again", lambda: read_capacity(url, auth=auth).free_slots == 2, 15)


def test_requests_queue_while_every_slot_is_busy(grid_settings: Settings, site_url: str) -> None:
    url, auth = grid_settings.grid.url, grid_settings.security.grid_credentials
    provider = GridProvider(grid_settings)
    first, second = provider.open(), provider.open()
    queued: list[WebDriver] = []
    waiter = threading.Thread(target=lambda: queued.append(provider.open()))
    try:
        waiter.start()
        wait_until(
            "the third request queues", lambda: read_capacity(url, auth=auth).queue_size == 1, 15
        )
        assert read_capacity(url, auth=auth).free_slots == 0
        provider.close(first)
        waiter.join(timeout=30)
        assert not waiter.is_alive()
        [third] = queued
        third.get(f"{site_url}/")
        assert third.title == "Home - testfleet demo"
        assert read_capacity(url, auth=auth).queue_size == 0
    finally:
        waiter.join(timeout=60)
        for driver in (first, second, *queued):
            provider.close(driver)  # closing twice is harmless
    wait_until(
        "every slot is free again", lambda: read_capacity(url, auth=auth).free_slots == 2, 15
    )


def test_chromium_on_a_root_node_runs_as_the_browser_user_in_its_sandbox(
    grid_settings: Settings,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only a node running as root hands Chromium to another user")
    user = grid_settings.security.browser_user
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        pytest.fail(f"no user {user}: `make setup` (as root) creates it")
    provider = GridProvider(grid_settings)
    with browser(provider) as driver:
        driver.get("about:blank")
        renderers = [
            Path(f"/proc/{line.split()[0]}/status").read_text()
            for line in grid_leftovers(grid_settings)
            if "--type=renderer" in line
        ]
    assert renderers
    for status in renderers:
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        assert fields["Uid"].split()[0] == str(uid), "renderers run as the browser user"
        assert fields["Seccomp"] == "2", "renderers run under a seccomp filter"
        assert len(fields["NSpid"].split()) > 1, "renderers have a PID namespace of their own"


def test_close_never_raises_on_a_dead_session(grid_settings: Settings) -> None:
    provider = GridProvider(grid_settings)
    with browser(provider) as driver:
        driver.quit()  # the session is gone before the provider closes it


def test_no_grid_says_how_to_start_one(tmp_path: Path) -> None:
    settings = grid_test_settings(tmp_path)  # nothing listens on these ports
    with pytest.raises(InfrastructureError, match=r"no Selenium Grid at .*run `testfleet up`"):
        GridProvider(settings).open()


def test_local_provider_session_and_cleanup(site_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_downloads(*args: object) -> None:
        raise AssertionError("Selenium Manager must not run: it downloads drivers")

    monkeypatch.setattr(SeleniumManager, "binary_paths", no_downloads)
    provider = LocalProvider(Settings())
    driver = provider.open()
    service = getattr(driver, "service")  # noqa: B009 - Chrome has it, WebDriver does not
    pgid = service.process.pid
    tmp = service.env["TMPDIR"]
    try:
        driver.get(f"{site_url}/login")
        assert driver.title == LOGIN_TITLE
        assert leftover_processes(tmp), "chromedriver and Chromium run with their own TMPDIR"
    finally:
        provider.close(driver)
    wait_until("chromedriver's process group is gone", lambda: not _group_alive(pgid), 15)
    assert leftover_processes(tmp) == []
    assert not Path(tmp).exists()


def test_local_close_after_the_browser_was_killed() -> None:
    provider = LocalProvider(Settings())
    driver = provider.open()
    service = getattr(driver, "service")  # noqa: B009
    pgid, tmp = service.process.pid, service.env["TMPDIR"]
    os.killpg(pgid, signal.SIGKILL)
    service.process.wait(timeout=10)
    provider.close(driver)
    wait_until("nothing of the session is left", lambda: leftover_processes(tmp) == [], 15)
    assert not Path(tmp).exists()


def test_main_forwards_sigterm_and_leaves_no_browser_behind(tmp_path: Path) -> None:
    """``testfleet grid standalone`` (``launcher.main``) stopped with a session open."""
    settings = grid_test_settings(tmp_path)
    state_dir = settings.paths.state_dir
    env = {
        **os.environ,
        **grid_env(settings),
        "PYTHONPATH": str(REPO_ROOT),
        "TESTFLEET_PATHS__STATE_DIR": str(state_dir),
    }
    code = (
        "import sys; from grid.launcher import main; from testfleet.settings import Settings; "
        "sys.exit(main('standalone', Settings()))"
    )
    log = (tmp_path / "standalone.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    provider = GridProvider(settings)
    try:
        wait_until_ready(
            settings.grid.url,
            90,
            alive=lambda: process.poll() is None,
            auth=settings.security.grid_credentials,
        )
        driver = provider.open()  # left open on purpose: stopping the Grid must end it
        assert driver.title == ""
        browsers = [p for p in grid_leftovers(settings) if "chrom" in p]
        assert browsers, "chromedriver and Chromium run under the standalone's TMPDIR"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        provider.close(driver)  # the Grid is gone: must not raise
    finally:
        stop_group(process)
        log.close()
    assert grid_leftovers(settings) == []
    assert not browser_tmp_dir(settings, "standalone").exists()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
