"""The step executor: runs one attempt of one test case in one browser session.

``execute_steps`` drives a Selenium ``WebDriver`` through a case's steps and
returns an ``AttemptOutcome``; it never raises for anything the browser or the
page does. Selenium and transport exceptions are translated here, in
``_translate``, into short messages a QA engineer can act on (no stack traces),
and a dead browser becomes ``status="error", browser_died=True`` so the caller
can open a new session.

Waiting: no implicit waits (set to 0 at the start). Every wait is an explicit
``WebDriverWait`` bounded by the step's ``timeout_seconds`` (else the case
default), polling every ``POLL_S``; assertions retry until that deadline, like
Playwright's ``expect``. The only sleep is a ``wait`` step given in seconds,
because the suite asked for exactly that pause.

Actions (click, type, clear, press on an element, hover, select) wait until their
element is visible and enabled and retry while it is covered or re-rendered, as
a user would. A single WebDriver command can overrun a short timeout a little:
chromedriver itself retries an intercepted click for about a second.

Step semantics beyond the obvious: ``type`` clears the field first; ``select``
matches visible text, else value; ``press`` takes key names (``Enter``, ``Tab``,
``ArrowDown``, ``Control+a``; several separated by spaces) and sends them to the
selector's element or else to the focused one; ``scroll`` brings the selector
into view or goes to ``top`` / ``bottom`` / by a number of pixels; ``custom`` runs
``input_data`` as JavaScript and fails when it throws, returns ``false``, or
(with ``expected_result``) returns something else (compared as JavaScript would
print it: ``true``, ``null``, ``42``).

Selectors are CSS, or XPath when they start with ``//``, ``(//`` or ``xpath=``
(``css=`` is accepted too).

Secrets (``spec.secrets``) are masked in every label and error this module produces.
"""

from __future__ import annotations

import http.client
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

import urllib3.exceptions
from PIL import Image
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    InvalidElementStateException,
    InvalidSelectorException,
    InvalidSessionIdException,
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    UnexpectedAlertPresentException,
    WebDriverException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from testfleet import logs
from testfleet.artifacts import safe_name
from testfleet.results import StepResult, StepStatus
from testfleet.suite import CaseSpec, Masker, Step
from workers.probe import Readiness, probe

log = logs.get_logger(__name__)

POLL_S = 0.1
"""How often explicit waits re-check their condition, in seconds."""
THUMBNAIL_WIDTH_PX = 320
"""Width of the thumbnail saved beside every screenshot, in pixels."""
STOP_CHECK_S = 1.0
"""How often a ``wait`` step given in seconds checks for cancellation, in seconds."""
_MAX_SHOWN_CHARS = 200
_PAGE_LOAD_ATTR = "_testfleet_page_load_s"

AttemptStatus = Literal["passed", "failed", "error", "cancelled"]

# Substrings of WebDriver errors that mean the session (or the browser behind it)
# is gone: the next command cannot succeed, only a new session can.
_DEATH_MARKERS = (
    "chrome not reachable",
    "disconnected",
    "session deleted",
    "invalid session id",
    "no such session",
    "unable to find session",
    "tab crashed",
    "target crashed",
    "not connected to devtools",
    "unable to receive message from renderer",
    # The Grid node could not reach the session's chromedriver (killed): the session is gone.
    "unable to execute request for an existing session",
)

# What talking to a browser can raise: WebDriver errors, and transport errors when
# chromedriver or the Grid node is gone (urllib3, http.client, sockets).
_DRIVER_ERRORS = (
    WebDriverException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)

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
_MODIFIERS = frozenset({Keys.CONTROL, Keys.SHIFT, Keys.ALT, Keys.META, Keys.COMMAND})


def _ignore_step(result: StepResult, step_number: int, total: int) -> None:
    return None


def _never_stop() -> bool:
    return False


def _discard_artifact(name: str, data: bytes) -> str:
    return name


