"""Resetting a Chromium session between two tests, so the second sees nothing of the first.

``reset_session`` leaves one fresh tab on about:blank with no cookies and no
storage of any origin the previous test visited, no alert, and the configured
window size. How, and why this way:

- Origins: Chrome keeps each tab's history; CDP ``Page.getNavigationHistory``
  in every open tab lists the top-level origins the test visited (also those
  it left again). ``Storage.clearDataForOrigin`` then clears each origin's
  localStorage, IndexedDB, Cache Storage and service workers in one call,
  without navigating there (a navigation per origin would cost a page load).
- Cookies: ``Network.clearBrowserCookies`` drops every cookie of every origin,
  iframes' third-party ones included.
- sessionStorage belongs to a tab and survives navigating away and back, so
  the reset opens a new tab and closes every old one: sessionStorage, extra
  windows and tabs, and history go with them.
- Alerts are dismissed first: a tab with an open ``alert()`` answers most
  commands with "unexpected alert open".

CDP goes through the Grid as ``POST /session/{id}/goog/cdp/execute`` (the
Chromium vendor endpoint, which the Grid node forwards to chromedriver);
``webdriver.Remote`` does not know that command, so it is registered on the
driver's connection here.

Errors are not caught: a session that cannot be reset is quit by the pool,
never lent again.
"""

from __future__ import annotations

import contextlib
from typing import Any, cast
from urllib.parse import urlsplit

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.remote.webdriver import WebDriver

CDP_COMMAND = "executeCdpCommand"
_CDP_PATH = "/session/$sessionId/goog/cdp/execute"
_STORAGE_TYPES = "local_storage,indexeddb,websql,cache_storage,service_workers,file_systems"
_BLANK = "about:blank"


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


def reset_session(driver: WebDriver, width: int, height: int) -> None:
    """Bring ``driver`` back to a fresh-session state (see the module docstring).

    ``width`` x ``height``: the window size to restore, in CSS pixels.
    Raises whatever Selenium raises when the session is dead or broken.
    """
    origins: set[str] = set()
    old_handles = driver.window_handles
    for handle in old_handles:
        driver.switch_to.window(handle)
        _dismiss_alert(driver)
        origins |= visited_origins(driver)
    driver.switch_to.new_window("tab")
    fresh = driver.current_window_handle
    for handle in old_handles:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(fresh)
    cdp(driver, "Network.clearBrowserCookies")
    for origin in sorted(origins):
        cdp(
            driver, "Storage.clearDataForOrigin", {"origin": origin, "storageTypes": _STORAGE_TYPES}
        )
    if driver.get_window_size() != {"width": width, "height": height}:
        driver.set_window_size(width, height)


def _dismiss_alert(driver: WebDriver) -> None:
    with contextlib.suppress(NoAlertPresentException):
        driver.switch_to.alert.dismiss()
