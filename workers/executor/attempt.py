"""One attempt at one test case: the step loop, results, failure screenshots.

``execute_steps`` drives a Selenium ``WebDriver`` through a case's steps and
returns an ``AttemptOutcome``; it never raises for anything the browser or the
page does. Each step goes to the handler registered for its kind
(``workers.executor.handlers``); what a handler raises is translated once, in
``errors.translate``; a dead browser becomes ``status="error",
browser_died=True`` so the caller can open a new session.

A failed step ends the attempt unless it is ``optional`` (recorded, the test
goes on as if it passed), ``continue_on_failure`` or a ``soft`` assertion (the
test goes on, and fails at the end with the first failure).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from selenium.webdriver.remote.webdriver import WebDriver

from testfleet import logs
from testfleet.artifacts import safe_name
from testfleet.results import StepResult, StepStatus
from testfleet.suite import CaseSpec, Masker, Step
from testfleet.targets import TargetPolicy
from workers.executor.errors import (
    DRIVER_ERRORS,
    BrowserDied,
    StepFailed,
    finish_message,
    translate,
)
from workers.executor.handlers import HANDLERS
from workers.executor.page import Page
from workers.executor.shots import make_thumbnail, thumbnail_name
from workers.executor.visual import VisualContext, VisualRecorder

log = logs.get_logger(__name__)

AttemptStatus = Literal["passed", "failed", "error", "cancelled"]


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
    ``visual``: the baselines ``assert_screenshot`` compares with (None: it fails).
    Exceptions raised by hooks (a Redis outage, say) propagate to the caller.
    """

    on_step: Callable[[StepResult, int, int], None] = _ignore_step
    should_stop: Callable[[], bool] = _never_stop
    save_artifact: Callable[[str, bytes], str] = _discard_artifact
    visual: VisualContext | None = None
    targets: TargetPolicy = field(default_factory=TargetPolicy)
    """Where ``navigate`` may go (the fleet's policy; the default knows no fleet)."""


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


def execute_steps(driver: WebDriver, spec: CaseSpec, hooks: Hooks) -> AttemptOutcome:
    """Run every step of ``spec.test`` in ``driver`` and say how it went.

    Never raises for page or browser problems (those become the outcome); raises
    what the hooks raise. The session is left open: closing it is the caller's job.
    """
    return _Attempt(driver, spec, hooks).run()


class _Attempt:
    """The state of one ``execute_steps`` call."""

    def __init__(self, driver: WebDriver, spec: CaseSpec, hooks: Hooks) -> None:
        self.driver = driver
        self.spec = spec
        self.hooks = hooks
        self.mask = Masker(spec.secrets)
        self.page = Page(driver, spec, self.mask, hooks.should_stop, hooks.targets)
        self.artifacts: list[str] = []
        self.visual = VisualRecorder(hooks.visual, self._save_png)
        self.page.visual = self.visual

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
        except DRIVER_ERRORS as exc:
            translated = translate(exc, steps[0], self.spec.timeout_seconds)
            return AttemptOutcome(
                status="error",
                steps=[self._skipped(i, s) for i, s in enumerate(steps, 1)],
                error=finish_message(f"could not prepare the browser: {translated}", self.mask),
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
            if not (step.continue_on_failure or step.soft or self._lenient(result)):
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
        self.page.size_viewport(self.spec.viewport.width, self.spec.viewport.height)

    def _lenient(self, result: StepResult) -> bool:
        """A visual mismatch the AI may still call cosmetic lets the test go on."""
        context = self.visual.context
        lenient = context is not None and context.lenient
        return lenient and result.visual is not None and result.visual.outcome == "mismatch"

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
        self.visual.start(number)
        try:
            png = HANDLERS[step.kind](self.page, step, timeout_s)
        except StepFailed as exc:
            error = str(exc)
        except DRIVER_ERRORS as exc:
            translated = translate(exc, step, timeout_s)
            died = isinstance(translated, BrowserDied)
            error = str(translated)
        visual = self.visual.take()
        screenshot = visual.actual if visual is not None else None
        if error is not None:
            error = finish_message(error, self.mask)
            status = "optional_failed" if step.is_optional and not died else "failed"
            # An optional step failing (a cookie banner that was not there) is expected
            # often enough that a picture of it would only be noise.
            if status == "failed" and not died and screenshot is None:
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
            visual=visual,
        )
        return result, died

    def _failure_screenshot(self) -> bytes | None:
        try:
            return self.driver.get_screenshot_as_png()
        except DRIVER_ERRORS as exc:
            # The failure itself is what the report needs; a missing picture of it is not
            # worth a second error (a dead browser is noticed by the next step).
            log.warning("could not take a failure screenshot: %s", exc.__class__.__name__)
            return None

    def _save_png(self, name: str, png: bytes) -> str:
        stored = self.hooks.save_artifact(name, png)
        self.artifacts.append(stored)
        self.artifacts.append(self.hooks.save_artifact(thumbnail_name(name), make_thumbnail(png)))
        return stored


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
