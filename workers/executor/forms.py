"""Keyboard and form steps: typing, filling, keys, options, checkboxes, focus, files.

None of them blurs the field (WebDriver's Element Clear does: an app that saves
on blur would act before the next step): ``clear`` and ``type`` select the
text and delete it with keys, ``fill`` replaces the selection as one edit
(``execCommand("insertText")``: one ``input`` event, as a paste). A label
given as the selector stands for its control, as in Playwright.
"""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.file_detector import LocalFileDetector

from testfleet.suites.steps.forms import EDIT_CHECKS
from testfleet.suites.steps.model import Step
from testfleet.suites.steps.pointer import CLICK_CHECKS
from workers.executor.errors import StepFailed
from workers.executor.page import Handler, Page
from workers.executor.probe import CHOOSE, FILL, Readiness, operate

_SELECT_ALL_DELETE = (Keys.CONTROL, "a", Keys.NULL, Keys.DELETE)
"""Select the field's text and delete it: Control+A then Delete (the nodes run Linux)."""

_KEY_ALIASES = {
    "CTRL": "CONTROL",
    "CMD": "COMMAND",
    "OPTION": "ALT",
    "ESC": "ESCAPE",
    "DEL": "DELETE",
    "ARROWUP": "ARROW_UP",
    "ARROWDOWN": "ARROW_DOWN",
    "ARROWLEFT": "ARROW_LEFT",
    "ARROWRIGHT": "ARROW_RIGHT",
    "PAGEUP": "PAGE_UP",
    "PAGEDOWN": "PAGE_DOWN",
    "BACKSPACE": "BACKSPACE",
}
_MODIFIER_KEYS = frozenset({Keys.CONTROL, Keys.SHIFT, Keys.ALT, Keys.META, Keys.COMMAND})


def _key(name: str) -> str:
    """One key by name (``Enter``, ``ArrowDown``, ``Control``, ``a``) as a WebDriver key."""
    if len(name) == 1:
        return name
    upper = name.upper()
    upper = _KEY_ALIASES.get(upper, upper)
    value = getattr(Keys, upper, None)
    if not isinstance(value, str):
        # camelCase names such as "PageDown" -> PAGE_DOWN
        snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()
        value = getattr(Keys, snake, None)
    if not isinstance(value, str):
        raise StepFailed(f'unknown key "{name}" (use names like Enter, Tab, Escape, ArrowDown, F5)')
    return value


def parse_keys(text: str) -> list[tuple[list[str], str]]:
    """``"Control+a Enter"`` -> ``[([CONTROL], "a"), ([], ENTER)]``: combos split by spaces,
    keys within a combo by ``+`` (the last is pressed while the others are held)."""
    combos: list[tuple[list[str], str]] = []
    for combo in text.split():
        names = combo.split("+") if combo != "+" else ["+"]
        if "" in names:  # "Control++" means Control and the plus key
            names = [n for n in names if n] + ["+"]
        keys = [_key(n) for n in names]
        mods, last = keys[:-1], keys[-1]
        bad = [n for n, k in zip(names[:-1], mods, strict=True) if k not in _MODIFIER_KEYS]
        if bad:
            raise StepFailed(
                f'"{bad[0]}" in "{combo}" is not a modifier (Control, Shift, Alt, Meta)'
            )
        combos.append((mods, last))
    if not combos:
        raise StepFailed("no key to press")
    return combos


def type_(page: Page, step: Step, timeout_s: float) -> None:
    text = step.input_data or ""

    def type_into(seen: Readiness) -> None:
        assert seen.control is not None
        # Emptying first makes a repeat after a re-render type the text once, not twice;
        # an empty field (the usual case) needs no extra keys.
        keys = (*(_SELECT_ALL_DELETE if seen.value else ()), *((text,) if text else ()))
        if keys:
            seen.control.send_keys(*keys)

    page.act(step, timeout_s, "type into", EDIT_CHECKS, type_into, retarget="follow-label")


def clear(page: Page, step: Step, timeout_s: float) -> None:
    def empty(seen: Readiness) -> None:
        assert seen.control is not None
        if seen.value:
            seen.control.send_keys(*_SELECT_ALL_DELETE)

    page.act(step, timeout_s, "clear", EDIT_CHECKS, empty, retarget="follow-label")


_NO_OPTION = "no option"
"""How ``fill`` on a <select> says the option is not there (yet: options often arrive
by a request after the page loads, so it waits)."""


def fill(page: Page, step: Step, timeout_s: float) -> None:
    last: list[str] = []

    def filled(seen: Readiness) -> bool:
        error = str(seen.info.get("error") or "")
        if error and not error.startswith(_NO_OPTION):
            raise StepFailed(f'cannot fill "{step.selector}": {error}')
        last[:] = [error]
        return not error

    def why(default: str) -> str:
        return (
            f'cannot fill "{step.selector}": {page.shown(last[0])}' if last and last[0] else default
        )

    page.act_in_page(step, timeout_s, FILL, EDIT_CHECKS, step.input_data or "", filled, why)


