"""``assert_accessible`` on real Chromium through a real Selenium Grid, on the demo site's
``/a11y`` page (known violations of each impact, in the page, a shadow root and a
frame) and its clean twin, with baselines in a real directory store; and the same
page checked by axe-core through Playwright, which must find the same rules.

Suites are short-form YAML through the loader: YAML -> registry -> executor -> browser
-> axe-core -> baseline store.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from testfleet.artifacts import FileStore
from testfleet.results import AccessibilityResult, CaseResult, RunResult
from testfleet.settings import GridSettings
from testfleet.suites.loader import load_text
from testfleet.suites.model import CaseSpec
from testfleet.visual import BaselineStore
from testfleet.visual.approve import approve
from workers.executor import AttemptOutcome, Hooks, VisualContext, execute_steps
from workers.executor.accessibility import axe_source

pytestmark = [pytest.mark.grid, pytest.mark.browser]

RUN = "20260101-000000-a11y"
PROJECT = "alpha"
KNOWN = {
    ("button-name", "critical"),
    ("image-alt", "critical"),
    ("label", "critical"),
    ("color-contrast", "serious"),
    ("link-name", "serious"),
    ("frame-title", "serious"),
    ("heading-order", "moderate"),
}
"""What ``/a11y`` breaks on purpose (``demosite.a11y``)."""


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "artifacts")


def run(
    driver: WebDriver, site: str, store: FileStore, steps: str, *, test: str = "a11y"
) -> AttemptOutcome:
    """``steps`` (short-form YAML) as one test of suite ``access`` on the demo site."""
    text = (
        f"name: access\nbase_url: {site}\ntimeout_seconds: 5\ntests:\n"
        f"  - name: {test}\n    steps:\n"
    )
    text += textwrap.indent(textwrap.dedent(steps).strip(), "      ")
    suite = load_text(text, {})
    context = VisualContext(BaselineStore(store, PROJECT), run_id=RUN, case_id=f"{RUN}-0001")
    hooks = Hooks(save_artifact=lambda name, data: store.save(RUN, name, data), visual=context)
    return execute_steps(driver, CaseSpec.of(suite, suite.tests[0]), hooks)


def found(outcome: AttemptOutcome, index: int = 2) -> AccessibilityResult:
    result = outcome.steps[index - 1].accessibility
    assert result is not None, outcome.steps[index - 1]
    return result


def rules(result: AccessibilityResult) -> set[tuple[str, str]]:
    return {(v.rule, v.impact) for v in result.violations}


def statuses(result: AccessibilityResult) -> dict[str, set[str]]:
    return {v.rule: {n.status for n in v.nodes} for v in result.violations}


def as_run(outcome: AttemptOutcome, test: str = "a11y") -> RunResult:
    case = CaseResult(
        case_id=f"{RUN}-0001",
        run_id=RUN,
        suite="access",
        name=test,
        status=outcome.status,
        steps=outcome.steps,
    )
    return RunResult(
        runId=RUN,
        projectId=PROJECT,
        name="r",
        status="failed",
        createdMs=1,
        counts={outcome.status: 1},
        tests=[case],
    )


def test_every_known_violation_is_reported_with_what_fixes_it_and_serious_ones_fail(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    outcome = run(driver, site, store, "- navigate: /a11y\n- assert_accessible")
    assert outcome.status == "failed"
    result = found(outcome)
    assert rules(result) == KNOWN
    assert statuses(result)["heading-order"] == {"reported"}
    assert statuses(result)["color-contrast"] == {"new"}
    targets = {n.target for v in result.violations for n in v.nodes}
    assert "#card >> #pay" in targets, "the frame's button (axe-core injected in the frame)"
    assert any(t.startswith("brand-logo >> img") for t in targets), "the shadow root's image"
    image = next(v for v in result.violations if v.rule == "image-alt")
    assert image.help_url.startswith("https://dequeuniversity.com/rules/axe/")
    assert image.description
    assert image.help
    hero = next(n for n in image.nodes if n.target == "#hero")
    assert hero.html.startswith("<img")
    assert "alt" in hero.summary.lower()
    error = outcome.error or ""
    assert "new accessibility violation(s) of at least serious impact" in error
    assert "image-alt (critical)" in error
    assert "heading-order" not in error
    shots = [n.screenshot for v in result.violations for n in v.nodes if n.screenshot]
    assert shots, "highlighted screenshots of the elements"
    assert all(store.read(RUN, s).startswith(b"\x89PNG") for s in shots)
    assert outcome.steps[1].screenshot == shots[0]


def test_the_clean_twin_passes_and_not_turns_both_around(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    clean = run(driver, site, store, "- navigate: /a11y/clean\n- assert_accessible")
    assert clean.status == "passed", clean.error
    assert found(clean).violations == []
    steps = "- navigate: /a11y/clean\n- assert_accessible: {}\n  not: true"
    assert "found none" in (run(driver, site, store, steps).error or "")
    steps = "- navigate: /a11y\n- assert_accessible: {}\n  not: true"
    assert run(driver, site, store, steps).status == "passed"


def test_options_scope_the_check_and_set_what_fails(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    def check(path: str, options: str) -> AttemptOutcome:
        return run(driver, site, store, f"- navigate: {path}\n- assert_accessible: {options}")

    critical = check("/a11y/contrast", "{fail_on: critical}")
    assert critical.status == "passed"
    assert statuses(found(critical)) == {"color-contrast": {"reported"}}
    minor = check("/a11y/contrast", "{fail_on: minor}")
    assert minor.status == "failed"
    disabled = check("/a11y/contrast", "{disable: color-contrast}")
    assert disabled.status == "passed"
    assert found(disabled).violations == []
    excluded = check("/a11y/contrast", '{exclude: "#note"}')
    assert excluded.status == "passed"
    assert found(excluded).violations == []
    wcag2a = check("/a11y", "{tags: [wcag2a]}")
    assert {r for r, _ in rules(found(wcag2a))} == {
        "button-name",
        "image-alt",
        "label",
        "link-name",
        "frame-title",
    }
    element = check("/a11y", '{selector: "#close"}')
    assert rules(found(element)) == {("button-name", "critical")}
    steps = '- navigate: /a11y\n- frame: "#card"\n- assert_accessible'
    framed = found(run(driver, site, store, steps), 3)
    assert rules(framed) == {("button-name", "critical")}
    assert [n.target for v in framed.violations for n in v.nodes] == ["#pay"]
    included = check("/a11y", '{include: ["#q", "#more"]}')
    assert {r for r, _ in rules(found(included))} == {"label", "link-name"}


def test_approved_violations_pass_later_runs_and_fixed_ones_are_reported(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    steps = "- navigate: /a11y\n- assert_accessible: {name: page}"
    first = run(driver, site, store, steps)
    assert first.status == "failed"
    [approved] = approve(as_run(first), store, "key-1")
    assert (approved.kind, approved.version, approved.viewport) == (
        "accessibility",
        1,
        "accessibility",
    )
    again = run(driver, site, store, steps)
    assert again.status == "passed", again.error
    result = found(again)
    assert result.baseline_version == 1
    assert {n.status for v in result.violations for n in v.nodes} == {"accepted"}
    fixed = run(
        driver, site, store, "- navigate: /a11y/contrast\n- assert_accessible: {name: page}"
    )
    assert fixed.status == "passed"
    assert "image-alt #hero" in found(fixed).fixed
    assert "color-contrast #note" not in found(fixed).fixed
    # A new violation beside accepted ones still fails: the baseline is per element.
    other = run(driver, site, store, "- navigate: /a11y\n- assert_accessible: {name: other}")
    assert other.status == "failed"


def test_soft_records_the_failure_and_goes_on(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    steps = """
    - navigate: /a11y/contrast
    - assert_accessible: {}
      soft: true
    - assert_text: {selector: h1, contains: Accessibility}
    """
    outcome = run(driver, site, store, steps)
    assert outcome.status == "failed"
    assert [s.status for s in outcome.steps] == ["passed", "failed", "passed"]


def test_axe_through_playwright_finds_the_same_rules_and_impacts(
    driver: WebDriver, site: str, store: FileStore
) -> None:
    from playwright.sync_api import sync_playwright  # a dev extra: imported where used

    ours = found(run(driver, site, store, "- navigate: /a11y\n- assert_accessible"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(GridSettings().chromium_binary), headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{site}/a11y")
            # As @axe-core/playwright does it: axe-core in every frame, then run in the top.
            for frame in page.frames:
                frame.evaluate(axe_source())
            theirs = page.evaluate(
                "() => axe.run(document, {resultTypes: ['violations']}).then(r => "
                "r.violations.map(v => [v.id, v.impact, v.nodes.length]))"
            )
        finally:
            browser.close()
    assert {(r, i) for r, i, _ in theirs} == rules(ours) == KNOWN
    assert {r: n for r, _, n in theirs} == {v.rule: len(v.nodes) for v in ours.violations}
