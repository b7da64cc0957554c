"""``assert_screenshot``: the page (or an element) against its approved baseline.

What makes screenshots comparable from run to run, as Playwright's
``toHaveScreenshot`` does it:

- animations and transitions frozen for the capture: a style sheet sets every CSS
  animation and transition to end at once (finite ones rest at their end, infinite
  ones at their start), Web Animations made by scripts are finished (or cancelled
  when infinite), SVG animations paused at 0; the text caret is made transparent.
  The style sheet is removed after the step;
- ``mask:`` selectors: every element they match is painted over (``MASK_COLOR``) in
  the capture, at the box it has then, so a clock or an ad cannot differ;
- a stable page: captures are taken until two in a row are identical, and only
  that one is compared (a capture that already matches the baseline passes at
  once). A stable capture that still differs is retried until the step's timeout
  (a late image may still arrive), then the step fails with the diff.

An element is captured as it shows in the viewport (scrolled into view, clipped
to the viewport). With no baseline yet the stable capture becomes version 1
(``baseline created``), unless the run requires baselines (``--ci``): then the
step fails and its screenshot is there to approve.

The step saves its screenshot (``-actual``), and on a mismatch the baseline it
was compared with (``-baseline``) and the diff (``-diff``) as artifacts of the
run; ``VisualRecorder`` hands the comparison (``VisualResult``) to the attempt,
which puts it in the step's result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image
from selenium.webdriver.remote.webelement import WebElement

from testfleet.artifacts import visual_names
from testfleet.results import (
    AccessibilityResult,
    PerformanceResult,
    VisualOutcome,
    VisualResult,
)
from testfleet.suites.steps.model import Step, walk
from testfleet.visual import (
    DEFAULT_MAX_DIFF_RATIO,
    DEFAULT_THRESHOLD,
    BaselineIdentity,
    BaselineStore,
    Comparison,
    compare,
    decode,
    diff_image,
    encode,
    identical,
)
from testfleet.visual.compare import Rect, crop, paint
from workers.executor.errors import StepFailed
from workers.executor.page import Handler, Page

FREEZE_ID = "__testfleet_freeze"
FREEZE_JS = f"""
if (!document.getElementById("{FREEZE_ID}")) {{
  const style = document.createElement("style");
  style.id = "{FREEZE_ID}";
  style.textContent = "*,*::before,*::after{{transition:none!important;"
    + "animation-delay:0s!important;animation-duration:0s!important;"
    + "animation-iteration-count:1!important;caret-color:transparent!important}}";
  (document.head || document.documentElement).appendChild(style);
}}
for (const a of document.getAnimations()) {{
  try {{
    const end = a.effect ? a.effect.getComputedTiming().endTime : Infinity;
    if (Number.isFinite(end)) a.finish(); else a.cancel();
  }} catch (e) {{ a.cancel(); }}
}}
for (const svg of document.querySelectorAll("svg")) {{
  try {{ svg.pauseAnimations(); svg.setCurrentTime(0); }} catch (e) {{}}
}}
"""
"""Freezes what moves on its own (see the module docstring); safe to run again."""
THAW_JS = f'const s = document.getElementById("{FREEZE_ID}"); if (s) s.remove();'

MIN_CAPTURES = 3
"""The stable-page wait takes at least this many captures (two comparisons of a pair in a
row) before its deadline can end it: on a busy machine one capture can take most of a
short timeout, and a single pair caught mid-change says nothing about stability."""

MEASURE_JS = """
const [element, masks] = arguments;
if (element) element.scrollIntoView({block: "nearest", inline: "nearest"});
const box = e => {
  const r = e.getBoundingClientRect();
  return [r.left, r.top, r.width, r.height];
};
return {width: window.innerWidth, height: window.innerHeight,
        element: element ? box(element) : null, masks: masks.map(box)};
"""
"""The viewport (CSS px), the element's box and every masked element's box."""


@dataclass
class VisualContext:
    """What ``assert_screenshot`` needs beyond the page: the project's baselines and the
    run's rules (the worker makes one per attempt)."""

    baselines: BaselineStore
    require_baselines: bool = False
    """``--ci``: a missing baseline fails the step instead of being created."""
    lenient: bool = False
    """A mismatch lets the test go on, as ``soft: true`` would (on while
    ``ai.visual_downgrade_cosmetic`` may turn it into a warning after the attempt)."""
    run_id: str | None = None
    case_id: str | None = None


