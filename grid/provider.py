"""Browser providers: where a test's WebDriver session comes from.

``testfleet.fleet.browser.BrowserProvider`` is the seam between the step executor and
Selenium: ``open()`` returns a live ``WebDriver``, ``close()`` always gets rid of
it, ``healthy()`` asks whether a session still answers. Two implementations
(``grid.pool.SessionPool`` wraps either to reuse sessions):

- ``GridProvider``: ``webdriver.Remote`` against the Selenium Grid at
  ``settings.grid.url`` (the fleet's normal mode).
- ``LocalProvider``: ``webdriver.Chrome`` with this machine's chromedriver, no
  Grid (``TESTFLEET_GRID__PROVIDER=local``; tests and one-machine benchmarks).
  Which browser and driver: ``grid.driver``; none of its processes outlives the
  process that opened the session: ``testfleet.fleet.reaper``.

Neither ever runs Selenium Manager (chromedriver's path is given explicitly; only
a machine without any chromedriver fetches one, through ``grid.driver``). Selenium
and urllib3 exceptions raised while opening a session are translated here, into
``InfrastructureError`` / ``BrowserError`` messages that say what to do.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import urllib3.exceptions
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchDriverException,
    SessionNotCreatedException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.remote.webdriver import WebDriver

from grid import driver as local_driver
from grid import policy
from grid.chrome import chrome_options
from grid.sandbox import local_browser
from testfleet import logs
from testfleet.errors import BrowserError, InfrastructureError
from testfleet.fleet import reaper
from testfleet.fleet.browser import BrowserProvider, set_command_timeout
from testfleet.settings import Settings

log = logs.get_logger(__name__)

_MAX_MESSAGE = 400
_TMP_PREFIX = "testfleet-chrome-"

CONNECTIONS = 8
"""HTTP connections one session keeps open to the Grid: the pool's reset sends up to
``grid.pool.RESET_THREADS`` commands at once."""

QUIT_TIMEOUT_S = 10
"""Cap on the ``quit()`` request in ``close()``: a dead node must not hold a worker."""


@contextlib.contextmanager
def browser(provider: BrowserProvider) -> Iterator[WebDriver]:
    """A session for the ``with`` block, closed however the block ends."""
    driver = provider.open()
    try:
        yield driver
    finally:
        provider.close(driver)


def make_provider(settings: Settings) -> BrowserProvider:
    """The provider ``settings.grid.provider`` names."""
    if settings.grid.provider == "local":
        return LocalProvider(settings)
    return GridProvider(settings)


class GridProvider:
    """Sessions from a Selenium Grid (hub or standalone) at ``settings.grid.url``.

    Every HTTP request to the Grid, queueing for a slot included, is capped at
    ``grid.new_session_timeout_s`` seconds. The Chromium binary is the node's
    (its stereotype names it), so the same client works against official
    ``selenium/node-chrome`` containers.
    """

    def __init__(self, settings: Settings) -> None:
        self._grid = settings.grid
        self._credentials = settings.security.grid_credentials
        self._proxy = settings.security.browser_proxy
        self.url = settings.grid.url.rstrip("/")

    def open(self, project: str = "") -> WebDriver:
        timeout_s = math.ceil(self._grid.new_session_timeout_s)
        config = grid_client_config(self.url, self._credentials, timeout_s)
        try:
            driver = webdriver.Remote(
                command_executor=self.url,
                options=chrome_options(self._grid, include_binary=False, proxy=self._proxy),
                client_config=config,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            cause = getattr(exc, "reason", None) or exc
            if isinstance(cause, urllib3.exceptions.ReadTimeoutError):
                raise BrowserError(
                    f"no browser from the Grid at {self.url} within {timeout_s} s (every slot "
                    "busy, or the node is stuck): add browsers (`testfleet up --browsers N`) "
                    "or raise TESTFLEET_GRID__NEW_SESSION_TIMEOUT_S"
                ) from exc
            raise InfrastructureError(
                f"no Selenium Grid at {self.url} ({_message(cause)}): run `testfleet up` "
                "(or `testfleet grid standalone`), or point TESTFLEET_GRID__URL at a running Grid"
            ) from exc
        except WebDriverException as exc:
            message = _message(exc).lower()
            if "401" in message or "authoriz" in message:
                raise InfrastructureError(
                    f"the Grid at {self.url} refused our credentials: set the Grid's user "
                    "name and password (TESTFLEET_SECURITY__GRID_USERNAME / __GRID_PASSWORD) "
                    "to what its router was started with"
                ) from exc
            raise BrowserError(
                f"the Grid at {self.url} could not start Chrome: {_message(exc)}; "
                "see the Grid node's log (is a chrome node registered? `testfleet status`)"
            ) from exc
        # Queueing for a slot may take new_session_timeout_s; a command never should.
        set_command_timeout(driver, self._grid.command_timeout_s)
        return driver

    def close(self, driver: WebDriver) -> None:
        _quit(driver)

    def healthy(self, driver: WebDriver) -> bool:
        return is_healthy(driver, self._grid.health_check_timeout_s)

    def shutdown(self) -> None:
        """Nothing to do: every session this provider opened was closed by its user."""


class LocalProvider:
    """Sessions from this machine's chromedriver and Chromium, without a Grid.

    Each session has its own chromedriver (a free port) in its own process
    group, and its own ``TMPDIR``: Chromium leaves a ``org.chromium.Chromium.*``
    directory in its temp dir after every session, even on a clean ``quit()``.
    ``close()`` quits the browser, stops chromedriver, kills anything left in
    that group and the session's crash handlers (``testfleet.fleet.reaper``), and
    deletes the temp dir. If this process ends first, its guard kills them.
    """

    def __init__(self, settings: Settings) -> None:
        self._grid = settings.grid
        self._proxy = settings.security.browser_proxy
        # The fleet's URL policy, for these browsers only (grid.policy, grid.sandbox).
        installed = policy.ensure_installed(settings)
        overlay = installed if isinstance(installed, policy.PolicyOverlay) else None
        browser = local_driver.browser_binary(settings)
        if browser != settings.grid.chromium_binary:
            grid = settings.grid.model_copy(update={"chromium_binary": browser})
            settings = settings.model_copy(update={"grid": grid})
            self._grid = grid
        self._settings = settings
        self._binary = local_browser(settings, overlay)
        # Found (or fetched) at the first open(): a missing driver is that case's error.
        self._driver_path: Path | None = None

    def open(self, project: str = "") -> WebDriver:
        if self._driver_path is None:
            self._driver_path = local_driver.chromedriver(
                self._settings, self._grid.chromium_binary
            )
        owner = reaper.ensure_guard()
        tmp = tempfile.mkdtemp(prefix=_TMP_PREFIX)
        service = Service(
            executable_path=str(self._driver_path),
            # Marks chromedriver, Chromium and its crash handlers as this session's and
            # this process's (testfleet.fleet.reaper kills them by these).
            env={
                **os.environ,
                "TMPDIR": tmp,
                reaper.OWNER_ENV: owner,
                reaper.SESSION_ENV: uuid.uuid4().hex,
            },
            # Own process group: close() can sweep chromedriver's Chromium children.
            popen_kw={"start_new_session": True},
        )
        try:
            driver = self._start(service)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        set_command_timeout(driver, self._grid.command_timeout_s)
        return driver

    def healthy(self, driver: WebDriver) -> bool:
        return is_healthy(driver, self._grid.health_check_timeout_s)

    def shutdown(self) -> None:
        """Nothing to do: every session this provider opened was closed by its user."""

    def _start(self, service: Service) -> WebDriver:
        driver_path = service.path
        try:
            options = chrome_options(self._grid, proxy=self._proxy, binary=self._binary)
            return webdriver.Chrome(service=service, options=options)
        except NoSuchDriverException as exc:
            raise BrowserError(
                f"chromedriver not found at {driver_path}: {local_driver.INSTALL_HINT}"
            ) from exc
        except SessionNotCreatedException as exc:
            raise BrowserError(
                f"chromedriver could not start Chromium ({self._grid.chromium_binary}): "
                f"{_message(exc)}; install chromium (`make setup`) or set "
                "TESTFLEET_GRID__CHROMIUM_BINARY"
            ) from exc
        except (WebDriverException, OSError, urllib3.exceptions.HTTPError) as exc:
            raise BrowserError(
                f"could not start a local Chrome session with {driver_path}: {_message(exc)}"
            ) from exc

    def close(self, driver: WebDriver) -> None:
        _quit(driver)
        service = getattr(driver, "service", None)
        pid = getattr(getattr(service, "process", None), "pid", None)
        if isinstance(pid, int):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # only stragglers: quit() stopped the rest
        env = getattr(service, "env", {})
        session = env.get(reaper.SESSION_ENV, "")
        if session:
            # Chromium's crash handlers run in sessions of their own and outlive quit().
            reaper.kill_session(session)
        tmp = env.get("TMPDIR", "")
        if Path(tmp).name.startswith(_TMP_PREFIX):
            shutil.rmtree(tmp, ignore_errors=True)


def grid_client_config(
    url: str, credentials: tuple[str, str] | None, timeout_s: int
) -> ClientConfig:
    """How a WebDriver client talks to the Grid at ``url``: basic auth with
    ``credentials`` (the router refuses anything else), every request capped at
    ``timeout_s`` seconds, and keep-alive connections for the pool's reset, which
    sends a few commands at once (urllib3 keeps one per host by default and would
    open, and discard, a new TCP connection to the Grid for each of the others)."""
    user, password = credentials or (None, None)
    return ClientConfig(
        remote_server_addr=url,
        timeout=timeout_s,
        username=user,
        password=password,
        init_args_for_pool_manager={"init_args_for_pool_manager": {"maxsize": CONNECTIONS}},
    )


def is_healthy(driver: WebDriver, timeout_s: float) -> bool:
    """Whether ``driver``'s browser runs a trivial script within ``timeout_s``.

    One round trip (~10 ms through a warm Grid). Any error (invalid session, a
    refused connection to a dead chromedriver, a timeout) means "not healthy".
    """
    executor = driver.command_executor
    previous = executor.client_config.timeout if isinstance(executor, RemoteConnection) else None
    set_command_timeout(driver, timeout_s)
    try:
        return bool(driver.execute_script("return 1;") == 1)
    except (WebDriverException, urllib3.exceptions.HTTPError, OSError) as exc:
        log.info("session %s is not healthy: %s", driver.session_id, _message(exc))
        return False
    finally:
        if isinstance(previous, (int, float)):
            set_command_timeout(driver, previous)


def _quit(driver: WebDriver) -> None:
    """``driver.quit()`` with a short timeout, swallowing every error (logged)."""
    _set_timeout(driver, QUIT_TIMEOUT_S)
    try:
        driver.quit()
    except Exception as exc:  # a dead browser or node: nothing left to quit
        log.debug("quit() of session %s failed: %s", driver.session_id, _message(exc))


def _set_timeout(driver: WebDriver, timeout_s: int) -> None:
    """Cap every later HTTP request of ``driver`` at ``timeout_s`` seconds."""
    executor = driver.command_executor
    if isinstance(executor, RemoteConnection):
        executor.client_config.timeout = timeout_s


def _message(exc: BaseException) -> str:
    """A Selenium error without its stack trace (the browser's, not ours) and doc link."""
    text = exc.msg if isinstance(exc, WebDriverException) and exc.msg else str(exc)
    lines: list[str] = []
    for raw in text.strip().splitlines():
        if raw.startswith("Stacktrace"):
            break
        line = raw.split("; For documentation on this error")[0].strip()
        if line:
            lines.append(line.removeprefix("Message: "))
    message = ": ".join(lines) or type(exc).__name__
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."