@dataclass
class Hooks:
    """What the executor calls back into while it runs.

    ``on_step(result, step_number, total)``: after every step that ran (1-based number).
    ``should_stop()``: checked before each step; True ends the attempt ``cancelled``.
    ``save_artifact(name, data)``: stores a file (PNG) and returns the name it is
    stored under (which goes into ``StepResult.screenshot`` and ``artifacts``).
    Exceptions raised by hooks (a Redis outage, say) propagate to the caller.
    """

    on_step: Callable[[StepResult, int, int], None] = _ignore_step
    should_stop: Callable[[], bool] = _never_stop
    save_artifact: Callable[[str, bytes], str] = _discard_artifact


@dataclass
class AttemptOutcome:
    """What one attempt at a case came to (every text already masked)."""

    status: AttemptStatus
    steps: list[StepResult]
    """One result per step of the case, in order; steps that never ran are ``skipped``."""
    error: str | None = None
    failed_step: int | None = None
    """1-based index of the step that failed the attempt."""
    artifacts: list[str] = field(default_factory=list)
    """Stored artifact names, screenshots before their thumbnails."""
    browser_died: bool = False
    """The session died under the test: retry on a new one, it is not the test's fault."""
    duration_ms: int = 0


class StepFailed(Exception):
    """A step did not do what it should (its message is for the report, as is)."""


class BrowserDied(Exception):
    """The browser session is gone; nothing more can run in it."""


def thumbnail_name(name: str) -> str:
    """The thumbnail's name for a screenshot named ``name`` (``x.png`` -> ``x-thumb.png``)."""
    stem = name.removesuffix(".png")
    return f"{stem}-thumb.png"