@dataclass
class VisualRecorder:
    """One attempt's side of visual steps: where artifacts go, which step runs, and the
    comparison the last visual step made (taken by the attempt after each step)."""

    context: VisualContext | None
    save: Callable[[str, bytes], str]
    """Stores a PNG of the run (with its thumbnail); returns its artifact name."""
    step_number: int = 0
    last: VisualResult | None = field(default=None)
    accessibility: AccessibilityResult | None = None
    """What the last ``assert_accessible`` found (it saves its pictures here too)."""
    performance: PerformanceResult | None = None
    """What the last ``assert_performance`` measured."""

    def start(self, step_number: int) -> None:
        self.step_number = step_number
        self.last = self.accessibility = self.performance = None

    def take(self) -> VisualResult | None:
        taken, self.last = self.last, None
        return taken


@dataclass(frozen=True)
class Capture:
    image: Image.Image
    viewport: str
    """``<width>x<height>`` CSS px."""


def baseline_name(page: Page, step: Step) -> str:
    """The step's name, or ``screenshot-N`` for the Nth unnamed ``assert_screenshot`` of the
    test (Playwright's counter: adding a named one does not rename the others)."""
    if step.name:
        return step.name
    unnamed = [
        s for s in walk(page.spec.test.steps) if s.kind == "assert_screenshot" and not s.name
    ]
    number = next((i for i, s in enumerate(unnamed, 1) if s is step), len(unnamed) + 1)
    return f"screenshot-{number}"


def _element(page: Page, step: Step) -> WebElement | None:
    if not step.selector:
        return None
    found = page.find_all(step.selector)
    if not found:
        raise StepFailed(f'no element matches "{step.selector}" to capture')
    return found[0]


def capture(page: Page, step: Step) -> Capture:
    """One screenshot of the viewport (or the element), masks painted, as RGB."""
    element = _element(page, step)
    masked = [e for selector in step.mask or [] for e in page.find_all(selector)]
    seen = page.driver.execute_script(MEASURE_JS, element, masked)
    image = decode(page.driver.get_screenshot_as_png())
    scale = image.width / max(1, int(seen["width"]))
    boxes: list[Rect] = [
        (x * scale, y * scale, w * scale, h * scale) for x, y, w, h in seen["masks"]
    ]
    if seen["element"] is not None:
        x, y, w, h = (v * scale for v in seen["element"])
        cropped = crop(image, (x, y, w, h))
        if cropped is None:
            raise StepFailed(f'element "{step.selector}" has no visible box to capture')
        image = cropped
        boxes = [(bx - x, by - y, bw, bh) for bx, by, bw, bh in boxes]
    return Capture(paint(image, boxes), f"{int(seen['width'])}x{int(seen['height'])}")


