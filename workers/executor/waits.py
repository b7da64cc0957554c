"""Wait steps: an element, a pause, a URL, a load state, a JavaScript condition."""

from __future__ import annotations

from testfleet.suites.steps.compare import compare, describe
from testfleet.suites.steps.model import Step
from workers.executor.page import Handler, Page

_READY_STATES = {"load": ("complete",), "domcontentloaded": ("interactive", "complete")}


def wait(page: Page, step: Step, timeout_s: float) -> None:
    selector = step.selector
    if not selector:
        # The suite asked for this pause.
        page.pause(float(step.input_data or 0))
        return
    seen: list[int] = []

    def shown() -> bool:
        answer = page.inspect(selector, "visible")
        seen[:] = [int(answer.get("count", 0))]
        return bool(answer.get("visible"))

    def why() -> str:
        if not seen or not seen[0]:
            return f'no element matches "{selector}" after {timeout_s:.1f} s'
        return f'element "{selector}" is not visible after {timeout_s:.1f} s'

    page.until(timeout_s, shown, why)


def wait_for(page: Page, step: Step, timeout_s: float) -> None:
    driver = page.driver
    last: list[str] = []
    if step.mode == "url":
        expected, match = step.expected_result or "", step.match or "contains"
        targets = {expected, page.spec.url(expected)} if match == "equals" else {expected}

        def url() -> bool:
            last[:] = [driver.current_url]
            return any(compare(last[0], target, match) for target in targets)

        page.until(
            timeout_s,
            url,
            lambda: (
                f"expected the URL {describe(match, page.shown(expected))} within "
                f'{timeout_s:.1f} s, got "{page.shown(last[0] if last else "")}"'
            ),
        )
        return
    if step.mode == "load":
        state = step.input_data or "load"

        def loaded() -> bool:
            last[:] = [str(driver.execute_script("return document.readyState"))]
            return last[0] in _READY_STATES[state]

        page.until(
            timeout_s,
            loaded,
            lambda: (
                f"the page did not reach {state} within {timeout_s:.1f} s "
                f"(document.readyState is {last[0] if last else 'unknown'})"
            ),
        )
        return
    script = step.input_data or ""

    def truthy() -> bool:
        return bool(page.run_script(script, timeout_s))

    page.until(
        timeout_s,
        truthy,
        lambda: f"the script did not return a truthy value within {timeout_s:.1f} s",
    )


HANDLERS: dict[str, Handler] = {"wait": wait, "wait_for": wait_for}
