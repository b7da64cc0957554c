"""Flow control steps (group, if, repeat) and captured values.

A block's own row goes out before the steps inside it (``page.blocks`` runs
those, with their rows one level deeper), so reports show them grouped under
it. ``repeat`` with ``until`` looks at its condition before every round and
stops once it holds; with ``while``, it stops once it no longer holds; either
way, a condition still wanting more rounds after ``times`` (the ``max``) fails
the step, and a fixed ``times`` simply runs that many rounds.
"""

from __future__ import annotations

from typing import Any

from testfleet.suites.steps.model import Step
from workers.executor.conditions import holds
from workers.executor.errors import StepFailed
from workers.executor.page import Handler, Page
from workers.executor.page_state import js_text


def group(page: Page, step: Step, timeout_s: float) -> None:
    page.blocks.run_block(step.steps or [])


def if_(page: Page, step: Step, timeout_s: float) -> None:
    assert step.condition is not None
    branch = step.steps if holds(page, step.condition, timeout_s) else step.else_steps
    if branch:
        page.blocks.run_block(branch)


def repeat(page: Page, step: Step, timeout_s: float) -> None:
    rounds = step.times or 1
    # Looked at afresh each round: the steps may capture the values it reads (@{name}).
    condition = page.resolve(step).condition
    for _ in range(rounds):
        if condition is not None and holds(page, condition, timeout_s) == (step.mode == "until"):
            return
        page.blocks.run_block(step.steps or [])
        condition = page.resolve(step).condition
    if condition is not None and holds(page, condition, timeout_s) != (step.mode == "until"):
        wanted = "true" if step.mode == "until" else "false"
        raise StepFailed(
            f"{condition.label} is still not {wanted} after {rounds} rounds "
            "(raise max, or check what the steps do)"
        )


def read_value(page: Page, step: Step, timeout_s: float) -> str:
    """What a capture step reads: once its element is there (element sources)."""
    source, selector = step.mode, step.selector or ""
    if source == "url":
        return str(page.driver.current_url)
    if source == "title":
        return str(page.driver.title)
    if source == "script":
        return js_text(page.run_script(step.input_data or "", timeout_s))
    if source == "count":
        return str(page.inspect(selector, "count").get("count", 0))
    kind = "attribute" if source == "attribute" else "text" if source == "text" else "value"
    found: list[dict[str, Any]] = []

    def there() -> bool:
        answer = page.inspect(selector, kind, step.attribute)
        found[:] = [answer] if answer.get("count") else []
        return bool(found)

    page.until(timeout_s, there, lambda: f'no element matches "{selector}" after {timeout_s:.1f} s')
    value = found[0].get("value")
    if value is None:
        what = f'attribute "{step.attribute}"' if source == "attribute" else "value"
        raise StepFailed(f'element "{selector}" has no {what} to capture')
    return str(value)


def capture(page: Page, step: Step, timeout_s: float) -> None:
    value = read_value(page, step, timeout_s)
    page.keep(step.key or "", value, step.secret)


HANDLERS: dict[str, Handler] = {
    "group": group,
    "if": if_,
    "repeat": repeat,
    "capture": capture,
}
