"""Assertions: read what is compared in one round trip per poll, retry until the timeout.

Each kind has a reader (what the page shows, and whether that satisfies the
assertion before ``not`` is applied) and a message saying what was expected
and what was last seen. ``not: true`` inverts the condition; both ways retry
until the step's timeout, like Playwright's web-first assertions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from testfleet.suites.model import Step
from testfleet.suites.steps.compare import compare, describe
from workers.executor.errors import StepFailed
from workers.executor.page import Handler, Page


@dataclass(frozen=True)
class Seen:
    """One poll of an assertion."""

    ok: bool
    """The condition holds (before ``not``)."""
    got: str
    """What was seen, as the message shows it (``"Welcome"``, ``no such element``)."""
    count: int = 1


Reader = Callable[[Page, Step], Seen]
_MISSING = Seen(False, "no such element", 0)


def _quoted(page: Page, value: object) -> str:
    return f'"{page.shown(str(value))}"'


def _compared(page: Page, step: Step, value: object) -> Seen:
    if value is None:
        return _MISSING
    text = str(value)
    return Seen(compare(text, step.expected_result or "", step.match or "contains"),
                _quoted(page, text))  # fmt: skip


def _element(page: Page, step: Step, kind: str, name: str | None = None) -> dict[str, Any] | None:
    answer = page.inspect(step.selector or "", kind, name)
    return answer if answer.get("count") else None


def _text(page: Page, step: Step) -> Seen:
    answer = _element(page, step, "text")
    return _compared(page, step, answer["value"] if answer else None)


def _page_value(read: Callable[[Page], str]) -> Reader:
    def run(page: Page, step: Step) -> Seen:
        actual = read(page)
        expected, match = step.expected_result or "", step.match or "contains"
        # "/dashboard" equals the page at base_url + "/dashboard" too.
        targets = {expected, page.spec.url(expected)} if match == "equals" else {expected}
        ok = any(compare(actual, target, match) for target in targets)
        return Seen(ok, _quoted(page, actual))

    return run


def _visible(page: Page, step: Step) -> Seen:
    answer = page.inspect(step.selector or "", "visible")
    if not answer.get("count"):
        return _MISSING
    return Seen(bool(answer.get("visible")), "visible" if answer.get("visible") else "hidden")


def _hidden(page: Page, step: Step) -> Seen:
    answer = page.inspect(step.selector or "", "hidden")
    count = int(answer.get("count", 0))
    shown = bool(answer.get("visible"))
    return Seen(not shown, "visible" if shown else "hidden" if count else "no such element", count)


def _exists(page: Page, step: Step) -> Seen:
    count = int(page.inspect(step.selector or "", "count").get("count", 0))
    return Seen(count > 0, f"{count} element(s)", count)


def _count(page: Page, step: Step) -> Seen:
    count = int(page.inspect(step.selector or "", "count").get("count", 0))
    wanted = int((step.expected_result or "0").strip())
    ok = {"at_least": count >= wanted, "at_most": count <= wanted}.get(step.mode or "")
    return Seen(count == wanted if ok is None else ok, str(count), count)


def _attribute(page: Page, step: Step) -> Seen:
    answer = _element(page, step, "attribute", step.attribute)
    if answer is None:
        return _MISSING
    value = answer.get("value")
    if value is None:
        return Seen(False, "no such attribute")
    if step.expected_result is None:
        return Seen(True, _quoted(page, value))
    return _compared(page, step, value)


def _value(page: Page, step: Step) -> Seen:
    answer = _element(page, step, "value")
    if answer is None:
        return _MISSING
    if answer.get("value") is None:
        raise StepFailed(
            f'element "{step.selector}" has no value: a <{answer.get("tag")}> is not an input, '
            "textarea or select (assert_text reads its text)"
        )
    return _compared(page, step, answer["value"])


def _checked(page: Page, step: Step) -> Seen:
    answer = _element(page, step, "checked")
    if answer is None:
        return _MISSING
    checked = answer.get("checked")
    if checked is None:
        raise StepFailed(f'element "{step.selector}" is not a checkbox or radio button')
    return Seen(checked is True, {True: "checked", False: "unchecked"}.get(checked, "mixed"))


def _editable(page: Page, step: Step) -> Seen:
    answer = _element(page, step, "editable")
    if answer is None:
        return _MISSING
    if answer.get("readonly") is None:
        raise StepFailed(
            f'element "{step.selector}" cannot be edited at all: a <{answer.get("tag")}> is not '
            "an input, textarea, select or contenteditable element"
        )
    if answer.get("disabled"):
        return Seen(False, "disabled")
    return Seen(not answer["readonly"], "read-only" if answer["readonly"] else "editable")


def _enabled(want_enabled: bool) -> Reader:
    def run(page: Page, step: Step) -> Seen:
        answer = _element(page, step, "enabled")
        if answer is None:
            return _MISSING
        disabled = bool(answer.get("disabled"))
        return Seen(disabled != want_enabled, "disabled" if disabled else "enabled")

    return run


def _focused(page: Page, step: Step) -> Seen:
    answer = _element(page, step, "focused")
    if answer is None:
        return _MISSING
    if answer.get("focused"):
        return Seen(True, "focused")
    return Seen(False, f"the focus on {page.shown(str(answer.get('active')))}")


def _class(page: Page, step: Step) -> Seen:
    answer = _element(page, step, "class")
    if answer is None:
        return _MISSING
    if step.match == "contains":
        classes = [str(c) for c in answer.get("classes") or []]
        return Seen(step.expected_result in classes, _quoted(page, " ".join(classes)))
    return _compared(page, step, answer.get("value") or "")


def _named(kind: str) -> Reader:
    def run(page: Page, step: Step) -> Seen:
        answer = _element(page, step, kind, step.key)
        return _compared(page, step, answer.get("value") if answer else None)

    return run


def _selected(page: Page, step: Step) -> Seen:
    answer = _element(page, step, "selected")
    if answer is None:
        return _MISSING
    options = answer.get("options")
    if options is None:
        if step.expected_result is not None:
            raise StepFailed(
                f'element "{step.selector}" is not a <select>: leave out the value to check '
                "that an option is selected"
            )
        return Seen(bool(answer.get("selected")), "selected" if answer.get("selected") else
                    "not selected")  # fmt: skip
    if step.expected_result is None:
        return Seen(bool(options), "an option selected" if options else "no option selected")
    expected, match = step.expected_result, step.match or "equals"
    ok = any(compare(str(text), expected, match) or compare(str(value), expected, match)
             for text, value in options)  # fmt: skip
    got = ", ".join(f'"{page.shown(str(text))}"' for text, _ in options) or "no option"
    return Seen(ok, got)


_READERS: dict[str, Reader] = {
    "text": _text,
    "url": _page_value(lambda page: page.driver.current_url),
    "title": _page_value(lambda page: page.driver.title),
    "visible": _visible,
    "hidden": _hidden,
    "exists": _exists,
    "count": _count,
    "attribute": _attribute,
    "value": _value,
    "checked": _checked,
    "editable": _editable,
    "enabled": _enabled(True),
    "disabled": _enabled(False),
    "focused": _focused,
    "class": _class,
    "css": _named("css"),
    "property": _named("property"),
    "selected": _selected,
}


def _message(page: Page, step: Step, timeout_s: float, seen: Seen | None) -> str:
    """What an assertion that timed out expected, and what it last saw."""
    kind, sel, neg = step.assert_kind, step.selector or "", step.negate
    seen = seen or _MISSING
    after = f"after {timeout_s:.1f} s"
    expected = page.shown(step.expected_result or "")
    phrase = describe(step.match or "contains", expected, neg)
    no = "not " if neg else ""
    if kind in ("text", "value"):
        return f'expected {kind} of "{sel}" {phrase}, got {seen.got}'
    if kind in ("url", "title"):
        return f"expected {kind.upper() if kind == 'url' else kind} {phrase}, got {seen.got}"
    if kind == "visible" and not neg:
        if seen.count == 0:
            return f'no element matches "{sel}" {after}'
        return f'element "{sel}" is not visible {after}'
    if kind == "visible":
        return f'expected "{sel}" not to be visible, still visible {after}'
    if kind == "hidden" and not neg:
        return f'expected "{sel}" to be hidden, still visible {after}'
    if kind == "hidden":
        return f'expected "{sel}" not to be hidden, got {seen.got} {after}'
    if kind == "exists":
        if neg:
            return f'expected no element to match "{sel}", {seen.count} still match {after}'
        return f'no element matches "{sel}" {after}'
    if kind == "count":
        bound = {"at_least": "at least ", "at_most": "at most "}.get(step.mode or "", "")
        other = "other than " if neg and not bound else "not " if neg else ""
        return f'expected {other}{bound}{expected} element(s) matching "{sel}", got {seen.got}'
    if kind == "attribute" and step.expected_result is None:
        return f'expected "{sel}" {no}to have attribute "{step.attribute}", got {seen.got}'
    if kind == "attribute":
        return f'expected attribute "{step.attribute}" of "{sel}" {phrase}, got {seen.got}'
    if kind in ("checked", "editable", "enabled", "disabled", "focused"):
        return f'expected "{sel}" {no}to be {kind}, got {seen.got} {after}'
    if kind == "class" and step.match == "contains":
        return f'expected class of "{sel}" {no}to have "{expected}", got {seen.got}'
    if kind == "class":
        return f'expected class of "{sel}" {phrase}, got {seen.got}'
    if kind in ("css", "property"):
        what = "CSS" if kind == "css" else "property"
        return f'expected {what} {step.key} of "{sel}" {phrase}, got {seen.got}'
    if step.expected_result is None:  # selected, without a value
        return f'expected "{sel}" {no}to be selected, got {seen.got} {after}'
    return f'expected selected option of "{sel}" {phrase}, got {seen.got}'


def assert_(page: Page, step: Step, timeout_s: float) -> None:
    read = _READERS[step.assert_kind]
    last: list[Seen] = []

    def holds() -> bool:
        last[:] = [read(page, step)]
        return last[0].ok != step.negate

    page.until(timeout_s, holds, lambda: _message(page, step, timeout_s, last[0] if last else None))


HANDLERS: dict[str, Handler] = {f"assert_{kind}": assert_ for kind in _READERS}
