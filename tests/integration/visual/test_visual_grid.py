"""``assert_screenshot`` on real Chromium through a real Selenium Grid, on the demo site's
``/visual`` page (a banner, a clock, animations, a caret; ``?variant=`` changes its text,
colour or layout), with baselines in a real directory store.

Suites are short-form YAML through the loader, so each test covers the whole path:
YAML -> registry -> executor -> browser -> Pillow -> baseline store.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from testfleet.artifacts import FileStore
from testfleet.results import CaseResult, RunResult, StepResult, VisualResult
from testfleet.suites.loader import load_text
from testfleet.suites.model import CaseSpec
from testfleet.visual import BaselineStore, compare, decode
from testfleet.visual.approve import approve
from testfleet.visual.compare import HIGHLIGHT_COLOR
from workers.executor import AttemptOutcome, Hooks, VisualContext, execute_steps

pytestmark = [pytest.mark.grid, pytest.mark.browser]

RUN = "20260101-000000-visual"
PROJECT = "alpha"
FAIL_S = 2
"""Timeout of the checks expected to fail (a mismatch is retried until its timeout)."""
PAGE = '{name: page, mask: "#clock"}'


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    """The artifact store: the run's pictures and the project's baselines."""
    return FileStore(tmp_path / "artifacts")


def run(
    driver: WebDriver,
    site: str,
    store: FileStore,
    steps: str,
    *,
    test: str = "look",
    require: bool = False,
) -> AttemptOutcome:
    """``steps`` (short-form YAML) as one test of suite ``visual`` on the demo site."""
    text = (
        f"name: visual\nbase_url: {site}\ntimeout_seconds: 5\ntests:\n"
        f"  - name: {test}\n    steps:\n"
    )
    text += textwrap.indent(textwrap.dedent(steps).strip(), "      ")
    suite = load_text(text, {})
    context = VisualContext(
        BaselineStore(store, PROJECT), require_baselines=require, run_id=RUN, case_id=f"{RUN}-0001"
    )
    hooks = Hooks(save_artifact=lambda name, data: store.save(RUN, name, data), visual=context)
    return execute_steps(driver, CaseSpec.of(suite, suite.tests[0]), hooks)


def checks(outcome: AttemptOutcome) -> list[tuple[str, str | None]]:
    """(step status, visual outcome) of every visual step."""
    return [(s.status, s.visual.outcome) for s in outcome.steps if s.visual is not None]


def visual_of(outcome: AttemptOutcome, index: int) -> VisualResult:
    found = outcome.steps[index - 1].visual
    assert found is not None, outcome.steps[index - 1]
    return found


def box(driver: WebDriver, selector: str) -> tuple[int, int, int, int]:
    """An element's box in the viewport (CSS px = screenshot px here)."""
    x, y, w, h = driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return [r.left, r.top, r.width, r.height];",
        selector,
    )
    return round(x), round(y), round(w), round(h)


