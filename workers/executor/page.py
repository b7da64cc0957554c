"""What every step handler works with: the session, waiting, finding and actionability.

``Page`` holds one attempt's browser session and case, and offers the few
things handlers are built from:

- ``until(timeout_s, condition, describe)``: poll until a condition holds,
  else ``StepFailed(describe())``; no implicit waits anywhere, so this deadline
  is the only one;
- ``act(...)``: wait until the element passes its kind's actionability checks
  (one ``probe`` round trip per poll), then act, retrying while the browser
  still refuses (covered after all, re-rendered), and on timeout say which
  check failed;
- ``inspect``/``find``: read elements through the selector engine;
- ``shown(text)``: a value quoted in a message, masked and shortened.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    InvalidElementStateException,
    MoveTargetOutOfBoundsException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from testfleet.masking import Masker
from testfleet.suites.compose import CAPTURED
from testfleet.suites.model import CaseSpec
from testfleet.suites.steps.base import Check
from testfleet.suites.steps.model import Step
from testfleet.targets.policy import TargetPolicy
from workers.executor.errors import StepFailed, first_line, shorten
from workers.executor.probe import Readiness, Retarget, Script, inspect, probe, probe_and, query

if TYPE_CHECKING:
    from workers.executor.visual import VisualRecorder

POLL_S = 0.1
"""How often explicit waits re-check their condition, in seconds."""
_PROBE_SCRIPT_S = 2.0
"""Script timeout the stability probe needs at least, in seconds."""

_REFUSALS = (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    InvalidElementStateException,
    MoveTargetOutOfBoundsException,
)
"""What the browser says when an action cannot land yet (covered, moving, read-only)."""


class Blocks(Protocol):
    """Runs the steps inside a block (the attempt does: rows, failures, skips)."""

    def run_block(self, steps: list[Step]) -> None: ...


class _NoBlocks:
    def run_block(self, steps: list[Step]) -> None:
        raise StepFailed("block steps need an attempt to run in")


Action = Callable[[Readiness], None]
Handler = Callable[["Page", Step, float], bytes | None]
"""Runs one kind of step: (page, step, timeout in seconds) -> a screenshot to keep, if any."""


class Page:
    """One attempt's session, case and helpers (see the module docstring)."""

    def __init__(
        self,
        driver: WebDriver,
        spec: CaseSpec,
        mask: Masker,
        should_stop: Callable[[], bool],
        targets: TargetPolicy | None = None,
    ) -> None:
        self.driver = driver
        self.spec = spec
        self.mask = mask
        self._secrets = list(spec.secrets)
        self.should_stop = should_stop
        self.targets = targets or TargetPolicy()
        """Where ``navigate`` may send the browser (``testfleet.targets.policy``)."""
        self.testid = spec.testid_attribute
        self.script_timeout_s: float | None = None
        self.tabs: list[str] = []
        """Handles of the tabs ``switch_tab`` left, most recent last (``close_tab`` returns)."""
        self.checked: set[str] = set()
        self.internal: set[str] = set()
        """Window handles seen to be tabs, and Chromium's own windows (not tabs)."""
        self.visual: VisualRecorder | None = None
        """``assert_screenshot``'s side of the attempt (baselines, artifacts, its result)."""
        self.blocks: Blocks = _NoBlocks()
        self.values: dict[str, str] = {}
        """What ``capture`` steps took, by name (``@{name}`` in later steps)."""

    # -- captured values ---------------------------------------------------------------

    def keep(self, name: str, value: str, secret: bool) -> None:
        """Remember a captured value; a secret one is masked from now on."""
        self.values[name] = value
        if secret and value:
            self._secrets.append(value)
            self.mask = Masker(self._secrets)

    def resolve(self, step: Step) -> Step:
        """``step`` with every ``@{name}`` replaced by the value captured as ``name``."""
        changes: dict[str, Any] = {}
        for field in ("selector", "input_data", "expected_result", "target", "key", "attribute"):
            text = getattr(step, field)
            if text and "@" in text:
                changes[field] = self._substitute(text)
        for field in ("when", "condition"):
            condition = getattr(step, field)
            if condition is None:
                continue
            texts = {f: getattr(condition, f) for f in ("selector", "expected", "input")}
            parts = {f: self._substitute(t) for f, t in texts.items() if t and "@" in t}
            if parts:
                changes[field] = condition.model_copy(update=parts)
        return step.model_copy(update=changes) if changes else step

    def _substitute(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "@{"
            if name not in self.values:
                raise StepFailed(f"nothing was captured as {name} (its capture step did not run)")
            return self.values[name]

        return CAPTURED.sub(replace, text)

    # -- messages ------------------------------------------------------------------

    def shown(self, text: str) -> str:
        """``text`` as quoted in a message: secrets masked, then cut short."""
        return shorten(self.mask(text))

    # -- waiting -------------------------------------------------------------------

    def until(
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

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` (a ``wait`` step asked for exactly that), in slices so that a
        cancel is not held up."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 1.0))
            if self.should_stop():
                return

    # -- elements ------------------------------------------------------------------

    def probe(
        self, selector: str, checks: tuple[Check, ...] = (), retarget: Retarget = "none"
    ) -> Readiness:
        if "stable" in checks and (self.script_timeout_s or _PROBE_SCRIPT_S) < _PROBE_SCRIPT_S:
            # The stability check waits for a frame inside the page (up to 0.5 s): a
            # script step's shorter script timeout must not cut it off.
            self.driver.set_script_timeout(_PROBE_SCRIPT_S)
            self.script_timeout_s = _PROBE_SCRIPT_S
        return probe(self.driver, selector, self.testid, checks, retarget)

    def inspect(self, selector: str, kind: str, name: str | None = None) -> dict[str, Any]:
        return inspect(self.driver, selector, self.testid, kind, name)

    def find_all(self, selector: str) -> list[WebElement]:
        return query(self.driver, selector, self.testid)

    def wait_attached(self, selector: str, timeout_s: float) -> WebElement:
        """The first element matching ``selector`` once there is one."""
        found: list[WebElement] = []

        def there() -> bool:
            found[:] = self.find_all(selector)[:1]
            return bool(found)

        self.until(
            timeout_s, there, lambda: f'no element matches "{selector}" after {timeout_s:.1f} s'
        )
        return found[0]

    def act(
        self,
        step: Step,
        timeout_s: float,
        verb: str,
        checks: tuple[Check, ...],
        action: Action,
        *,
        selector: str | None = None,
        retarget: Retarget = "none",
    ) -> Readiness:
        """Do ``action(readiness)`` once the element passes ``checks`` (none with
        ``force: true``); returns what the probe saw when the action went through."""
        selector = selector if selector is not None else step.selector or ""
        checks = () if step.force else checks
        last: list[Readiness] = []
        refused: list[str] = []

        def attempt() -> bool:
            seen = self.probe(selector, checks, retarget)
            last[:] = [seen]
            if not _ready(seen, selector):
                return False
            try:
                action(seen)
            except _REFUSALS as exc:
                # Covered after all, still animating, read-only for now: retry until the
                # deadline, like a user would (a re-rendered element is found again).
                why = first_line(exc)
                refused[:] = [f'could not {verb} "{selector}" for {timeout_s:.1f} s: {why}']
                return False
            return True

        self.until(timeout_s, attempt, lambda: self.why_not(selector, timeout_s, last, refused))
        return last[0]

    def act_in_page(
        self,
        step: Step,
        timeout_s: float,
        script: Script,
        checks: tuple[Check, ...],
        argument: str,
        accept: Callable[[Readiness], bool] | None = None,
        why: Callable[[str], str] | None = None,
    ) -> Readiness:
        """``act`` for an action done by the page itself in the probe's round trip
        (``probe.FILL``, ``CHOOSE``): ``accept(readiness)`` says whether it went
        through; ``why(default message)`` may say better why not."""
        selector = step.selector or ""
        checks = () if step.force else checks
        last: list[Readiness] = []

        def attempt() -> bool:
            seen = probe_and(self.driver, script, selector, self.testid, checks, argument)
            last[:] = [seen]
            if not _ready(seen, selector):
                return False
            return accept(seen) if accept is not None else True

        def describe() -> str:
            default = self.why_not(selector, timeout_s, last, [])
            return why(default) if why is not None else default

        self.until(timeout_s, attempt, describe)
        return last[0]

    def why_not(
        self, selector: str, timeout_s: float, last: list[Readiness], refused: list[str]
    ) -> str:
        """Which actionability check kept failing, in words."""
        after = f"after {timeout_s:.1f} s"
        state = last[0].state if last else "missing"
        if state == "missing":
            return f'no element matches "{selector}" {after}'
        if state == "ready" and refused:
            return refused[0]
        if state == "covered":
            cover = self.shown(str(last[0].info.get("detail") or "another element"))
            return (
                f'element "{selector}" is covered by {cover} {after} '
                "(it would receive the click; force: true clicks anyway)"
            )
        words = {
            "hidden": "is not visible",
            "disabled": "is disabled",
            "readonly": "is not editable (read-only)",
            "unstable": "is not stable (still moving)",
        }
        return f'element "{selector}" {words.get(state, "is not ready")} {after}'

    # -- the viewport ----------------------------------------------------------------

    def size_viewport(self, width: int, height: int) -> None:
        """Make the page's viewport ``width`` x ``height`` CSS px (one round trip when it is).

        A suite's viewport means the page's, as in Playwright, but a window's size
        includes the browser's own frame (about 140 px of height even headless): the
        window is sized as viewport + frame (outer - inner), then corrected once by
        what is seen if outer* did not give the frame's size exactly.
        """
        sizes = self._window_sizes()
        if sizes is None or sizes[:2] == [width, height]:
            return
        inner_w, inner_h, outer_w, outer_h = sizes
        window_w, window_h = width + outer_w - inner_w, height + outer_h - inner_h
        self.driver.set_window_size(window_w, window_h)
        sizes = self._window_sizes()
        if sizes is not None and sizes[:2] != [width, height]:
            self.driver.set_window_size(window_w + width - sizes[0], window_h + height - sizes[1])

    def _window_sizes(self) -> list[int] | None:
        """``[innerWidth, innerHeight, outerWidth, outerHeight]`` of the window, in CSS px."""
        sizes = self.driver.execute_script(
            "return [window.innerWidth, window.innerHeight, window.outerWidth, window.outerHeight];"
        )
        if isinstance(sizes, list) and len(sizes) == 4:
            return [int(v) for v in sizes]
        return None

    def run_script(self, script: str, timeout_s: float, *args: Any) -> Any:
        """``script`` run in the page with ``timeout_s`` as its script timeout."""
        if self.script_timeout_s != timeout_s:
            self.driver.set_script_timeout(timeout_s)
            self.script_timeout_s = timeout_s
        return self.driver.execute_script(script, *args)


def _ready(seen: Readiness, selector: str) -> bool:
    """Whether the probe says go; a kind of element that can never be edited fails at once."""
    if seen.state == "noteditable":
        raise StepFailed(
            f'element "{selector}" cannot be edited: a <{seen.info.get("tag")}> is not an '
            "input, textarea, select or contenteditable element"
        )
    return seen.state == "ready"
