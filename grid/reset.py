"""Resetting a Chromium session between two tests, so the second sees nothing of the first.

``reset_session`` leaves one tab on about:blank, with no history, no cookies,
no storage of any origin the previous test visited, an empty HTTP cache, no
permission a test granted, no alert, and the configured window size as its
viewport (the page's size, as a suite's ``viewport`` means it). It costs about
ten WebDriver round trips when the test used one tab and one origin (each
~10-15 ms through a warm Grid, sent in two rounds), against the seconds a new
session costs; the pool runs it as a test gives its session back, off the next
test's critical path. How, and why this way:

- Origins: CDP ``Page.getNavigationHistory`` in every open tab lists the
  top-level origins the test visited (also those it left again), and
  ``Page.resetNavigationHistory`` empties that list for the next test.
- ``Storage.clearDataForOrigin`` with ``local_storage`` clears an origin's
  localStorage *and* sessionStorage (measured on Chromium 156: the demo's
  /storage page reads "new" for both afterwards), plus IndexedDB, Cache Storage
  and service workers, in one call and without navigating there.
- HTTP cache: ``Network.clearBrowserCache`` (what a fresh Playwright context
  starts with). It costs 5-8x a storage clear, which is why it is only
  affordable since the reset runs at give-back, in the background.
- Permissions: ``Browser.resetPermissions`` drops every override a test set
  (``Browser.grantPermissions``: notifications, camera, clipboard...).
- Cookies: ``Network.clearBrowserCookies`` drops every cookie of every origin,
  iframes' third-party ones included.
- Extra windows and tabs are closed (after reading their history); the first
  tab stays, so no new renderer has to start (a new tab costs ~130 ms).
- Logs: chromedriver's browser and performance logs (``testfleet.evidence.browserlog``)
  keep every entry until read; both are read (and so emptied) in the second round, so
  the next test's trace holds only its own console lines and requests.
- Alerts: a command sent while an ``alert()`` is open raises
  UnexpectedAlertPresent, and chromedriver dismisses the alert as it does
  (the W3C default "dismiss and notify"); the command is then repeated.

CDP goes through the Grid as ``POST /session/{id}/goog/cdp/execute`` (the
Chromium vendor endpoint, which the Grid node forwards to chromedriver);
``webdriver.Remote`` does not know that command, so it is registered on the
driver's connection here.

Errors are not caught (beyond the alert): a session that cannot be reset is
quit by the pool, never lent again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from selenium.common.exceptions import (
    NoAlertPresentException,
    NoSuchWindowException,
    UnexpectedAlertPresentException,
)
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.remote.webdriver import WebDriver

from testfleet.evidence.browserlog import read_log
from testfleet.fleet.browser import lift_network, note_viewport

CDP_COMMAND = "executeCdpCommand"
_CDP_PATH = "/session/$sessionId/goog/cdp/execute"
_STORAGE_TYPES = "local_storage,indexeddb,cache_storage,service_workers,file_systems"
_BLANK = "about:blank"
_BROWSER_UI = "chrome://"
"""Chromium 156 lists pages of its own UI (``chrome://omnibox-popup.top-chrome/``) among a
session's windows. They are not the test's, and closing one hangs chromedriver (and with
it the session), so they are left alone and remembered per session."""
_UI_HANDLES: WeakKeyDictionary[WebDriver, set[str]] = WeakKeyDictionary()

T = TypeVar("T")


def cdp(driver: WebDriver, command: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one Chrome DevTools Protocol command in ``driver``'s current tab."""
    executor = driver.command_executor
    if isinstance(executor, RemoteConnection) and executor.get_command(CDP_COMMAND) is None:
        executor.add_command(CDP_COMMAND, "POST", _CDP_PATH)  # type: ignore[no-untyped-call]
    response = driver.execute(CDP_COMMAND, {"cmd": command, "params": params or {}})
    return cast(dict[str, Any], response.get("value") or {})


def visited_origins(driver: WebDriver) -> set[str]:
    """The ``scheme://host:port`` origins in the current tab's history (http(s) only)."""
    history = cdp(driver, "Page.getNavigationHistory")
    origins = set()
    for entry in history.get("entries", []):
        parts = urlsplit(str(entry.get("url", "")))
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def reset_session(
    driver: WebDriver, width: int, height: int, parallel: Executor | None = None
) -> None:
    """Bring ``driver`` back to a fresh-session state (see the module docstring).

    ``width`` x ``height``: the viewport to restore, in CSS pixels.
    ``parallel``: sends independent commands at once (they overlap in the Grid's
    proxying; chromedriver still runs them one by one): two rounds of the Grid,
    one of them a navigation, instead of seven round trips. Raises whatever
    Selenium raises when the session is dead.
    """
    lift_network(driver)  # no round trip unless the test throttled its network
    # Round 1: the tabs, the focused tab's history, and leaving its page. Their
    # order does not matter: navigating only appends about:blank to the history.
    handles, origins, left = _round(parallel, driver, [_handles, _origins_here, _leave_page])
    assert isinstance(handles, list)
    found: set[str] = origins if isinstance(origins, set) else set()
    ui = _UI_HANDLES.setdefault(driver, set())
    extra = [handle for handle in handles[1:] if handle not in ui]
    if extra or not left:
        # Extra tabs, or the test closed the tab it was in: the slow path.
        for handle in extra:
            driver.switch_to.window(handle)
            if driver.current_url.startswith(_BROWSER_UI):
                ui.add(handle)
                continue
            _dismiss_alert(driver)
            found |= visited_origins(driver)
            driver.close()
        driver.switch_to.window(handles[0])
        found |= _past_alert(visited_origins, driver)
        _past_alert(lambda d: d.get(_BLANK), driver)
    # Round 2, once the page is gone (its unload handlers can write no more).
    clears = [partial(_clear_origin, origin=origin) for origin in sorted(found)]
    round_two = [
        _window_sizes,
        _reset_history,
        _clear_cookies,
        _clear_cache,
        _reset_permissions,
        _drain_console,
        _drain_network,
    ]
    sizes, *_ = _round(parallel, driver, [*round_two, *clears])
    inner_w, inner_h, outer_w, outer_h = cast(list[int], sizes)
    if [inner_w, inner_h] != [width, height]:
        driver.set_window_size(width + outer_w - inner_w, height + outer_h - inner_h)
        note_viewport(driver, None)  # resized but not seen: the executor checks it
    else:
        note_viewport(driver, (width, height))


def _handles(driver: WebDriver) -> list[str]:
    return driver.window_handles


def _origins_here(driver: WebDriver) -> set[str] | None:
    """The focused tab's origins; None when the test closed that tab."""
    try:
        return visited_origins(driver)
    except NoSuchWindowException:
        return None


def _leave_page(driver: WebDriver) -> bool:
    """Navigate the focused tab to about:blank; False when the test closed that tab."""
    try:
        driver.get(_BLANK)
    except NoSuchWindowException:
        return False
    return True


def _window_sizes(driver: WebDriver) -> list[int]:
    """``[innerWidth, innerHeight, outerWidth, outerHeight]`` in CSS px.

    The restored size is the page's (the viewport), the size the executor gives a
    test by default (``Viewport``): a window sized to it needs no resizing before
    the next test, where an outer size would be resized there and back every time.
    """
    sizes = driver.execute_script(
        "return [window.innerWidth, window.innerHeight, window.outerWidth, window.outerHeight];"
    )
    return [int(v) for v in sizes]


def _reset_history(driver: WebDriver) -> None:
    cdp(driver, "Page.resetNavigationHistory")


def _clear_cookies(driver: WebDriver) -> None:
    cdp(driver, "Network.clearBrowserCookies")


def _clear_cache(driver: WebDriver) -> None:
    cdp(driver, "Network.clearBrowserCache")


def _reset_permissions(driver: WebDriver) -> None:
    cdp(driver, "Browser.resetPermissions")


def _drain_console(driver: WebDriver) -> None:
    read_log(driver, "browser")


def _drain_network(driver: WebDriver) -> None:
    read_log(driver, "performance")


def _clear_origin(driver: WebDriver, origin: str) -> None:
    cdp(driver, "Storage.clearDataForOrigin", {"origin": origin, "storageTypes": _STORAGE_TYPES})


def _round(
    parallel: Executor | None, driver: WebDriver, commands: Sequence[Callable[[WebDriver], object]]
) -> list[object]:
    """Every command's result, sent at once when ``parallel`` is given; all once more
    if an open alert refused any (chromedriver dismissed it as it said so)."""

    def run(d: WebDriver) -> list[object]:
        if parallel is None:
            return [command(d) for command in commands]
        futures = [parallel.submit(command, d) for command in commands]
        return [future.result() for future in futures]

    return _past_alert(run, driver)


def _past_alert(command: Callable[[WebDriver], T], driver: WebDriver) -> T:
    """``command(driver)``, once more if an open alert refused it: chromedriver
    dismisses the alert when it reports it (W3C "dismiss and notify"), so only
    a tab with an alert pays for the second round trip."""
    try:
        return command(driver)
    except UnexpectedAlertPresentException:
        return command(driver)


def _dismiss_alert(driver: WebDriver) -> None:
    with contextlib.suppress(NoAlertPresentException):
        driver.switch_to.alert.dismiss()
