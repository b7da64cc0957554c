"""Whether a condition (``if``, ``when``, ``repeat`` until / while) holds on the page.

Looked at once, or polled for up to the condition's ``wait`` seconds until it
holds. Reading the page goes through the same engine as assertions (one round
trip per look); a condition that cannot be read (a bad selector, a script that
throws) fails its step rather than counting as false.
"""

from __future__ import annotations

import time

from testfleet.suites.steps.compare import compare
from testfleet.suites.steps.model import Condition
from workers.executor.page import POLL_S, Page


def holds(page: Page, condition: Condition, timeout_s: float) -> bool:
    """Whether ``condition`` holds now (or within its ``wait_s``)."""
    deadline = time.monotonic() + condition.wait_s
    while True:
        if _answer(page, condition, timeout_s) != condition.negate:
            return True
        if time.monotonic() + POLL_S > deadline:
            return False
        time.sleep(POLL_S)


def _answer(page: Page, condition: Condition, timeout_s: float) -> bool:
    kind = condition.kind
    expected, match = condition.expected or "", condition.match or "contains"
    if kind in ("visible", "hidden", "exists"):
        answer = page.inspect(condition.selector or "", "hidden")
        if kind == "exists":
            return bool(answer.get("count"))
        return bool(answer.get("visible")) == (kind == "visible")
    if kind == "url":
        url = page.driver.current_url
        return compare(url, expected, match) or (
            match == "equals" and compare(url, page.spec.url(expected), match)
        )
    if kind == "title":
        return compare(page.driver.title, expected, match)
    if kind == "text":
        answer = page.inspect(condition.selector or "", "text")
        return bool(answer.get("count")) and compare(str(answer.get("value")), expected, match)
    if kind == "value":
        return compare(condition.input or "", expected, match)
    return bool(page.run_script(condition.input or "", timeout_s))
