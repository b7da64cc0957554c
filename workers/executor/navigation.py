"""Navigation steps: open a page (and check what came back), history, tabs, frames."""

from __future__ import annotations

import contextlib
import re

from selenium.common.exceptions import (
    NoSuchFrameException,
    UnexpectedAlertPresentException,
    WebDriverException,
)
from selenium.webdriver.remote.webdriver import WebDriver

from testfleet.suites.steps.compare import compare
from testfleet.suites.steps.model import Step
from testfleet.targets.policy import BLANK, BLOCKED_META, UNREACHABLE_META, page_refusal
from workers.executor.errors import StepFailed
from workers.executor.page import Handler, Page
from workers.executor.probe import INSTALL_JS

_PAGE_LOAD_ATTR = "_testfleet_page_load_s"
# What the tab shows after a navigation: its URL, the main document's HTTP status (0 for
# about:, data: and error pages), on Chrome's network error page the error's name and
# text, and the egress proxy's reason when it refused the page (``testfleet.targets.policy``).
# The step engine is installed in the same round trip: the next steps will need it.
_DOCUMENT_JS = f"""{INSTALL_JS}
const entry = performance.getEntriesByType("navigation")[0];
const code = document.querySelector(".error-code");
const blocked = document.querySelector('meta[name="{BLOCKED_META}"]');
const unreachable = document.querySelector('meta[name="{UNREACHABLE_META}"]');
const error = String(location.href).startsWith("chrome-error:");
return [location.href, entry ? entry.responseStatus : 0,
        code ? code.textContent.trim() : unreachable ? unreachable.content : "",
        blocked ? blocked.content : null,
        error && document.body ? document.body.innerText.slice(0, 200) : ""];
"""
_ERROR_PAGE = "chrome-error://"
_NET_ERROR = re.compile(r"net::ERR_[A-Z_]+")


def _page_load_timeout(driver: WebDriver, timeout_s: float) -> None:
    # Remembered on the session itself: a pooled session keeps its page-load timeout
    # from test to test, so most tests need no round trip for it.
    if getattr(driver, _PAGE_LOAD_ATTR, None) != timeout_s:
        driver.set_page_load_timeout(timeout_s)
        setattr(driver, _PAGE_LOAD_ATTR, timeout_s)


def navigate(page: Page, step: Step, timeout_s: float) -> None:
    driver = page.driver
    _page_load_timeout(driver, timeout_s)
    url = page.spec.url(step.input_data or "")
    refusal = page.targets.check_url(url)
    if refusal is not None:
        raise StepFailed(refusal.message)
    try:
        driver.get(url)
    except WebDriverException as exc:
        # Some network errors come back as the command's error rather than as Chrome's
        # error page (a name that does not resolve, say).
        error = _NET_ERROR.search(exc.msg or "")
        if error is None:
            raise
        raise StepFailed(f"could not open {url}: {error.group(0)}") from None
    try:
        href, status, code, blocked, text = driver.execute_script(_DOCUMENT_JS)
    except UnexpectedAlertPresentException:
        return  # the page opened a dialog as it loaded: it did load
    if blocked is not None:
        # The proxy's page names nothing internal; the worker's own check of where the
        # browser went says why, when it refuses too.
        own = page.targets.check_url(url) or page.targets.check_url(str(href))
        raise StepFailed(page_refusal(url, ["refused", blocked], own) or url)
    if isinstance(code, str) and _NET_ERROR.fullmatch(code):
        # The egress proxy could not reach the host: its page names the network error.
        raise StepFailed(f"could not open {url}: {code}")
    if str(href).startswith(_ERROR_PAGE):
        # Chrome shows its own page for a network error (or a page its URL policy or a
        # redirect check refused) instead of failing the command.
        raise StepFailed(page_refusal(url, ["error", code, text]) or url)
    _check_landed(page, url, str(href))
    allowed = step.allow_status
    refused = allowed is None or (allowed != "any" and status not in allowed)
    if isinstance(status, int) and status >= 400 and refused:
        raise StepFailed(
            f"{url} answered HTTP {status} (if that is expected, add allow_status: [{status}])"
        )


