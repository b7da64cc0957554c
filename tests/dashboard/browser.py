"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for page tests.

Every page opened here records the JavaScript console's errors and the page's
uncaught exceptions; ``BrowserPage.assert_no_errors`` fails the test on any.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 20_000
"""How long one Playwright wait (an element, a condition) may take."""


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the ``with`` block (always closed)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class BrowserPage:
    page: Page
    errors: list[str] = field(default_factory=list)

    def assert_no_errors(self) -> None:
        assert not self.errors, f"JavaScript errors in the page: {self.errors}"


@contextmanager
def open_page(
    browser: Browser, width: int = 1280, height: int = 800, allow: tuple[str, ...] = ()
) -> Iterator[BrowserPage]:
    """A page in a fresh context (its own sessionStorage) collecting console errors;
    ``allow`` lists substrings of console errors a test provokes on purpose (a refused
    request it asserts on)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    out = BrowserPage(page)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not any(a in message.text for a in allow):
            out.errors.append(f"console: {message.text} at {message.location}")

    page.on("console", console)
    page.on("pageerror", lambda exc: out.errors.append(f"uncaught: {exc}"))
    try:
        yield out
    finally:
        context.close()


def sign_in(page: Page, base_url: str, key: str, fragment: str = "") -> None:
    """Open the dashboard and paste ``key`` into its sign-in form."""
    page.goto(f"{base_url}/dashboard{fragment}")
    page.get_by_role("textbox", name="API key").fill(key)
    page.get_by_role("button", name="Connect").click()
    page.locator("#conn-state[data-state=connected]").wait_for()
