"""Pointer steps: clicks, hovering, dragging, scrolling.

A click waits for Playwright's checks (visible, stable, enabled, receives the
pointer: ``steps.pointer.CLICK_CHECKS``) in one probe per poll, then clicks
with WebDriver's Element Click. ``force: true`` skips the checks and sends a
real pointer click at the element's centre, landing on whatever is there. A
click at a point (``x``, ``y`` from the element's top-left corner, as the
Chrome Recorder records it) is a real pointer click there.
"""

from __future__ import annotations

from collections.abc import Callable

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.remote.webelement import WebElement

from testfleet.suites.steps.base import Check
from testfleet.suites.steps.model import Step
from testfleet.suites.steps.pointer import CLICK_CHECKS, HOVER_CHECKS
from workers.executor.errors import StepFailed
from workers.executor.page import Handler, Page
from workers.executor.probe import Readiness

_CENTRE_JS = "arguments[0].scrollIntoView({block: 'center', inline: 'center'});"


_BOX_JS = """arguments[0].scrollIntoView({block: 'nearest', inline: 'nearest'});
const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];"""


def _pointer(page: Page, element: WebElement, step: Step) -> ActionChains:
    """Actions starting over ``element`` (at the step's ``x``, ``y`` when it has them);
    with ``force`` it may not be in view yet."""
    if step.x is None or step.y is None:
        page.driver.execute_script(_CENTRE_JS, element)
        return ActionChains(page.driver).move_to_element(element)
    width, height = page.driver.execute_script(_BOX_JS, element)
    # WebDriver's offsets count from the element's centre; the step's from its corner.
    dx, dy = round(step.x - float(width) / 2), round(step.y - float(height) / 2)
    return ActionChains(page.driver).move_to_element_with_offset(element, dx, dy)


def click(page: Page, step: Step, timeout_s: float) -> None:
    def press(seen: Readiness) -> None:
        assert seen.element is not None
        if step.force or step.x is not None:
            _pointer(page, seen.element, step).click().perform()
        else:
            seen.element.click()

    page.act(step, timeout_s, "click", CLICK_CHECKS, press)


def _gesture(
    verb: str,
    checks: tuple[Check, ...],
    gesture: Callable[[ActionChains, WebElement | None], ActionChains],
) -> Handler:
    """A handler doing ``gesture`` with the pointer on the step's element, once ready
    (``None``: where the pointer already is, moved there by ``_pointer``)."""

    def handler(page: Page, step: Step, timeout_s: float) -> None:
        def act(seen: Readiness) -> None:
            assert seen.element is not None
            if step.force or step.x is not None:
                gesture(_pointer(page, seen.element, step), None).perform()
            else:
                gesture(ActionChains(page.driver), seen.element).perform()

        page.act(step, timeout_s, verb, checks, act)

    return handler


double_click = _gesture("double-click", CLICK_CHECKS, lambda chain, el: chain.double_click(el))
right_click = _gesture("right-click", CLICK_CHECKS, lambda chain, el: chain.context_click(el))
hover = _gesture(
    "hover", HOVER_CHECKS, lambda chain, el: chain if el is None else chain.move_to_element(el)
)


def drag(page: Page, step: Step, timeout_s: float) -> None:
    target_selector = step.target or ""
    source = page.act(step, timeout_s, "drag", HOVER_CHECKS, lambda seen: None)
    target = page.act(
        step, timeout_s, "drop on", ("visible",), lambda seen: None, selector=target_selector
    )
    assert source.element is not None
    assert target.element is not None
    # Pressed, moved over the target in one move, released. chromedriver turns this into
    # HTML5 drag and drop too; extra small moves first (as a hand would make) break that
    # (measured on Chromium 156), and pointer-event drag libraries see the one long move.
    ActionChains(page.driver).click_and_hold(source.element).move_to_element(
        target.element
    ).release().perform()


def scroll(page: Page, step: Step, timeout_s: float) -> None:
    driver = page.driver
    if step.x is not None or step.y is not None:
        at = (step.x or 0, step.y or 0)
        if step.selector:
            element = page.wait_attached(step.selector, timeout_s)
            driver.execute_script(
                "arguments[0].scrollTo(arguments[1], arguments[2]);", element, *at
            )
        else:
            driver.execute_script("window.scrollTo(arguments[0], arguments[1]);", *at)
        return
    if step.selector:
        element = page.wait_attached(step.selector, timeout_s)
        driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});", element
        )
        return
    where = (step.input_data or "").strip().lower()
    if where == "top":
        driver.execute_script("window.scrollTo(0, 0);")
    elif where == "bottom":
        driver.execute_script("window.scrollTo(0, document.scrollingElement.scrollHeight);")
    else:
        try:
            pixels = float(where)
        except ValueError:
            raise StepFailed(
                f'scroll needs a selector, "top", "bottom" or a number of pixels, not "{where}"'
            ) from None
        driver.execute_script("window.scrollBy(0, arguments[0]);", pixels)


HANDLERS: dict[str, Handler] = {
    "click": click,
    "double_click": double_click,
    "right_click": right_click,
    "hover": hover,
    "drag": drag,
    "scroll": scroll,
}
