"""Assertions: read what is compared in one round trip per poll, retry until the timeout.

Each kind is an ``Assertion``: its reader (what the page shows, and whether that
satisfies the assertion before ``not`` is applied) and its own message saying what
was expected and what was last seen. ``not: true`` inverts the condition; both ways retry
until the step's timeout, like Playwright's web-first assertions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from testfleet.suites.steps.compare import compare, describe
from testfleet.suites.steps.model import Step
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
    ok = compare(text, step.expected_result or "", step.match or "contains")
    return Seen(ok, _quoted(page, text))


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
        selected = bool(answer.get("selected"))
        return Seen(selected, "selected" if selected else "not selected")
    if step.expected_result is None:
        return Seen(bool(options), "an option selected" if options else "no option selected")
    expected, match = step.expected_result, step.match or "equals"
    ok = any(
        compare(str(text), expected, match) or compare(str(value), expected, match)
        for text, value in options
    )
    got = ", ".join(f'"{page.shown(str(text))}"' for text, _ in options) or "no option"
    return Seen(ok, got)


@dataclass(frozen=True)
class Said:
    """What an assertion's failure message says, worked out once for every kind."""

    sel: str
    """The step's selector."""
    expected: str
    """The expected value as messages may show it (secrets masked)."""
    phrase: str
    """``to contain "Welcome"``, ``not to equal "x"``: the comparison, ``not`` applied."""
    no: str
    """``"not "`` under ``not: true``, else empty."""
    after: str
    """``after 5.0 s``: how long it was retried."""
    seen: Seen
    """The last poll (``no such element`` when none ran)."""


Message = Callable[[Step, Said], str]
"""An assertion kind's failure message: what it expected, and what it last saw."""


@dataclass(frozen=True)
class Assertion:
    """One kind of assertion: how it reads the page, and what its failure says."""

    read: Reader
    message: Message


def _of_element(kind: str) -> Message:
    return lambda step, said: f'expected {kind} of "{said.sel}" {said.phrase}, got {said.seen.got}'


def _of_page(what: str) -> Message:
    return lambda step, said: f"expected {what} {said.phrase}, got {said.seen.got}"


def _visible_message(step: Step, said: Said) -> str:
    if step.negate:
        return f'expected "{said.sel}" not to be visible, still visible {said.after}'
    if said.seen.count == 0:
        return f'no element matches "{said.sel}" {said.after}'
    return f'element "{said.sel}" is not visible {said.after}'


def _hidden_message(step: Step, said: Said) -> str:
    if step.negate:
        return f'expected "{said.sel}" not to be hidden, got {said.seen.got} {said.after}'
    return f'expected "{said.sel}" to be hidden, still visible {said.after}'


def _exists_message(step: Step, said: Said) -> str:
    if step.negate:
        still = f"{said.seen.count} still match {said.after}"
        return f'expected no element to match "{said.sel}", {still}'
    return f'no element matches "{said.sel}" {said.after}'


def _count_message(step: Step, said: Said) -> str:
    bound = {"at_least": "at least ", "at_most": "at most "}.get(step.mode or "", "")
    other = "other than " if step.negate and not bound else said.no
    wanted = f"{other}{bound}{said.expected} element(s)"
    return f'expected {wanted} matching "{said.sel}", got {said.seen.got}'


def _attribute_message(step: Step, said: Said) -> str:
    if step.expected_result is None:
        having = f'{said.no}to have attribute "{step.attribute}"'
        return f'expected "{said.sel}" {having}, got {said.seen.got}'
    of = f'attribute "{step.attribute}" of "{said.sel}"'
    return f"expected {of} {said.phrase}, got {said.seen.got}"


def _state_message(kind: str) -> Message:
    return lambda step, said: (
        f'expected "{said.sel}" {said.no}to be {kind}, got {said.seen.got} {said.after}'
    )


def _class_message(step: Step, said: Said) -> str:
    if step.match == "contains":
        having = f'{said.no}to have "{said.expected}"'
        return f'expected class of "{said.sel}" {having}, got {said.seen.got}'
    return f'expected class of "{said.sel}" {said.phrase}, got {said.seen.got}'


def _named_message(what: str) -> Message:
    return lambda step, said: (
        f'expected {what} {step.key} of "{said.sel}" {said.phrase}, got {said.seen.got}'
    )


def _selected_message(step: Step, said: Said) -> str:
    if step.expected_result is None:
        return f'expected "{said.sel}" {said.no}to be selected, got {said.seen.got} {said.after}'
    return f'expected selected option of "{said.sel}" {said.phrase}, got {said.seen.got}'


ASSERTIONS: dict[str, Assertion] = {
    "text": Assertion(_text, _of_element("text")),
    "url": Assertion(_page_value(lambda page: page.driver.current_url), _of_page("URL")),
    "title": Assertion(_page_value(lambda page: page.driver.title), _of_page("title")),
    "visible": Assertion(_visible, _visible_message),
    "hidden": Assertion(_hidden, _hidden_message),
    "exists": Assertion(_exists, _exists_message),
    "count": Assertion(_count, _count_message),
    "attribute": Assertion(_attribute, _attribute_message),
    "value": Assertion(_value, _of_element("value")),
    "checked": Assertion(_checked, _state_message("checked")),
    "editable": Assertion(_editable, _state_message("editable")),
    "enabled": Assertion(_enabled(True), _state_message("enabled")),
    "disabled": Assertion(_enabled(False), _state_message("disabled")),
    "focused": Assertion(_focused, _state_message("focused")),
    "class": Assertion(_class, _class_message),
    "css": Assertion(_named("css"), _named_message("CSS")),
    "property": Assertion(_named("property"), _named_message("property")),
    "selected": Assertion(_selected, _selected_message),
}
"""Every assertion kind the executor runs (``assert_screenshot``: ``visual``)."""


def failure_message(page: Page, step: Step, timeout_s: float, seen: Seen | None) -> str:
    """What an assertion that timed out expected, and what it last saw."""
    expected = page.shown(step.expected_result or "")
    said = Said(
        sel=step.selector or "",
        expected=expected,
        phrase=describe(step.match or "contains", expected, step.negate),
        no="not " if step.negate else "",
        after=f"after {timeout_s:.1f} s",
        seen=seen or _MISSING,
    )
    return ASSERTIONS[step.assert_kind].message(step, said)


def assert_(page: Page, step: Step, timeout_s: float) -> None:
    read = ASSERTIONS[step.assert_kind].read
    last: list[Seen] = []

    def holds() -> bool:
        last[:] = [read(page, step)]
        return last[0].ok != step.negate

    page.until(
        timeout_s, holds, lambda: failure_message(page, step, timeout_s, last[0] if last else None)
    )


HANDLERS: dict[str, Handler] = {f"assert_{kind}": assert_ for kind in ASSERTIONS}
