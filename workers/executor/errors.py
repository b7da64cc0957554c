"""The one place Selenium and transport exceptions become testfleet's.

Handlers raise ``StepFailed`` with a message for the report; anything Selenium
or the HTTP transport raises is turned into a ``StepFailed`` or a
``BrowserDied`` by ``translate``. Messages stay in full here: the attempt masks
secrets in the whole text first and shortens it only then (``finish_message``),
so a cut can never leave half a secret behind.
"""

from __future__ import annotations

import http.client

import urllib3.exceptions
from selenium.common.exceptions import (
    InvalidSelectorException,
    InvalidSessionIdException,
    JavascriptException,
    NoSuchElementException,
    NoSuchFrameException,
    NoSuchWindowException,
    StaleElementReferenceException,
    TimeoutException,
    UnexpectedAlertPresentException,
    WebDriverException,
)

from testfleet.suites.steps.model import Step

MAX_SHOWN_CHARS = 200
"""A value quoted in a message (text seen, an option list) is cut to this many characters."""
MAX_MESSAGE_CHARS = 600
"""A whole step error is cut to this many characters (after masking)."""

# Substrings of WebDriver errors that mean the session (or the browser behind it)
# is gone: the next command cannot succeed, only a new session can.
_DEATH_MARKERS = (
    "chrome not reachable",
    "disconnected",
    "session deleted",
    "invalid session id",
    "no such session",
    "unable to find session",
    "tab crashed",
    "target crashed",
    "not connected to devtools",
    "unable to receive message from renderer",
    # The Grid node could not reach the session's chromedriver (killed): the session is gone.
    "unable to execute request for an existing session",
)

DRIVER_ERRORS = (
    WebDriverException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)
"""What talking to a browser can raise: WebDriver errors, and transport errors when
chromedriver or the Grid node is gone (urllib3, http.client, sockets)."""


class StepFailed(Exception):
    """A step did not do what it should (its message is for the report)."""


class BrowserDied(Exception):
    """The browser session is gone; nothing more can run in it."""


def shorten(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """``text`` on one line (whitespace collapsed), cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def finish_message(text: str, mask: object) -> str:
    """A step error as reported: secrets masked in the full text first, then shortened."""
    masked = mask(text) if callable(mask) else text
    return shorten(str(masked), MAX_MESSAGE_CHARS)


def first_line(exc: WebDriverException) -> str:
    """The first line of a WebDriver error, without chromedriver's ``unknown error:``."""
    msg = (exc.msg or exc.__class__.__name__).strip()
    line = msg.splitlines()[0] if msg else exc.__class__.__name__
    # Selenium appends a link to its troubleshooting page to some errors.
    line = line.split("; For documentation on this error", 1)[0]
    return line.removeprefix("unknown error: ")


def is_death(exc: WebDriverException) -> bool:
    """Whether ``exc`` means the session is gone."""
    if isinstance(exc, InvalidSessionIdException):
        return True
    if isinstance(exc, JavascriptException):
        return False  # the page's own script said "disconnected", not the browser
    text = first_line(exc).lower()
    return any(marker in text for marker in _DEATH_MARKERS)


def translate(exc: Exception, step: Step, timeout_s: float) -> StepFailed | BrowserDied:
    """What a Selenium or transport exception raised while running ``step`` means."""
    if not isinstance(exc, WebDriverException):
        # The driver's HTTP connection itself failed: chromedriver or the Grid node is gone.
        return BrowserDied(f"browser session died: {type(exc).__name__}: {exc}")
    if is_death(exc):
        return BrowserDied(f"browser session died: {first_line(exc)}")
    selector = step.selector or ""
    if isinstance(exc, InvalidSelectorException):
        detail = first_line(exc).removeprefix("invalid selector: ")
        why = f" ({detail})" if detail and selector not in detail else ""
        return StepFailed(f'"{selector}" is not a valid selector{why}')
    if isinstance(exc, UnexpectedAlertPresentException):
        return StepFailed(
            f'an unexpected dialog is open: "{exc.alert_text or ""}" (answer it with a dialog step)'
        )
    if isinstance(exc, JavascriptException):
        return StepFailed(f"script failed: {first_line(exc)}")
    if isinstance(exc, TimeoutException) and step.step_type == "navigate":
        return StepFailed(f"page did not finish loading within {timeout_s:.1f} s")
    if step.step_type == "navigate" and "net::" in (exc.msg or ""):
        return StepFailed(f"could not open the page: {first_line(exc)}")
    if isinstance(exc, NoSuchWindowException):
        return StepFailed("the tab this step ran in was closed (switch_tab to another one)")
    if isinstance(exc, NoSuchFrameException):
        return StepFailed("the frame this step ran in is gone (frame: top to leave it)")
    if isinstance(exc, NoSuchElementException):
        return StepFailed(f'no element matches "{selector}"')
    if isinstance(exc, StaleElementReferenceException):
        return StepFailed(f'the element "{selector}" was replaced while the step used it')
    return StepFailed(first_line(exc))