class _Check:
    """One ``assert_screenshot`` run: capture until stable, compare, record."""

    def __init__(
        self,
        page: Page,
        step: Step,
        timeout_s: float,
        recorder: VisualRecorder,
        context: VisualContext,
    ) -> None:
        self.page, self.step, self.recorder, self.context = page, step, recorder, context
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.threshold = DEFAULT_THRESHOLD if step.threshold is None else step.threshold
        ratio = step.max_diff_ratio
        self.max_ratio = DEFAULT_MAX_DIFF_RATIO if ratio is None else ratio
        self.name = baseline_name(page, step)

    def ok(self, comparison: Comparison) -> bool:
        return comparison.within(self.max_ratio) != self.step.negate

    def run(self) -> None:
        if self.step.selector:
            self.page.wait_attached(self.step.selector, self.timeout_s)
        first = capture(self.page, self.step)
        identity = BaselineIdentity(
            self.page.spec.suite,
            self.page.spec.test.name,
            self.name,
            first.viewport,
            self.page.spec.browser,
        )
        version = self.context.baselines.latest(identity.id)
        baseline = (
            decode(self.context.baselines.image(identity.id, version.version)) if version else None
        )
        if baseline is None and self.step.negate:
            raise StepFailed(
                f'not: true needs a baseline to differ from, and "{self.name}" has none yet'
            )
        if baseline is not None and version is not None:
            quick = compare(baseline, first.image, self.threshold)
            if self.ok(quick):
                self._record(identity, first, version.version, quick, baseline)
                return
        stable, comparison = self._stable(first, baseline)
        if stable is None:
            raise StepFailed(
                f"the page never held still: two captures in a row kept differing for "
                f"{self.timeout_s:.1f} s (mask what changes by itself, e.g. a clock: "
                "mask: [selector])"
            )
        if baseline is None or version is None:
            self._no_baseline(identity, stable)
            return
        assert comparison is not None
        self._record(identity, stable, version.version, comparison, baseline)
        if not self.ok(comparison):
            raise StepFailed(self._mismatch_message(comparison, version.version))

    def _stable(
        self, first: Capture, baseline: Image.Image | None
    ) -> tuple[Capture | None, Comparison | None]:
        """Captures until two in a row agree and (with a baseline) the comparison passes, or
        the deadline; the last stable capture and its comparison."""
        previous = first
        stable: Capture | None = None
        comparison: Comparison | None = None
        captures = 1
        while True:
            current = capture(self.page, self.step)
            captures += 1
            if identical(previous.image, current.image):
                stable = current
                if baseline is None:
                    return stable, None
                comparison = compare(baseline, current.image, self.threshold)
                if self.ok(comparison):
                    return stable, comparison
            previous = current
            if self.page.should_stop():
                return stable, comparison
            if time.monotonic() >= self.deadline and captures >= MIN_CAPTURES:
                return stable, comparison

    def _no_baseline(self, identity: BaselineIdentity, stable: Capture) -> None:
        if self.context.require_baselines:
            self._record(identity, stable, None, None, outcome="missing")
            raise StepFailed(
                f'no baseline "{self.name}" ({identity.viewport}) for this test, and the run '
                "requires baselines (--ci): approve this run's screenshot with `testfleet "
                "baselines approve RUN_ID`, or run once without --ci to record it"
            )
        png = encode(stable.image)
        created = self.context.baselines.add(
            identity,
            png,
            stable.image.size,
            "created",
            run_id=self.context.run_id,
            case_id=self.context.case_id,
            step=self.recorder.step_number,
        )
        self._record(identity, stable, created.version, None, outcome="created", png=png)

    def _mismatch_message(self, comparison: Comparison, version: int) -> str:
        if self.step.negate:
            return (
                f'expected the screenshot "{self.name}" to differ from baseline '
                f"v{version}; it matches ({comparison.ratio:.2%} differ)"
            )
        if comparison.size_change is not None:
            return (
                f'screenshot "{self.name}" differs from baseline v{version} in size '
                f"({comparison.size_change})"
            )
        x, y, w, h = comparison.region or (0, 0, 0, 0)
        return (
            f'screenshot "{self.name}" differs from baseline v{version}: '
            f"{comparison.changed_px} px ({comparison.ratio:.2%}) changed, more than the "
            f"{self.max_ratio:.2%} allowed, in the region x={x} y={y} {w}x{h} "
            "(see the diff; `testfleet baselines approve RUN_ID` accepts the change)"
        )

    def _record(
        self,
        identity: BaselineIdentity,
        capture: Capture,
        version: int | None,
        comparison: Comparison | None,
        baseline: Image.Image | None = None,
        *,
        outcome: VisualOutcome | None = None,
        png: bytes | None = None,
    ) -> None:
        """Save the step's pictures and leave its ``VisualResult`` for the attempt. Without
        ``outcome``, the comparison says: ``match`` within the tolerance, else ``mismatch``
        (the step's own verdict also weighs ``not``)."""
        if outcome is None:
            assert comparison is not None
            outcome = "match" if comparison.within(self.max_ratio) else "mismatch"
        actual_name, baseline_name_, diff_name = visual_names(
            self.recorder.step_number, self.page.mask(self.step.label)
        )
        actual = self.recorder.save(actual_name, png or encode(capture.image))
        stored_baseline = stored_diff = None
        if outcome == "mismatch" and comparison is not None and baseline is not None:
            stored_baseline = self.recorder.save(baseline_name_, encode(baseline))
            stored_diff = self.recorder.save(
                diff_name, encode(diff_image(capture.image, comparison))
            )
        width, height = capture.image.size
        self.recorder.last = VisualResult(
            outcome=outcome,
            baseline_id=identity.id,
            baseline_version=version,
            suite=identity.suite,
            test=self.page.mask(identity.test),
            name=self.page.mask(identity.name),
            viewport=identity.viewport,
            browser=identity.browser,
            diff_ratio=round(comparison.ratio, 6) if comparison else 0.0,
            changed_px=comparison.changed_px if comparison else 0,
            total_px=width * height,
            region=list(comparison.region) if comparison and comparison.region else None,
            size_change=comparison.size_change if comparison else None,
            threshold=self.threshold,
            max_diff_ratio=self.max_ratio,
            actual=actual,
            baseline=stored_baseline,
            diff=stored_diff,
        )


def assert_screenshot(page: Page, step: Step, timeout_s: float) -> None:
    recorder = page.visual
    if recorder is None or recorder.context is None:
        raise StepFailed(
            "assert_screenshot needs a baseline store, and this attempt has none "
            "(run it through a worker)"
        )
    page.driver.execute_script(FREEZE_JS)
    try:
        _Check(page, step, timeout_s, recorder, recorder.context).run()
    finally:
        page.driver.execute_script(THAW_JS)


HANDLERS: dict[str, Handler] = {"assert_screenshot": assert_screenshot}
