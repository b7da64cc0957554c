"""Page-state steps: scripts, screenshots, dialogs, the viewport, cookies, storage."""

from __future__ import annotations

from selenium.common.exceptions import (
    ElementNotInteractableException,
    InvalidCookieDomainException,
    NoAlertPresentException,
    UnknownMethodException,
    WebDriverException,
)
from selenium.webdriver.common.alert import Alert

from testfleet.fleet.browser import emulate_network, lift_network
from testfleet.suites.steps.compare import compare, describe
from testfleet.suites.steps.model import Step
from workers.executor.errors import StepFailed
from workers.executor.page import Handler, Page

_STORAGE_JS = """
const [area, op, key, value] = arguments;
const store = area === "session" ? sessionStorage : localStorage;
if (op === "set") store.setItem(key, value); else store.clear();
"""


def js_text(value: object) -> str:
    """A script's return value as the suite author wrote it in JavaScript terms."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def script(page: Page, step: Step, timeout_s: float) -> None:
    value = js_text(page.run_script(step.input_data or "", timeout_s))
    if step.expected_result is not None and value != step.expected_result:
        raise StepFailed(
            f'expected the script to return "{page.shown(step.expected_result)}", '
            f'got "{page.shown(value)}"'
        )
    if step.expected_result is None and value == "false":
        raise StepFailed("the script returned false")


def screenshot(page: Page, step: Step, timeout_s: float) -> bytes:
    return page.driver.get_screenshot_as_png()


def dialog(page: Page, step: Step, timeout_s: float) -> None:
    found: list[Alert] = []

    def opened() -> bool:
        try:
            found[:] = [page.driver.switch_to.alert]  # reads its text: raises when none is open
        except NoAlertPresentException:
            return False
        return True

    page.until(timeout_s, opened, lambda: f"no dialog opened within {timeout_s:.1f} s")
    alert = found[0]
    text = alert.text or ""
    if step.expected_result is not None:
        match = step.match or "contains"
        if not compare(text, step.expected_result, match):
            alert.dismiss()
            raise StepFailed(
                f"expected the dialog's text {describe(match, page.shown(step.expected_result))},"
                f' got "{page.shown(text)}" (dismissed it)'
            )
    if step.input_data is not None:
        try:
            alert.send_keys(step.input_data)
        except ElementNotInteractableException:
            alert.dismiss()
            raise StepFailed(
                f'the dialog "{page.shown(text)}" is not a prompt: it takes no answer '
                "(dismissed it)"
            ) from None
    if step.mode == "dismiss":
        alert.dismiss()
    else:
        alert.accept()


def set_viewport(page: Page, step: Step, timeout_s: float) -> None:
    page.size_viewport(step.width or 0, step.height or 0)


def network(page: Page, step: Step, timeout_s: float) -> None:
    driver = page.driver
    try:
        if step.mode == "online":
            lift_network(driver)
        else:
            emulate_network(
                driver,
                offline=step.mode == "offline",
                latency_ms=step.latency_ms or 0,
                download_bytes_per_s=step.download_bytes_per_s,
                upload_bytes_per_s=step.upload_bytes_per_s,
            )
    except WebDriverException as exc:
        if not isinstance(exc, UnknownMethodException) and "unknown command" not in str(exc.msg):
            raise
        raise StepFailed(
            "this browser cannot emulate network conditions (it needs Chromium through "
            "chromedriver, which the Grid forwards the command to)"
        ) from None


def set_cookie(page: Page, step: Step, timeout_s: float) -> None:
    try:
        page.driver.add_cookie(
            {"name": step.key or "", "value": step.input_data or "", "path": "/"}
        )
    except InvalidCookieDomainException:
        raise StepFailed(
            f"cannot set a cookie on {page.driver.current_url}: navigate to the site first"
        ) from None


def clear_cookies(page: Page, step: Step, timeout_s: float) -> None:
    page.driver.delete_all_cookies()


def set_storage(page: Page, step: Step, timeout_s: float) -> None:
    page.driver.execute_script(_STORAGE_JS, step.mode or "local", "set", step.key, step.input_data)


def clear_storage(page: Page, step: Step, timeout_s: float) -> None:
    page.driver.execute_script(_STORAGE_JS, step.mode or "local", "clear", "", "")


HANDLERS: dict[str, Handler] = {
    "script": script,
    "screenshot": screenshot,
    "dialog": dialog,
    "set_viewport": set_viewport,
    "network": network,
    "set_cookie": set_cookie,
    "clear_cookies": clear_cookies,
    "set_storage": set_storage,
    "clear_storage": clear_storage,
}
