"""chromedriver's browser (console) and performance (network) logs, read over WebDriver.

Every session is opened with both logs on (``goog:loggingPrefs``, ``perfLoggingPrefs``:
``LOGGING_PREFS``, ``PERF_LOGGING_PREFS``); having them on costs nothing measurable,
and the prefs are fixed when a session is created, so a pooled session must have them
whatever trace mode its next test has. The logs live in chromedriver and are read with
``POST /session/{id}/se/log``, which a Selenium Grid forwards to its node: nothing is
injected into the page and no DevTools port or BiDi socket is opened.

Reading drains a log (a second read returns only what came since), and chromedriver
caps neither, so the pool drains both when it takes a session back (``drain``).
"""

from __future__ import annotations

from typing import Any, Literal, cast

from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.remote.webdriver import WebDriver

__all__ = ["LOGGING_PREFS", "PERF_LOGGING_PREFS", "LogKind", "drain", "read_log"]

LogKind = Literal["browser", "performance"]

LOGGING_PREFS: dict[str, str] = {"browser": "ALL", "performance": "ALL"}
"""``goog:loggingPrefs``: every console line, and the performance log."""
PERF_LOGGING_PREFS: dict[str, bool] = {"enableNetwork": True, "enablePage": False}
"""``goog:chromeOptions.perfLoggingPrefs``: network events only (a few ``Page.*`` come anyway)."""

_COMMAND = "testfleetGetLog"
_PATH = "/session/$sessionId/se/log"
"""Registered under our own name: Selenium's Remote no longer exposes ``get_log``."""


def read_log(driver: WebDriver, kind: LogKind) -> list[dict[str, Any]]:
    """Every entry of ``driver``'s ``kind`` log since the last read (and drains it).

    Browser entries are ``{"level", "source", "timestamp" (epoch ms), "message"}``;
    performance entries ``{"level", "timestamp", "message" (a JSON string)}``. Raises what
    Selenium raises when the session is gone.
    """
    executor = driver.command_executor
    if isinstance(executor, RemoteConnection) and executor.get_command(_COMMAND) is None:
        executor.add_command(_COMMAND, "POST", _PATH)  # type: ignore[no-untyped-call]
    value = driver.execute(_COMMAND, {"type": kind}).get("value")
    return cast(list[dict[str, Any]], value) if isinstance(value, list) else []


def drain(driver: WebDriver) -> None:
    """Empty both logs, so the next test of a pooled session sees only its own entries."""
    read_log(driver, "browser")
    read_log(driver, "performance")