def select(page: Page, step: Step, timeout_s: float) -> None:
    selector, wanted = step.selector or "", step.input_data or ""
    options: list[str] = []

    def chosen(seen: Readiness) -> bool:
        if seen.info.get("error"):
            raise StepFailed(f'cannot select in "{selector}": {seen.info["error"]}')
        found = seen.info.get("options")
        if isinstance(found, list):
            # Options are often filled in by a request after the page loads: wait.
            options[:] = [str(o) for o in found]
            return False
        return True

    def why(default: str) -> str:
        if not options:
            return default
        listed = ", ".join(f'"{o}"' for o in options[:10])
        return (
            f'no option of "{selector}" has text or value "{page.shown(wanted)}" after '
            f"{timeout_s:.1f} s (options: {page.shown(listed)})"
        )

    page.act_in_page(step, timeout_s, CHOOSE, ("visible", "enabled"), wanted, chosen, why)


def _set_checked(page: Page, step: Step, timeout_s: float, want: bool) -> None:
    selector = step.selector or ""
    verb = "check" if want else "uncheck"

    def state_of(seen: Readiness) -> bool:
        checked = seen.info.get("checked")
        if checked is None and seen.state != "missing":
            raise StepFailed(f'element "{selector}" is not a checkbox or radio button')
        if not want and seen.info.get("type") == "radio":
            raise StepFailed(
                f'"{selector}" is a radio button: it cannot be unchecked (check another '
                "option of its group)"
            )
        return checked is want

    first = page.probe(selector, (), "follow-label")
    if first.state != "missing" and state_of(first):
        return  # already as asked: no click, as in Playwright

    def click_if_needed(seen: Readiness) -> None:
        assert seen.element is not None
        if not state_of(seen):
            seen.element.click()

    page.act(step, timeout_s, verb, CLICK_CHECKS, click_if_needed, retarget="follow-label")
    last: list[object] = []

    def settled() -> bool:
        seen = page.probe(selector, (), "follow-label")
        last[:] = [seen.info.get("checked")]
        return state_of(seen)

    page.until(
        timeout_s,
        settled,
        lambda: (
            f'clicking "{selector}" did not {verb} it (still '
            f"{'checked' if last and last[0] is True else 'unchecked'} after {timeout_s:.1f} s)"
        ),
    )


def check(page: Page, step: Step, timeout_s: float) -> None:
    _set_checked(page, step, timeout_s, True)


def uncheck(page: Page, step: Step, timeout_s: float) -> None:
    _set_checked(page, step, timeout_s, False)


def press(page: Page, step: Step, timeout_s: float) -> None:
    combos = parse_keys(step.input_data or "")
    if step.selector:
        # Element Send Keys holds modifiers until NULL releases them.
        chord = [k for mods, key in combos for k in (*mods, key, Keys.NULL)]

        def send(seen: Readiness) -> None:
            assert seen.element is not None
            seen.element.send_keys(*chord)

        page.act(step, timeout_s, "press keys in", ("visible", "enabled"), send)
        return
    actions = ActionChains(page.driver)
    for mods, key in combos:
        for mod in mods:
            actions.key_down(mod)
        actions.send_keys(key)
        for mod in reversed(mods):
            actions.key_up(mod)
    actions.perform()


def focus(page: Page, step: Step, timeout_s: float) -> None:
    selector = step.selector or ""
    answer: list[str] = []

    def focused() -> bool:
        answer[:] = [operate(page.driver, selector, page.testid, "focus")]
        return answer[0] == "ok"

    def why() -> str:
        if answer and answer[0] == "missing":
            return f'no element matches "{selector}" after {timeout_s:.1f} s'
        return f'element "{selector}" could not be focused after {timeout_s:.1f} s'

    page.until(timeout_s, focused, why)


def blur(page: Page, step: Step, timeout_s: float) -> None:
    if not step.selector:
        operate(page.driver, "", page.testid, "blur-active")
        return
    selector = step.selector

    def blurred() -> bool:
        return operate(page.driver, selector, page.testid, "blur") == "ok"

    page.until(
        timeout_s, blurred, lambda: f'no element matches "{selector}" after {timeout_s:.1f} s'
    )


def upload(page: Page, step: Step, timeout_s: float) -> None:
    selector = step.selector or ""
    with tempfile.TemporaryDirectory(prefix="testfleet-upload-") as tmp:
        paths = []
        for number, file in enumerate(step.files or []):
            # One folder per file: two files may share a name.
            path = Path(tmp) / str(number) / Path(file.name).name
            path.parent.mkdir()
            path.write_bytes(base64.b64decode(file.content_b64))
            paths.append(str(path))

        def send(seen: Readiness) -> None:
            assert seen.element is not None
            if seen.info.get("tag") != "input" or seen.info.get("type") != "file":
                raise StepFailed(f'element "{selector}" is not an <input type=file>')
            seen.element.send_keys("\n".join(paths))

        # Through a Grid the files travel to the browser's host (Selenium zips them
        # to the node); a local chromedriver reads the paths as they are.
        with page.driver.file_detector_context(LocalFileDetector):
            page.act(step, timeout_s, "upload to", (), send)


HANDLERS: dict[str, Handler] = {
    "type": type_,
    "fill": fill,
    "clear": clear,
    "press": press,
    "select": select,
    "check": check,
    "uncheck": uncheck,
    "focus": focus,
    "blur": blur,
    "upload": upload,
}