def make_thumbnail(png: bytes, width_px: int = THUMBNAIL_WIDTH_PX) -> bytes:
    """``png`` scaled down to ``width_px`` wide (aspect kept; never scaled up), as PNG."""
    with Image.open(io.BytesIO(png)) as original:
        image: Image.Image = original
        if original.width > width_px:
            height_px = max(1, round(original.height * width_px / original.width))
            image = original.resize((width_px, height_px), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def execute_steps(driver: WebDriver, spec: CaseSpec, hooks: Hooks) -> AttemptOutcome:
    """Run every step of ``spec.test`` in ``driver`` and say how it went.

    Never raises for page or browser problems (those become the outcome); raises
    what the hooks raise. The session is left open: closing it is the caller's job.
    """
    return _Attempt(driver, spec, hooks).run()


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SHOWN_CHARS else text[: _MAX_SHOWN_CHARS - 1] + "…"


def _first_line(exc: WebDriverException) -> str:
    msg = (exc.msg or exc.__class__.__name__).strip()
    line = msg.splitlines()[0] if msg else exc.__class__.__name__
    return _shorten(line.removeprefix("unknown error: "))


def _is_death(exc: WebDriverException) -> bool:
    if isinstance(exc, InvalidSessionIdException):
        return True
    if isinstance(exc, JavascriptException):
        return False  # the page's own script said "disconnected", not the browser
    text = _first_line(exc).lower()
    return any(marker in text for marker in _DEATH_MARKERS)


def _translate(exc: Exception, step: Step, timeout_s: float) -> StepFailed | BrowserDied:
    """The one place Selenium and transport exceptions become testfleet's."""
    if not isinstance(exc, WebDriverException):
        # The driver's HTTP connection itself failed: chromedriver or the Grid node is gone.
        return BrowserDied(f"browser session died: {_shorten(f'{type(exc).__name__}: {exc}')}")
    if _is_death(exc):
        return BrowserDied(f"browser session died: {_first_line(exc)}")
    selector = step.selector or ""
    if isinstance(exc, InvalidSelectorException):
        return StepFailed(f'"{selector}" is not a valid CSS or XPath selector')
    if isinstance(exc, UnexpectedAlertPresentException):
        return StepFailed(f'an unexpected alert is open: "{_shorten(exc.alert_text or "")}"')
    if isinstance(exc, JavascriptException):
        return StepFailed(f"script failed: {_first_line(exc)}")
    if isinstance(exc, TimeoutException) and step.step_type == "navigate":
        return StepFailed(f"page did not finish loading within {timeout_s:.1f} s")
    if step.step_type == "navigate" and "net::" in (exc.msg or ""):
        return StepFailed(f"could not open the page: {_first_line(exc)}")
    if isinstance(exc, NoSuchElementException):
        return StepFailed(f'no element matches "{selector}"')
    if isinstance(exc, StaleElementReferenceException):
        return StepFailed(f'the element "{selector}" was replaced while the step used it')
    return StepFailed(_first_line(exc))


def _locator(selector: str) -> tuple[str, str]:
    if selector.startswith("xpath="):
        return By.XPATH, selector.removeprefix("xpath=")
    if selector.startswith(("//", "(//")):
        return By.XPATH, selector
    return By.CSS_SELECTOR, selector.removeprefix("css=")


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
        bad = [n for n, k in zip(names[:-1], mods, strict=True) if k not in _MODIFIERS]
        if bad:
            raise StepFailed(
                f'"{bad[0]}" in "{combo}" is not a modifier (Control, Shift, Alt, Meta)'
            )
        combos.append((mods, last))
    if not combos:
        raise StepFailed("no key to press")
    return combos


_ABSENT = "\0absent"
"""What an attribute probe reads when the element lacks the attribute."""


class _Probe:
    """An assertion's condition, remembering what it last read so the failure can say it.

    ``read()`` returns (what was seen or None when the element is missing, whether it
    satisfies the assertion). ``message`` is the failure text; a plain string gets
    ``, got <last value>`` appended.
    """

    def __init__(
        self,
        read: Callable[[], tuple[str | None, bool]],
        message: str | Callable[[], str],
        quote: bool = True,
    ) -> None:
        self._read = read
        self._message = message
        self._quote = quote
        self.last: str | None = None

    def poll(self) -> bool:
        self.last = None  # a read that raises (stale element) must not leave an old value
        self.last, ok = self._read()
        return ok

    def describe(self) -> str:
        if callable(self._message):
            return self._message()
        if self.last is None:
            got = "no such element" if self._quote else "0"
        elif self.last == _ABSENT:
            got = "no such attribute"
        else:
            got = f'"{_shorten(self.last)}"' if self._quote else self.last
        return f"{self._message}, got {got}"


class _Attempt:
    """The state of one ``execute_steps`` call."""

    def __init__(self, driver: WebDriver, spec: CaseSpec, hooks: Hooks) -> None:
        self.driver = driver
        self.spec = spec
        self.hooks = hooks
        self.mask = Masker(spec.secrets)
        self.artifacts: list[str] = []
        self._script_s: float | None = None

    # -- the attempt ------------------------------------------------------------------

    def run(self) -> AttemptOutcome:
        started = time.monotonic()
        steps = self.spec.test.steps
        total = len(steps)
        results: list[StepResult] = []
        status: AttemptStatus = "passed"
        error: str | None = None
        failed_step: int | None = None
        died = False

        try:
            self._prepare()
        except _DRIVER_ERRORS as exc:
            translated = _translate(exc, steps[0], self.spec.timeout_seconds)
            return AttemptOutcome(
                status="error",
                steps=[self._skipped(i, s) for i, s in enumerate(steps, 1)],
                error=self.mask(f"could not prepare the browser: {translated}"),
                browser_died=isinstance(translated, BrowserDied),
                duration_ms=_ms_since(started),
            )

        for number, step in enumerate(steps, 1):
            if self.hooks.should_stop():
                status, error = "cancelled", None
                break
            result, died = self._run_step(number, step)
            results.append(result)
            self.hooks.on_step(result, number, total)
            if died:
                status, error, failed_step = "error", result.error, number
                break
            if result.status != "failed":
                continue
            if failed_step is None:
                status, error, failed_step = "failed", result.error, number
            if not step.continue_on_failure:
                break
        results += [self._skipped(i, s) for i, s in enumerate(steps, 1) if i > len(results)]
        return AttemptOutcome(
            status=status,
            steps=results,
            error=error,
            failed_step=failed_step,
            artifacts=self.artifacts,
            browser_died=died,
            duration_ms=_ms_since(started),
        )

    def _prepare(self) -> None:
        # A pooled session may come with an implicit wait set by someone else; it would
        # stretch every "is it there yet?" probe of our explicit waits.
        self.driver.implicitly_wait(0)
        width, height = self.spec.viewport.width, self.spec.viewport.height
        # The suite's viewport means the page's, as in Playwright, but a window's size
        # includes the browser's own frame (about 140 px of height even headless): size
        # the window as viewport + frame (outer - inner). Nothing to do, in one round
        # trip, when the session already has that viewport.
        sizes = self._window_sizes()
        if sizes is None or sizes[:2] == [width, height]:
            return
        inner_w, inner_h, outer_w, outer_h = sizes
        window_w, window_h = width + outer_w - inner_w, height + outer_h - inner_h
        self.driver.set_window_size(window_w, window_h)
        sizes = self._window_sizes()
        if sizes is not None and sizes[:2] != [width, height]:
            # outer* did not give the frame's size exactly: correct by what is seen now.
            self.driver.set_window_size(window_w + width - sizes[0], window_h + height - sizes[1])

    def _window_sizes(self) -> list[int] | None:
        """``[innerWidth, innerHeight, outerWidth, outerHeight]`` of the window, in CSS px."""
        sizes = self.driver.execute_script(
            "return [window.innerWidth, window.innerHeight, window.outerWidth, window.outerHeight];"
        )
        if isinstance(sizes, list) and len(sizes) == 4:
            return [int(v) for v in sizes]
        return None

    def _skipped(self, number: int, step: Step) -> StepResult:
        return StepResult(
            index=number, label=self.mask(step.label), step_type=step.step_type, status="skipped"
        )

    def _run_step(self, number: int, step: Step) -> tuple[StepResult, bool]:
        """Run one step; returns its result and whether the browser died."""
        started = time.monotonic()
        timeout_s = step.timeout_seconds or self.spec.timeout_seconds
        label = self.mask(step.label)
        status: StepStatus = "passed"
        error: str | None = None
        png: bytes | None = None
        died = False
        try:
            png = self._dispatch(step, timeout_s)
        except StepFailed as exc:
            error = str(exc)
        except _DRIVER_ERRORS as exc:
            translated = _translate(exc, step, timeout_s)
            died = isinstance(translated, BrowserDied)
            error = str(translated)
        screenshot: str | None = None
        if error is not None:
            error = self.mask(error)
            status = "optional_failed" if step.is_optional and not died else "failed"
            # An optional step failing (a cookie banner that was not there) is expected
            # often enough that a picture of it would only be noise.
            if status == "failed" and not died:
                png = self._failure_screenshot()
                if png is not None:
                    screenshot = self._save_png(f"step{number:02d}-failure.png", png)
        elif png is not None:
            screenshot = self._save_png(f"step{number:02d}-{safe_name(label)}.png", png)
        result = StepResult(
            index=number,
            label=label,
            step_type=step.step_type,
            status=status,
            duration_ms=_ms_since(started),
            error=error,
            screenshot=screenshot,
        )
        return result, died

    def _failure_screenshot(self) -> bytes | None:
        try:
            return self.driver.get_screenshot_as_png()
        except _DRIVER_ERRORS as exc:
            # The failure itself is what the report needs; a missing picture of it is not
            # worth a second error (a dead browser is noticed by the next step).
            log.warning("could not take a failure screenshot: %s", exc.__class__.__name__)
            return None

    def _save_png(self, name: str, png: bytes) -> str:
        stored = self.hooks.save_artifact(name, png)
        self.artifacts.append(stored)
        self.artifacts.append(self.hooks.save_artifact(thumbnail_name(name), make_thumbnail(png)))
        return stored

    # -- steps --------------------------------------------------------------------------

    def _dispatch(self, step: Step, timeout_s: float) -> bytes | None:
        """Run a step; returns a screenshot to keep, if the step took one."""
        kind = step.step_type
        if kind == "screenshot":
            return self.driver.get_screenshot_as_png()
        handlers: dict[str, Callable[[Step, float], None]] = {
            "navigate": self._navigate,
            "click": self._click,
            "type": self._type,
            "clear": self._clear,
            "select": self._select,
            "hover": self._hover,
            "press": self._press,
            "scroll": self._scroll,
            "wait": self._wait,
            "assert": self._assert,
            "custom": self._custom,
        }
        handlers[kind](step, timeout_s)
        return None

    def _navigate(self, step: Step, timeout_s: float) -> None:
        # Remembered on the session itself: a pooled session keeps its page-load timeout
        # from test to test, so most tests need no round trip for it.
        if getattr(self.driver, _PAGE_LOAD_ATTR, None) != timeout_s:
            self.driver.set_page_load_timeout(timeout_s)
            setattr(self.driver, _PAGE_LOAD_ATTR, timeout_s)
        self.driver.get(self.spec.url(step.input_data or ""))

    def _click(self, step: Step, timeout_s: float) -> None:
        self._act(step.selector or "", timeout_s, "click", lambda element, _: element.click())

    def _type(self, step: Step, timeout_s: float) -> None:
        text = step.input_data or ""

        def type_into(element: WebElement, value: str | None) -> None:
            # Clearing first makes a repeat after a re-render type the text once, not twice;
            # an empty field (the usual case) needs no extra round trip.
            if value != "":
                element.clear()
            element.send_keys(text)

        self._act(step.selector or "", timeout_s, "type into", type_into)

    def _clear(self, step: Step, timeout_s: float) -> None:
        self._act(step.selector or "", timeout_s, "clear", lambda element, _: element.clear())

    def _act(
        self,
        selector: str,
        timeout_s: float,
        verb: str,
        action: Callable[[WebElement, str | None], None],
    ) -> None:
        """Do ``action(element, its value)`` once the element is visible, enabled and
        takes it."""
        blocked: list[str] = []

        def done() -> bool:
            seen = self._ready(selector)
            if seen.state != "ready" or seen.element is None:
                return False
            try:
                action(seen.element, seen.value)
            except (ElementClickInterceptedException, InvalidElementStateException) as exc:
                # Covered by an overlay, still animating, read-only for now: retry until
                # the deadline, like a user would (a re-rendered element is re-found).
                reason = _first_line(exc)
                blocked[:] = [f'could not {verb} "{selector}" for {timeout_s:.1f} s: {reason}']
                return False
            return True

        self._until(timeout_s, done, lambda: self._not_ready(selector, timeout_s, blocked))

    def _select(self, step: Step, timeout_s: float) -> None:
        selector, wanted = step.selector or "", step.input_data or ""
        seen: list[str] = []

        def selected() -> bool:
            element = self._visible_enabled(selector)
            if element is None:
                return False
            choice = Select(element)
            try:
                choice.select_by_visible_text(wanted)
            except NoSuchElementException:
                try:
                    choice.select_by_value(wanted)
                except NoSuchElementException:
                    # Options are often filled in by a request after the page loads.
                    seen[:] = [o.text for o in choice.options]
                    return False
            return True

        def why() -> str:
            if not seen:
                return self._not_ready(selector, timeout_s, [])
            options = ", ".join(f'"{o}"' for o in seen[:10])
            return _shorten(
                f'no option of "{selector}" has text or value "{wanted}" after '
                f"{timeout_s:.1f} s (options: {options})"
            )

        self._until(timeout_s, selected, why)

    def _hover(self, step: Step, timeout_s: float) -> None:
        selector = step.selector or ""

        def hovered() -> bool:
            element = self._visible(selector)
            if element is None:
                return False
            # Pointer actions cannot reach an element outside the viewport.
            self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
            ActionChains(self.driver).move_to_element(element).perform()
            # A layout shift (content inserted above) can move the element away between
            # the scroll and the move, leaving the pointer elsewhere: then try again.
            return bool(
                self.driver.execute_script("return arguments[0].matches(':hover');", element)
            )

        def why() -> str:
            if self._visible(selector) is None:
                return self._not_visible(selector, timeout_s)
            return f'element "{selector}" could not be hovered for {timeout_s:.1f} s (covered?)'

        self._until(timeout_s, hovered, why)

    def _press(self, step: Step, timeout_s: float) -> None:
        combos = parse_keys(step.input_data or "")
        if step.selector:
            # Element Send Keys holds modifiers until NULL releases them.
            chord = [k for mods, key in combos for k in (*mods, key, Keys.NULL)]
            self._act(step.selector, timeout_s, "press keys in", lambda e, _: e.send_keys(*chord))
            return
        actions = ActionChains(self.driver)
        for mods, key in combos:
            for mod in mods:
                actions.key_down(mod)
            actions.send_keys(key)
            for mod in reversed(mods):
                actions.key_up(mod)
        actions.perform()

    def _scroll(self, step: Step, timeout_s: float) -> None:
        if step.selector:
            element = self._wait_present(step.selector, timeout_s)
            self.driver.execute_script(
                "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});", element
            )
            return
        where = (step.input_data or "").strip().lower()
        if where == "top":
            self.driver.execute_script("window.scrollTo(0, 0);")
        elif where == "bottom":
            self.driver.execute_script(
                "window.scrollTo(0, document.scrollingElement.scrollHeight);"
            )
        else:
            try:
                pixels = float(where)
            except ValueError:
                raise StepFailed(
                    f'scroll needs a selector, "top", "bottom" or a number of pixels, not "{where}"'
                ) from None
            self.driver.execute_script("window.scrollBy(0, arguments[0]);", pixels)

    def _wait(self, step: Step, timeout_s: float) -> None:
        if step.selector:
            self._wait_visible(step.selector, timeout_s)
            return
        # The suite asked for this pause; sleep it in slices so a cancel is not held up.
        deadline = time.monotonic() + float(step.input_data or 0)
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, STOP_CHECK_S))
            if self.hooks.should_stop():
                return

    def _custom(self, step: Step, timeout_s: float) -> None:
        if self._script_s != timeout_s:
            self.driver.set_script_timeout(timeout_s)
            self._script_s = timeout_s
        value = _js_text(self.driver.execute_script(step.input_data or ""))
        if step.expected_result is not None and value != step.expected_result:
            raise StepFailed(
                _shorten(f'expected the script to return "{step.expected_result}", got "{value}"')
            )
        if step.expected_result is None and value == "false":
            raise StepFailed("the script returned false")

    # -- assertions ------------------------------------------------------------------------

    def _assert(self, step: Step, timeout_s: float) -> None:
        kind = step.assert_kind
        if kind in ("text", "text_equals"):
            probe = self._text_probe(step)
        elif kind in ("url", "url_equals", "title", "title_equals"):
            probe = self._page_probe(step)
        elif kind in ("visible", "hidden"):
            probe = self._visibility_probe(step, timeout_s)
        elif kind == "count":
            probe = self._count_probe(step)
        else:
            probe = self._attribute_probe(step)
        self._until(timeout_s, probe.poll, probe.describe)

    def _text_probe(self, step: Step) -> _Probe:
        selector, expected = step.selector or "", step.expected_result or ""
        contains = step.assert_kind == "text"

        def read() -> tuple[str | None, bool]:
            text = self._text(selector)
            if text is None:
                return None, False
            return text, expected in text if contains else text.strip() == expected.strip()

        verb = "contain" if contains else "equal"
        return _Probe(read, f'expected text of "{selector}" to {verb} "{expected}"')

    def _page_probe(self, step: Step) -> _Probe:
        expected = step.expected_result or ""
        kind = step.assert_kind
        is_url, equals = kind.startswith("url"), kind.endswith("_equals")
        # "/dashboard" equals the page at base_url + "/dashboard" too.
        targets = {expected, self.spec.url(expected)} if is_url else {expected}

        def read() -> tuple[str | None, bool]:
            actual = self.driver.current_url if is_url else self.driver.title
            return actual, actual in targets if equals else expected in actual

        what, verb = ("URL" if is_url else "title"), ("equal" if equals else "contain")
        return _Probe(read, f'expected {what} to {verb} "{expected}"')

    def _visibility_probe(self, step: Step, timeout_s: float) -> _Probe:
        selector = step.selector or ""
        if step.assert_kind == "visible":

            def visible() -> tuple[str | None, bool]:
                return None, self._visible(selector) is not None

            return _Probe(visible, lambda: self._not_visible(selector, timeout_s))

        def hidden() -> tuple[str | None, bool]:
            return None, self._hidden(selector)

        return _Probe(
            hidden, f'expected "{selector}" to be hidden, still visible after {timeout_s:.1f} s'
        )

    def _count_probe(self, step: Step) -> _Probe:
        selector, wanted = step.selector or "", int((step.expected_result or "0").strip())

        def read() -> tuple[str | None, bool]:
            found = len(self.driver.find_elements(*_locator(selector)))
            return str(found), found == wanted

        return _Probe(read, f'expected {wanted} element(s) matching "{selector}"', quote=False)

    def _attribute_probe(self, step: Step) -> _Probe:
        selector, name = step.selector or "", step.attribute or ""
        expected = step.expected_result or ""
        equals = step.assert_kind == "attribute_equals"

        def read() -> tuple[str | None, bool]:
            element = self._present(selector)
            if element is None:
                return None, False
            value = element.get_attribute(name)
            if value is None:
                return _ABSENT, False
            return value, value == expected if equals else expected in value

        verb = "equal" if equals else "contain"
        return _Probe(read, f'expected attribute "{name}" of "{selector}" to {verb} "{expected}"')

    def _text(self, selector: str) -> str | None:
        elements = self.driver.find_elements(*_locator(selector))
        if not elements:
            return None
        element = elements[0]
        if element.tag_name.lower() in ("input", "textarea"):
            # What a user sees in a text field is its value, not its (empty) text.
            return str(element.get_property("value") or "")
        return element.text

    # -- waiting for elements -------------------------------------------------------------

    def _until(
        self, timeout_s: float, condition: Callable[[], bool], describe: Callable[[], str]
    ) -> None:
        """Return once ``condition()`` holds; ``StepFailed(describe())`` after ``timeout_s``."""
        wait = WebDriverWait(
            self.driver,
            timeout_s,
            poll_frequency=POLL_S,
            # The page may re-render between finding an element and reading it.
            ignored_exceptions=(StaleElementReferenceException,),
        )
        try:
            wait.until(lambda _driver: condition())
        except TimeoutException:
            raise StepFailed(describe()) from None

    def _until_found(
        self,
        timeout_s: float,
        find: Callable[[], WebElement | None],
        describe: Callable[[], str],
    ) -> WebElement:
        """The element ``find()`` returns once it returns one (``_until``'s deadline)."""
        found: list[WebElement] = []

        def ready() -> bool:
            found[:] = [e for e in (find(),) if e is not None]
            return bool(found)

        self._until(timeout_s, ready, describe)
        return found[0]

    def _present(self, selector: str) -> WebElement | None:
        elements = self.driver.find_elements(*_locator(selector))
        return elements[0] if elements else None

    def _visible(self, selector: str) -> WebElement | None:
        element = self._present(selector)
        return element if element is not None and element.is_displayed() else None

    def _visible_enabled(self, selector: str) -> WebElement | None:
        seen = self._ready(selector)
        return seen.element if seen.state == "ready" else None

    def _ready(self, selector: str) -> Readiness:
        return probe(self.driver, *_locator(selector))

    def _hidden(self, selector: str) -> bool:
        return all(not e.is_displayed() for e in self.driver.find_elements(*_locator(selector)))

    def _not_visible(self, selector: str, timeout_s: float) -> str:
        if self._present(selector) is None:
            return f'no element matches "{selector}" after {timeout_s:.1f} s'
        return f'element "{selector}" is not visible after {timeout_s:.1f} s'

    def _not_ready(self, selector: str, timeout_s: float, blocked: list[str]) -> str:
        element = self._present(selector)
        if element is None:
            return f'no element matches "{selector}" after {timeout_s:.1f} s'
        if blocked:
            return blocked[0]
        if not element.is_displayed():
            return f'element "{selector}" is not visible after {timeout_s:.1f} s'
        return f'element "{selector}" is disabled after {timeout_s:.1f} s'

    def _wait_present(self, selector: str, timeout_s: float) -> WebElement:
        return self._until_found(
            timeout_s,
            partial(self._present, selector),
            lambda: f'no element matches "{selector}" after {timeout_s:.1f} s',
        )

    def _wait_visible(self, selector: str, timeout_s: float) -> WebElement:
        return self._until_found(
            timeout_s,
            partial(self._visible, selector),
            lambda: self._not_visible(selector, timeout_s),
        )


def _js_text(value: object) -> str:
    """A script's return value as the suite author wrote it in JavaScript terms."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


__all__ = [
    "AttemptOutcome",
    "BrowserDied",
    "Hooks",
    "StepFailed",
    "execute_steps",
    "make_thumbnail",
    "parse_keys",
    "thumbnail_name",
]