def test_the_first_run_records_baselines_and_the_same_page_then_passes(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    steps = f"""
    - navigate: /visual
    - assert_screenshot: {PAGE}
    - assert_screenshot: {{selector: "#card"}}
    """
    first = run(driver, site, store, steps)
    assert first.status == "passed", first.steps
    assert checks(first) == [("passed", "created"), ("passed", "created")]
    page, card = visual_of(first, 2), visual_of(first, 3)
    assert (page.name, page.viewport, page.baseline_version) == ("page", "1280x800", 1)
    assert card.name == "screenshot-1"  # the first unnamed one of the test
    baselines = BaselineStore(store, PROJECT)
    assert [b.name for b in baselines.all()] == ["page", "screenshot-1"]
    card_png = baselines.image(card.baseline_id, 1)
    _x, _y, width, height = box(driver, "#card")
    assert decode(card_png).size == (width, height)  # the card alone
    # The masked clock is painted over in the baseline itself.
    x, y, _w, _h = box(driver, "#clock")
    assert decode(baselines.image(page.baseline_id, 1)).getpixel((x + 2, y + 2)) == (255, 0, 255)

    again = run(driver, site, store, steps)
    assert again.status == "passed", again.steps
    assert checks(again) == [("passed", "match"), ("passed", "match")]
    assert visual_of(again, 2).diff_ratio == 0.0
    assert [b.version for b in baselines.all()] == [1, 1]  # a match records nothing
    assert visual_of(again, 2).actual == again.steps[1].screenshot


def test_a_check_inside_a_block_is_on_its_own_row_with_its_own_pictures(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    steps = f"""
    - navigate: /visual?variant=text
    - group: look
      steps:
        - assert_screenshot: {{selector: "#card"}}
        - assert_screenshot: {PAGE}
    """
    assert checks(run(driver, site, store, steps.replace("?variant=text", ""))) == [
        ("passed", "created"),
        ("passed", "created"),
    ]
    changed = run(driver, site, store, steps)
    assert [(s.index, s.step_type, s.depth) for s in changed.steps] == [
        (1, "navigate", 0),
        (2, "group", 0),
        (3, "assert", 1),
        (4, "assert", 1),
    ]
    card, page = visual_of(changed, 3), visual_of(changed, 4)
    assert (card.name, card.outcome) == ("screenshot-1", "match")
    assert (page.name, page.outcome) == ("page", "mismatch")
    assert changed.failed_step == 4
    # Each row's pictures are named after it, and a visual failure adds no second picture.
    assert card.actual is not None
    assert "step03-" in card.actual
    assert page.actual is not None
    assert page.diff is not None
    assert "step04-" in page.actual
    assert "step04-" in page.diff
    assert changed.steps[3].screenshot == page.actual
    assert not any("failure" in name for name in changed.artifacts)


@pytest.mark.parametrize("variant", ["text", "color", "layout"])
def test_a_changed_page_fails_with_a_diff_where_the_change_is(
    driver: WebDriver, site: str, store: FileStore, variant: str
) -> None:
    created = run(driver, site, store, f"- navigate: /visual\n- assert_screenshot: {PAGE}")
    assert created.status == "passed"
    steps = f"""
    - navigate: /visual?variant={variant}
    - assert_screenshot: {PAGE}
      timeout: {FAIL_S}
    - assert_screenshot: {{name: card, selector: "#card"}}
    """
    changed = run(driver, site, store, steps)
    assert changed.status == "failed"
    assert changed.failed_step == 2
    failed = visual_of(changed, 2)
    assert failed.outcome == "mismatch"
    assert failed.baseline_version == 1
    assert failed.region is not None
    rx, ry, rw, rh = failed.region
    bx, by, bw, bh = box(driver, "#banner")
    if variant == "text":  # "Alice" -> "Bob": inside the banner, not all of it
        assert bx <= rx
        assert rx + rw <= bx + bw
        assert by <= ry
        assert ry + rh <= by + bh
        assert rw < bw / 2
    elif variant == "color":  # the whole banner, give or take its rounded corners
        assert abs(rx - bx) <= 2
        assert abs(ry - by) <= 2
        assert abs(rw - bw) <= 4
        assert abs(rh - bh) <= 4
    else:  # the notice and everything it pushed down
        _nx, ny, _nw, _nh = box(driver, "#notice")
        assert ry == ny
        assert ry > by + bh  # the banner above it is untouched
    assert 0 < failed.diff_ratio < 0.2
    assert f"differs from baseline v1: {failed.changed_px} px" in (changed.error or "")
    # The run keeps the three pictures; the diff marks exactly the changed pixels.
    assert failed.actual
    assert failed.baseline
    assert failed.diff
    baseline = decode(store.read(RUN, failed.baseline))
    actual = decode(store.read(RUN, failed.actual))
    diff = decode(store.read(RUN, failed.diff))
    again = compare(baseline, actual, failed.threshold)
    assert again.changed_px == failed.changed_px
    assert again.changed is not None
    raw = diff.tobytes()
    red = sum(1 for i in range(0, len(raw), 3) if tuple(raw[i : i + 3]) == HIGHLIGHT_COLOR)
    assert red == failed.changed_px
    assert changed.steps[1].screenshot == failed.actual  # no second "failure" screenshot
    assert not any("failure" in a for a in changed.artifacts)


def test_an_element_is_compared_by_itself_wherever_it_moved(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    steps = '- navigate: /visual\n- assert_screenshot: {name: card, selector: "#card"}'
    assert run(driver, site, store, steps).status == "passed"
    moved = run(driver, site, store, steps.replace("/visual", "/visual?variant=layout"))
    assert checks(moved) == [("passed", "match")]


def test_a_masked_clock_passes_and_an_unmasked_one_never_holds_still(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    masked = run(driver, site, store, f"- navigate: /visual\n- assert_screenshot: {PAGE}")
    assert masked.status == "passed", masked.steps
    steps = f"""
    - navigate: /visual
    - assert_screenshot: {{name: bare}}
      timeout: {FAIL_S}
    """
    unmasked = run(driver, site, store, steps)
    assert unmasked.status == "failed"
    assert "the page never held still" in (unmasked.error or "")
    assert "mask:" in (unmasked.error or "")
    assert BaselineStore(store, PROJECT).latest("bare") is None


def test_animations_transitions_and_the_caret_do_not_flake_over_20_runs(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    """The page spins a square (CSS, infinite), slides a bar (Web Animations, infinite),
    fades a panel in (finite) and blinks a caret in a focused field; each run loads it
    afresh, so each capture catches them at another moment."""
    steps = f"- navigate: /visual\n- hover: '#grow'\n- assert_screenshot: {PAGE}"
    assert checks(run(driver, site, store, steps)) == [("passed", "created")]
    outcomes = [checks(run(driver, site, store, steps)) for _ in range(20)]
    assert outcomes == [[("passed", "match")]] * 20


def test_ci_needs_a_baseline_and_an_approved_screenshot_then_passes(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    steps = f"- navigate: /visual\n- assert_screenshot: {PAGE}"
    missing = run(driver, site, store, steps, require=True)
    assert missing.status == "failed"
    assert checks(missing) == [("failed", "missing")]
    assert "requires baselines (--ci)" in (missing.error or "")
    assert BaselineStore(store, PROJECT).all() == []
    case = CaseResult(
        case_id=f"{RUN}-0001",
        run_id=RUN,
        suite="visual",
        name="look",
        status="failed",
        steps=missing.steps,
    )
    result = RunResult(
        runId=RUN,
        projectId=PROJECT,
        name="r",
        status="failed",
        createdMs=1,
        counts={"failed": 1},
        tests=[case],
    )
    [approved] = approve(result, store, "key-1")
    assert approved.version == 1
    assert checks(run(driver, site, store, steps, require=True)) == [("passed", "match")]


def test_not_and_soft_work_as_on_other_assertions(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    created = run(driver, site, store, f"- navigate: /visual\n- assert_screenshot: {PAGE}")
    assert created.status == "passed"
    steps = f"""
    - navigate: /visual?variant=color
    - assert_screenshot: {PAGE}
      not: true
    """
    differs = run(driver, site, store, steps)
    assert checks(differs) == [("passed", "mismatch")]
    steps = f"""
    - navigate: /visual
    - assert_screenshot: {PAGE}
      not: true
      timeout: {FAIL_S}
    """
    same = run(driver, site, store, steps)
    assert checks(same) == [("failed", "match")]
    assert "to differ from baseline v1" in (same.error or "")
    steps = f"""
    - navigate: /visual?variant=text
    - assert_screenshot: {PAGE}
      soft: true
      timeout: {FAIL_S}
    - assert_text: {{selector: "#banner", contains: Bob}}
    """
    soft = run(driver, site, store, steps)
    assert soft.status == "failed"
    assert [s.status for s in soft.steps] == ["passed", "failed", "passed"]


def step_statuses(steps: list[StepResult]) -> list[str]:
    return [s.status for s in steps]
