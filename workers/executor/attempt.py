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

from selenium.webdriver.remote.webdriver import WebDriver

from testfleet import logs
from testfleet.artifacts import safe_name
from testfleet.events import now_ms
from testfleet.evidence.recorder import TraceRecorder
from testfleet.fleet.browser import known_viewport, note_viewport
from testfleet.masking import Masker
from testfleet.results import AttemptStatus, StepResult
from testfleet.suites.model import CaseSpec
from testfleet.suites.steps.compare import PatternTooSlow
from testfleet.suites.steps.model import Step
from testfleet.targets.policy import TargetPolicy
from workers.executor.conditions import holds
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
    trace: TraceRecorder | None = None
    """Records the attempt's evidence (its trace mode captures it), else None."""


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
    """The state of one ``execute_steps`` call; also the runner of blocks' steps
    (``page.Blocks``) for the group, if and repeat handlers."""

    def __init__(self, driver: WebDriver, spec: CaseSpec, hooks: Hooks) -> None:
        self.driver = driver
        self.spec = spec
        self.hooks = hooks
        self.page = Page(driver, spec, Masker(spec.secrets), hooks.should_stop, hooks.targets)
        self.page.blocks = self
        self.artifacts: list[str] = []
        self.visual = VisualRecorder(hooks.visual, self._save_png)
        self.page.visual = self.visual
        self.results: list[StepResult] = []
        self.total = planned_rows(spec.test.steps)
        self.failed_step: int | None = None
        self.error: str | None = None
        self.stopping = False
        """A step failed and the test does not go on: only ``always`` steps still run."""
        self.cancelled = False
        self.died = False
        self._open: list[tuple[StepResult, float, bool]] = []
        """The steps running now, outermost first: (row, started, forced). A block's row is
        published when its first inner step runs, so rows arrive in order."""

    def run(self) -> AttemptOutcome:
        started = time.monotonic()
        steps = self.spec.test.steps
        try:
            self._prepare()
        except DRIVER_ERRORS as exc:
            translated = translate(exc, steps[0], self.spec.timeout_seconds)
            return AttemptOutcome(
                status="error",
                steps=skipped_results(steps, self.page.mask),
                error=finish_message(
                    f"could not prepare the browser: {translated}", self.page.mask
                ),
                browser_died=isinstance(translated, BrowserDied),
                duration_ms=_ms_since(started),
            )
        self._run_steps(steps, 0, None, forced=False)
        status: AttemptStatus = "passed"
        if self.died:
            status = "error"
        elif self.cancelled:
            status = "cancelled"
        elif self.failed_step is not None:
            status = "failed"
        return AttemptOutcome(
            status=status,
            steps=self.results,
            error=None if status in ("passed", "cancelled") else self.error,
            failed_step=None if status == "cancelled" else self.failed_step,
            artifacts=self.artifacts,
            browser_died=self.died,
            duration_ms=_ms_since(started),
        )

    def _prepare(self) -> None:
        # No implicit wait to clear: sessions come only from testfleet's providers, with
        # WebDriver's default of 0, and nothing in testfleet sets one. The viewport needs
        # no check when the pool's reset has just seen it at the test's size (it reads
        # it after every test): then a test's first command is its first step.
        wanted = (self.spec.viewport.width, self.spec.viewport.height)
        if known_viewport(self.driver) != wanted:
            self.page.size_viewport(*wanted)
        note_viewport(self.driver, None)  # seen once, for this test; the steps may change it

    # -- the steps ---------------------------------------------------------------------

    def run_block(self, steps: list[Step]) -> None:
        """Run the steps inside the block step running now (``page.Blocks``)."""
        self._publish_open()
        row, _, forced = self._open[-1]
        self._run_steps(steps, row.depth + 1, row.index, forced)

    def _run_steps(self, steps: list[Step], depth: int, parent: int | None, forced: bool) -> None:
        for step in steps:
            if not (self.cancelled or self.died) and self.hooks.should_stop():
                self.cancelled = True
            if self.cancelled or self.died or (self.stopping and not (forced or step.always)):
                self._skip([step], depth, parent)
                continue
            self._run_step(step, depth, parent, forced or step.always)

    def _run_step(self, step: Step, depth: int, parent: int | None, forced: bool) -> None:
        if self.hooks.trace is not None:
            answers_dialog = step.kind == "dialog"
            self.hooks.trace.step_starting(
                has_selector=bool(step.selector), answers_dialog=answers_dialog
            )
        started = time.monotonic()
        timeout_s = step.timeout_seconds or self.spec.timeout_seconds
        row = StepResult(
            index=0,
            label=self.page.mask(step.label),
            step_type=step.step_type,
            status="passed",
            depth=depth,
            parent=parent,
            selector=self.page.mask(step.selector) if step.selector else None,
        )
        self._open.append((row, started, forced))
        png: bytes | None = None
        error: str | None = None
        died = False
        # A leaf step's row is the next one out (block rows are out before their steps).
        self.visual.start(len(self.results) + 1)
        try:
            resolved = self.page.resolve(step)
            if resolved.when is not None and not holds(self.page, resolved.when, timeout_s):
                row.status = "skipped"
                row.label = self.page.mask(f"{step.label} (when {resolved.when.label}: no)")
            else:
                # A repeat resolves its condition before each round itself.
                run = step if step.kind == "repeat" else resolved
                png = HANDLERS[step.kind](self.page, run, timeout_s)
        except (StepFailed, PatternTooSlow) as exc:
            error = str(exc)
        except DRIVER_ERRORS as exc:
            translated = translate(exc, step, timeout_s)
            died = isinstance(translated, BrowserDied)
            error = str(translated)
        finally:
            self._open.pop()
        visual = self.visual.take()
        if visual is not None:
            row.visual, row.screenshot = visual, visual.actual
        row.accessibility, row.performance = self.visual.accessibility, self.visual.performance
        if row.accessibility is not None and row.screenshot is None:
            # The first highlighted element stands for the step (reports, the dashboard).
            shots = [n.screenshot for v in row.accessibility.violations for n in v.nodes]
            row.screenshot = next((s for s in shots if s), None)
        if row.index:
            # A block whose steps ran (its row went out before them): done, unless its own
            # part failed afterwards (a repeat past its bound), which is a row of its own.
            if error is None:
                return
            row = row.model_copy(update={"index": 0, "duration_ms": 0})
        self._finish(row, step, started, png, error, died)

    def _finish(
        self,
        row: StepResult,
        step: Step,
        started: float,
        png: bytes | None,
        error: str | None,
        died: bool,
    ) -> None:
        row.index = len(self.results) + 1
        if error is not None:
            error = finish_message(error, self.page.mask)
            row.status = "optional_failed" if step.is_optional and not died else "failed"
            # An optional step failing (a cookie banner that was not there) is expected
            # often enough that a picture of it would only be noise.
            # A visual check's failure already has its picture (the actual screenshot).
            if row.status == "failed" and not died and row.screenshot is None:
                png = self._failure_screenshot()
                if png is not None:
                    row.screenshot = self._save_png(f"step{row.index:02d}-failure.png", png)
        elif png is not None:
            row.screenshot = self._save_png(f"step{row.index:02d}-{safe_name(row.label)}.png", png)
        row.error = error
        row.duration_ms = _ms_since(started)
        if self.hooks.trace is not None:
            failed = row.status == "failed"
            self.hooks.trace.step_done(row, _wall_ms(started), failed=failed, died=died)
        self._emit(row)
        self.died = self.died or died
        if row.status == "failed":
            if self.failed_step is None or died:
                self.failed_step, self.error = row.index, error
            if not (step.continue_on_failure or step.soft or self._lenient(row)):
                self.stopping = True

    def _lenient(self, row: StepResult) -> bool:
        """A visual mismatch the AI may still call cosmetic lets the test go on."""
        context = self.visual.context
        lenient = context is not None and context.lenient
        return lenient and row.visual is not None and row.visual.outcome == "mismatch"

    def _publish_open(self) -> None:
        """Publish the rows of the blocks now running that are not out yet (outermost first)."""
        for row, started, _ in self._open:
            if not row.index:
                row.index = len(self.results) + 1
                row.duration_ms = _ms_since(started)
                if self.hooks.trace is not None:
                    self.hooks.trace.block_started(row, _wall_ms(started))
                self._emit(row)

    def _emit(self, row: StepResult) -> None:
        self.results.append(row)
        self.hooks.on_step(row, row.index, max(self.total, row.index))

    def _skip(self, steps: list[Step], depth: int, parent: int | None) -> None:
        for step in steps:
            number = len(self.results) + 1
            self.results.append(
                StepResult(
                    index=number,
                    label=self.page.mask(step.label),
                    step_type=step.step_type,
                    status="skipped",
                    depth=depth,
                    parent=parent,
                )
            )
            self._skip(step.steps or [], depth + 1, number)

    # -- screenshots ---------------------------------------------------------------------

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
        if self.hooks.trace is not None:
            self.hooks.trace.screenshot(stored, png)
        self.artifacts.append(self.hooks.save_artifact(thumbnail_name(name), make_thumbnail(png)))
        return stored


def planned_rows(steps: list[Step]) -> int:
    """How many result rows ``steps`` make when every step runs once (a fixed repeat its
    number of times): the progress total."""
    rows = 0
    for step in steps:
        inner = planned_rows(step.steps or [])
        rounds = step.times if step.step_type == "repeat" and step.condition is None else 1
        rows += 1 + inner * (rounds or 1)
    return rows


def skipped_results(steps: list[Step], mask: Masker) -> list[StepResult]:
    """A ``skipped`` row for each of ``steps`` and the steps inside them (an attempt that
    could not start)."""
    rows: list[StepResult] = []

    def add(inner: list[Step], depth: int, parent: int | None) -> None:
        for step in inner:
            number = len(rows) + 1
            rows.append(
                StepResult(
                    index=number,
                    label=mask(step.label),
                    step_type=step.step_type,
                    status="skipped",
                    depth=depth,
                    parent=parent,
                )
            )
            add(step.steps or [], depth + 1, number)

    add(steps, 0, None)
    return rows


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _wall_ms(started: float) -> int:
    """Epoch ms of the monotonic time ``started`` (the trace's timeline is wall time)."""
    return now_ms() - _ms_since(started)
