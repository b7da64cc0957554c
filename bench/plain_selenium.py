"""A deliberately plain Selenium executor for the bench suites: what a user's conftest does.

The baselines (pytest-xdist, the hand-tuned runner) run the bench suites through
this, not through testfleet's executor: explicit ``WebDriverWait`` per action and
assertion, no events, no artifacts store, no retries. It understands the step
kinds the bench suites use and refuses any other, so a bench suite that grew a
new kind fails loudly instead of being skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from grid.chrome import chrome_options
from testfleet.settings import GridSettings
from testfleet.suites.model import Suite, TestCase
from testfleet.suites.steps.model import Step

POLL_S = 0.05
"""How often waits re-check their condition (Selenium's default 0.5 s would dominate)."""

_NOT_YET = (NoSuchElementException, StaleElementReferenceException)
"""What a wait treats as "not yet": the page is still rendering or being replaced."""


class PlainStepFailed(AssertionError):
    """A bench step did not do what it should; the message names the step."""


def open_driver(
    grid_url: str | None,
    grid: GridSettings | None = None,
    auth: tuple[str, str] | None = None,
) -> WebDriver:
    """A new headless Chromium: on the Grid at ``grid_url`` (with the router's ``auth``),
    or local chromedriver when None.

    Same Chrome options as the fleet's sessions (``grid.chrome.chrome_options``).
    """
    grid = grid or GridSettings()
    if grid_url:
        user, password = auth or (None, None)
        config = ClientConfig(grid_url, username=user, password=password)
        return webdriver.Remote(
            command_executor=grid_url,
            options=chrome_options(grid, include_binary=False),
            client_config=config,
        )
    service = Service(executable_path=str(grid.chromedriver_path))
    return webdriver.Chrome(service=service, options=chrome_options(grid, include_binary=True))


def reset_browser(driver: WebDriver) -> None:
    """What a hand-tuned runner does between tests: forget cookies and storage.

    The bench suites visit one origin, so clearing it (where the browser is now)
    is enough; a runner for many origins would need more (testfleet's pool does that).
    """
    driver.delete_all_cookies()
    driver.execute_script("try { localStorage.clear(); sessionStorage.clear(); } catch (e) {}")
    driver.get("about:blank")


def run_test(
    driver: WebDriver,
    suite: Suite,
    test: TestCase,
    screenshot_dir: Path | None = None,
    step_ms: list[tuple[str, float]] | None = None,
) -> None:
    """Run every step of ``test``; raises ``PlainStepFailed`` at the first failing one.

    ``step_ms`` collects ``(step_type, milliseconds)`` per step that passed, to set
    beside the fleet's own step timings.
    """
    timeout_s = suite.timeout_seconds
    for step in test.steps:
        started = time.perf_counter()
        try:
            _run_step(driver, suite, step, step.timeout_seconds or timeout_s, screenshot_dir)
        except PlainStepFailed:
            raise
        except Exception as exc:  # a bench failure only needs to say which step and why
            raise PlainStepFailed(
                f"{suite.name} / {test.name}: step {step.order_index} ({step.label}): "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc
        if step_ms is not None:
            step_ms.append((step.step_type, (time.perf_counter() - started) * 1000.0))


def _run_step(
    driver: WebDriver, suite: Suite, step: Step, timeout_s: float, shots: Path | None
) -> None:
    wait = WebDriverWait(driver, timeout_s, poll_frequency=POLL_S, ignored_exceptions=_NOT_YET)
    css = (By.CSS_SELECTOR, step.selector or "")
    kind = step.step_type
    if kind == "navigate":
        url = step.input_data or ""
        driver.get(f"{suite.base_url}{url}" if url.startswith("/") else url)
    elif kind == "click":
        wait.until(ec.element_to_be_clickable(css)).click()
    elif kind == "type":
        wait.until(ec.visibility_of_element_located(css)).send_keys(step.input_data or "")
    elif kind == "select":
        element = wait.until(ec.visibility_of_element_located(css))
        Select(element).select_by_visible_text(step.input_data or "")
    elif kind == "press":
        element = wait.until(ec.visibility_of_element_located(css))
        element.send_keys(getattr(Keys, (step.input_data or "").upper()))
    elif kind == "hover":
        element = wait.until(ec.visibility_of_element_located(css))
        ActionChains(driver).move_to_element(element).perform()
    elif kind == "wait" and step.selector:
        wait.until(ec.visibility_of_element_located(css))
    elif kind == "screenshot":
        png = driver.get_screenshot_as_png()
        if shots is not None:
            (shots / f"{step.name or step.order_index}-{time.monotonic_ns()}.png").write_bytes(png)
    elif kind == "assert":
        _assert(driver, step, wait)
    else:
        raise PlainStepFailed(f"the plain executor does not run {kind} steps")


def _assert(driver: WebDriver, step: Step, wait: WebDriverWait[WebDriver]) -> None:
    """Assertions poll until they hold, like Playwright's ``expect`` (pages change late)."""
    expected = step.expected_result or ""
    # The suite model says "text" + match equals where suites once said "text_equals".
    equals = step.match == "equals" and step.assert_kind in ("text", "url", "title", "attribute")
    kind = f"{step.assert_kind}_equals" if equals else step.assert_kind
    css = step.selector or ""

    def element() -> WebElement:
        return driver.find_element(By.CSS_SELECTOR, css)

    checks: dict[str, Callable[[], bool]] = {
        "text": lambda: expected in element().text,
        "text_equals": lambda: element().text.strip() == expected,
        "url": lambda: expected in driver.current_url,
        "url_equals": lambda: driver.current_url == expected,
        "title": lambda: expected in driver.title,
        "title_equals": lambda: driver.title == expected,
        "visible": lambda: element().is_displayed(),
        "count": lambda: len(driver.find_elements(By.CSS_SELECTOR, css)) == int(expected),
        "attribute": lambda: expected in (element().get_attribute(step.attribute or "") or ""),
        "attribute_equals": lambda: element().get_attribute(step.attribute or "") == expected,
    }
    if kind not in checks:
        raise PlainStepFailed(f"the plain executor does not check {kind} assertions")
    check = checks[kind]
    wait.until(lambda _driver: check(), f"assert {kind} {css} {expected!r}".strip())