def _check_landed(page: Page, url: str, href: str) -> None:
    """Fail the step when the page landed where the policy refuses: a redirect or a
    script took the browser somewhere the check before navigating never saw (without
    an egress proxy, as with the local provider, nothing else would stop it)."""
    if href == url:
        return
    refusal = page.targets.check_url(href)
    if refusal is None:
        return
    # Leave the refused page before failing: a later step (continue_on_failure) must not
    # read what it shows. The step fails whether or not the browser could leave.
    with contextlib.suppress(WebDriverException):
        page.driver.get(BLANK)
    raise StepFailed(f"{url} led the browser to a refused location: {refusal.message}")


def back(page: Page, step: Step, timeout_s: float) -> None:
    _page_load_timeout(page.driver, timeout_s)
    page.driver.back()


def forward(page: Page, step: Step, timeout_s: float) -> None:
    _page_load_timeout(page.driver, timeout_s)
    page.driver.forward()


def reload(page: Page, step: Step, timeout_s: float) -> None:
    _page_load_timeout(page.driver, timeout_s)
    page.driver.refresh()


_INTERNAL = ("chrome://", "chrome-untrusted://", "devtools://")


def _tabs(page: Page, current: str) -> list[str]:
    """The session's tabs in the order WebDriver lists them, without Chromium's own
    windows (headless Chromium lists its omnibox popup as a window too). Telling them
    apart takes a visit: each is checked once and remembered."""
    driver = page.driver
    tabs = []
    for handle in driver.window_handles:
        if handle in page.internal:
            continue
        if handle not in page.checked and handle != current:
            driver.switch_to.window(handle)
            if driver.current_url.startswith(_INTERNAL):
                page.internal.add(handle)
                continue
            page.checked.add(handle)
        tabs.append(handle)
    if driver.current_window_handle != current:
        driver.switch_to.window(current)
    return tabs


def switch_tab(page: Page, step: Step, timeout_s: float) -> None:
    driver = page.driver
    current = driver.current_window_handle
    found: list[str] = []
    wanted = step.expected_result

    def look() -> bool:
        handles = _tabs(page, current)
        if wanted is not None:
            for handle in handles:
                driver.switch_to.window(handle)
                seen = driver.current_url if step.mode == "url" else driver.title
                if compare(seen, wanted, step.match or "contains"):
                    found[:] = [handle]
                    return True
            driver.switch_to.window(current)
            return False
        if step.index is not None:
            if -len(handles) <= step.index < len(handles):
                found[:] = [handles[step.index]]
            return bool(found)
        # The newest tab: one that is neither this one nor one a switch_tab left.
        new = [h for h in handles if h != current and h not in page.tabs]
        found[:] = new[-1:]
        return bool(found)

    def why() -> str:
        if wanted is not None:
            what = "URL" if step.mode == "url" else "title"
            return f'no tab\'s {what} contains "{page.shown(wanted)}" after {timeout_s:.1f} s'
        if step.index is not None:
            return f"there is no tab {step.index} after {timeout_s:.1f} s"
        return f"no new tab opened within {timeout_s:.1f} s"

    page.until(timeout_s, look, why)
    if found[0] != driver.current_window_handle:
        driver.switch_to.window(found[0])
    page.tabs.append(current)


def close_tab(page: Page, step: Step, timeout_s: float) -> None:
    driver = page.driver
    current = driver.current_window_handle
    handles = _tabs(page, current)
    if len(handles) < 2:
        raise StepFailed("cannot close the only tab")
    driver.close()
    remaining = [h for h in handles if h != current]
    while page.tabs and page.tabs[-1] not in remaining:
        page.tabs.pop()
    driver.switch_to.window(page.tabs.pop() if page.tabs else remaining[-1])


def frame(page: Page, step: Step, timeout_s: float) -> None:
    driver = page.driver
    if step.mode == "top":
        driver.switch_to.default_content()
        return
    if step.mode == "parent":
        driver.switch_to.parent_frame()
        return
    selector = step.selector or ""
    element = page.wait_attached(selector, timeout_s)
    try:
        driver.switch_to.frame(element)
    except NoSuchFrameException:
        raise StepFailed(f'"{selector}" is not an <iframe> or <frame>') from None


HANDLERS: dict[str, Handler] = {
    "navigate": navigate,
    "back": back,
    "forward": forward,
    "reload": reload,
    "switch_tab": switch_tab,
    "close_tab": close_tab,
    "frame": frame,
}
