"""The step executor in real headless Chromium (local chromedriver), against local pages."""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from selenium.common.exceptions import InvalidSelectorException
from selenium.webdriver.remote.webdriver import WebDriver

from grid.provider import LocalProvider
from testfleet.results import StepResult
from testfleet.settings import Settings
from testfleet.suites.model import CaseSpec, TestCase, Viewport
from testfleet.suites.steps.model import Step
from tests.fixtures_pages import page_server
from workers.executor import AttemptOutcome, Hooks, execute_steps
from workers.executor.probe import probe

pytestmark = pytest.mark.browser

FORM = """<!doctype html>
<html><head><title>Form page</title></head><body>
<h1 id="title">Form</h1>
<input id="user" value="prefilled">
<input id="pass" type="password">
<select id="color">
  <option value="r">Red</option><option value="g">Green</option><option value="b">Blue</option>
</select>
<button id="go" onclick="out.textContent = 'Hello, ' + user.value">Go</button>
<button id="off" disabled>Off</button>
<div id="out"></div>
<div id="menu" onmouseover="submenu.style.display = 'block'">Menu</div>
<div id="submenu" style="display: none">Sub</div>
<div id="keys"></div>
<ul><li>a</li><li>b</li><li>c</li></ul>
<a id="link" href="/next?x=1" data-kind="primary nav">Next</a>
<div id="soon-gone">going</div>
<div style="height: 3000px"></div>
<footer id="footer">Bottom</footer>
<script>
user.addEventListener("keydown", e => {
  if (e.key === "Enter") keys.textContent = "enter:" + e.target.value;
});
setTimeout(() => {
  const late = document.createElement("p");
  late.id = "late";
  late.textContent = "Arrived";
  document.body.prepend(late);
}, 700);
setTimeout(() => { document.getElementById("soon-gone").style.display = "none"; }, 400);
</script>
</body></html>"""

OVERLAY = """<!doctype html><html><body>
<button id="later" onclick="done.textContent = 'clicked'">Later</button><p id="done"></p>
<div id="veil" style="position: fixed; inset: 0; background: rgba(0, 0, 0, 0.3)"></div>
<input id="locked" readonly value="x">
<script>setTimeout(() => veil.remove(), 2000);</script>
</body></html>"""

NEXT = "<!doctype html><html><head><title>Next page</title></head><body><h1>Next</h1></body></html>"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with page_server({"/form": FORM, "/next": NEXT, "/overlay": OVERLAY}) as url:
        yield url


@pytest.fixture(scope="module")
def provider() -> LocalProvider:
    return LocalProvider(Settings())


@pytest.fixture(scope="module")
def driver(provider: LocalProvider) -> Iterator[WebDriver]:
    session = provider.open()
    try:
        yield session
    finally:
        provider.close(session)


class Saved:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.steps: list[StepResult] = []

    def hooks(self, **overrides: Any) -> Hooks:
        return Hooks(
            on_step=lambda result, n, total: self.steps.append(result),
            save_artifact=self.save,
            **overrides,
        )

    def save(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return name


def spec(base_url: str, steps: list[dict[str, Any]], **fields: Any) -> CaseSpec:
    return CaseSpec(
        suite="browser",
        base_url=base_url,
        timeout_seconds=3.0,
        test=TestCase(
            name="case", steps=[Step(order_index=i, **s) for i, s in enumerate(steps, 1)]
        ),
        **fields,
    )


def run(driver: WebDriver, case: CaseSpec, saved: Saved | None = None) -> AttemptOutcome:
    return execute_steps(driver, case, (saved or Saved()).hooks())


def failures(outcome: AttemptOutcome) -> list[tuple[int, str | None]]:
    return [(s.index, s.error) for s in outcome.steps if s.status != "passed"]


def test_every_step_type_works(driver: WebDriver, base_url: str) -> None:
    def custom(script: str, expected: str) -> dict[str, Any]:
        return {"step_type": "custom", "input_data": script, "expected_result": expected}

    def check(
        assertion: str, selector: str | None = None, expected: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        return {
            "step_type": "assert",
            "assertion": assertion,
            "selector": selector,
            "expected_result": expected,
            **extra,
        }

    active_id = "return document.activeElement.id"
    steps = [
        {"step_type": "navigate", "input_data": "/form"},
        check("title", expected="Form"),
        check("title_equals", expected="Form page"),
        {"step_type": "type", "selector": "#user", "input_data": "alice"},
        check("text_equals", "#user", "alice"),  # type cleared "prefilled" first
        {"step_type": "click", "selector": "#go"},
        check("text", "#out", "Hello, alice"),
        {"step_type": "clear", "selector": "#user"},
        check("text_equals", "#user", ""),
        {"step_type": "select", "selector": "#color", "input_data": "Green"},
        custom("return color.value", "g"),
        {"step_type": "select", "selector": "#color", "input_data": "b"},
        custom("return color.value", "b"),
        {"step_type": "hover", "selector": "#menu"},
        check("visible", "#submenu"),
        {"step_type": "type", "selector": "#user", "input_data": "bob"},
        {"step_type": "press", "selector": "#user", "input_data": "Enter"},
        check("text", "#keys", "enter:bob"),
        {"step_type": "press", "selector": "#user", "input_data": "Control+a"},
        {"step_type": "press", "input_data": "Backspace"},  # the active element: #user
        check("text_equals", "#user", ""),
        {"step_type": "press", "input_data": "Tab"},
        custom(active_id, "pass"),
        {"step_type": "scroll", "input_data": "bottom"},
        custom("return window.scrollY > 2000", "true"),
        {"step_type": "scroll", "input_data": "top"},
        custom("return window.scrollY", "0"),
        {"step_type": "scroll", "input_data": "250"},
        custom("return window.scrollY", "250"),
        {"step_type": "scroll", "selector": "#footer"},
        custom("return footer.getBoundingClientRect().top < window.innerHeight", "true"),
        {"step_type": "wait", "selector": "#late"},
        {"step_type": "wait", "input_data": "0.2"},
        check("count", "li", "3"),
        check("attribute", "#link", "/next", attribute="href"),
        check("attribute_equals", "#link", "primary nav", attribute="data-kind"),
        check("hidden", "#soon-gone"),
        check("hidden", "#nothing-matches"),
        check("visible", "#title"),
        {"step_type": "click", "selector": "#link"},
        check("url", expected="/next"),
        check("url_equals", expected="/next?x=1"),
        custom("return document.title", "Next page"),
        {"step_type": "screenshot", "name": "end"},
    ]
    saved = Saved()
    outcome = run(driver, spec(base_url, steps), saved)
    assert failures(outcome) == []
    assert outcome.status == "passed"
    assert len(saved.steps) == len(steps)
    assert outcome.artifacts == [f"step{len(steps)}-end.png", f"step{len(steps)}-end.thumb.png"]


def test_wrong_selector_fails_within_its_timeout(driver: WebDriver, base_url: str) -> None:
    saved = Saved()
    outcome = run(
        driver,
        spec(
            base_url,
            [
                {"step_type": "navigate", "input_data": "/form"},
                {"step_type": "click", "selector": "#missing", "timeout_seconds": 1.0},
                {"step_type": "click", "selector": "#go"},
            ],
        ),
        saved,
    )
    assert outcome.status == "failed"
    assert outcome.failed_step == 2
    assert outcome.error == 'no element matches "#missing" after 1.0 s'
    step = outcome.steps[1]
    assert step.duration_ms >= 1000, step.duration_ms  # it waited its whole timeout
    assert outcome.steps[2].status == "skipped"
    assert step.screenshot == "step02-failure.png"
    assert saved.files[step.screenshot].startswith(b"\x89PNG\r\n\x1a\n")


def test_disabled_and_hidden_elements_say_why(driver: WebDriver, base_url: str) -> None:
    outcome = run(
        driver,
        spec(
            base_url,
            [
                {"step_type": "navigate", "input_data": "/form"},
                {
                    "step_type": "click",
                    "selector": "#off",
                    "timeout_seconds": 0.5,
                    "continue_on_failure": True,
                },
                {
                    "step_type": "hover",
                    "selector": "#submenu",
                    "timeout_seconds": 0.5,
                    "continue_on_failure": True,
                },
                {
                    "step_type": "select",
                    "selector": "#color",
                    "input_data": "Purple",
                    "timeout_seconds": 0.5,
                },
            ],
        ),
    )
    assert failures(outcome) == [
        (2, 'element "#off" is disabled after 0.5 s'),
        (3, 'element "#submenu" is not visible after 0.5 s'),
        (
            4,
            'no option of "#color" has text or value "Purple" after 0.5 s '
            '(options: "Red", "Green", "Blue")',
        ),
    ]


def test_assertion_retries_until_the_text_appears(driver: WebDriver, base_url: str) -> None:
    outcome = run(
        driver,
        spec(
            base_url,
            [
                {"step_type": "navigate", "input_data": "/form"},
                # #late is added 0.7 s after the page loads
                {"step_type": "assert", "selector": "#late", "expected_result": "Arrived"},
            ],
        ),
    )
    assert failures(outcome) == []
    assert outcome.steps[1].duration_ms >= 300


def test_failed_assertion_says_what_it_saw(driver: WebDriver, base_url: str) -> None:
    outcome = run(
        driver,
        spec(
            base_url,
            [
                {"step_type": "navigate", "input_data": "/next"},
                {
                    "step_type": "assert",
                    "selector": "h1",
                    "expected_result": "Bye",
                    "timeout_seconds": 0.5,
                },
            ],
        ),
    )
    assert outcome.error == 'expected text of "h1" to contain "Bye", got "Next"'
    assert outcome.failed_step == 2


def test_screenshots_are_real_pngs_of_the_viewport(driver: WebDriver, base_url: str) -> None:
    saved = Saved()
    outcome = run(
        driver,
        spec(
            base_url,
            [
                {"step_type": "navigate", "input_data": "/form"},
                {"step_type": "screenshot", "name": "form page"},
            ],
            viewport=Viewport(width=1024, height=700),
        ),
        saved,
    )
    assert outcome.status == "passed"
    assert outcome.artifacts == ["step02-form-page.png", "step02-form-page.thumb.png"]
    with Image.open(io.BytesIO(saved.files["step02-form-page.png"])) as shot:
        assert (shot.format, shot.size) == ("PNG", (1024, 700))
    with Image.open(io.BytesIO(saved.files["step02-form-page.thumb.png"])) as thumb:
        assert (thumb.format, thumb.width) == ("PNG", 320)
        assert thumb.height == round(700 * 320 / 1024)


def test_a_browser_that_dies_mid_test_is_an_error_not_a_crash(
    provider: LocalProvider, base_url: str
) -> None:
    session = provider.open()
    try:

        def kill_after_first(result: StepResult, number: int, total: int) -> None:
            if number == 1:
                session.quit()

        outcome = execute_steps(
            session,
            spec(
                base_url,
                [
                    {"step_type": "navigate", "input_data": "/form"},
                    {"step_type": "click", "selector": "#go"},
                    {"step_type": "click", "selector": "#go"},
                ],
            ),
            Hooks(on_step=kill_after_first),
        )
    finally:
        provider.close(session)
    assert (outcome.status, outcome.browser_died, outcome.failed_step) == ("error", True, 2)
    assert outcome.error is not None
    assert outcome.error.startswith("browser session died")
    assert [s.status for s in outcome.steps] == ["passed", "failed", "skipped"]


def test_a_covered_element_is_clicked_once_the_cover_goes(driver: WebDriver, base_url: str) -> None:
    # The probe's hit test sees the veil before any click is sent (chromedriver alone
    # would retry an intercepted click for about a second); the veil goes at 2 s.
    outcome = run(
        driver,
        spec(
            base_url,
            [
                {"step_type": "navigate", "input_data": "/overlay"},
                {
                    "step_type": "click",
                    "selector": "#later",
                    "timeout_seconds": 0.2,
                    "continue_on_failure": True,
                },
                {"step_type": "click", "selector": "#later"},
                {"step_type": "assert", "selector": "#done", "expected_result": "clicked"},
                {
                    "step_type": "type",
                    "selector": "#locked",
                    "input_data": "y",
                    "timeout_seconds": 0.2,
                },
            ],
        ),
    )
    assert failures(outcome) == [
        (
            2,
            'element "#later" is covered by <div id="veil"> after 0.2 s '
            "(it would receive the click; force: true clicks anyway)",
        ),
        (5, 'element "#locked" is not editable (read-only) after 0.2 s'),
    ]


PROBE_PAGE = """<!doctype html><body>
<button id="ok">ok</button>
<button id="faded" style="opacity: 0">faded</button>
<div style="visibility: hidden"><button id="inside-hidden">x</button></div>
<div style="display: none"><button id="inside-none">x</button></div>
<fieldset disabled><input id="in-disabled-set"></fieldset>
<a id="wrapper" href="#"><div style="width: 50px; height: 20px">block</div></a>
<input id="filled" value="abc"><div id="no-value">text</div>
</body>"""


@pytest.mark.parametrize(
    ("selector", "state", "value"),
    [
        ("#ok", "ready", ""),
        ("#faded", "ready", ""),  # opacity 0 is visible, as in Playwright
        ("#inside-hidden", "hidden", ""),
        ("#inside-none", "hidden", ""),
        ("#in-disabled-set", "disabled", ""),
        ("//a[@id='wrapper']", "ready", None),
        ("#filled", "ready", "abc"),
        ("#no-value", "ready", None),
        ("#nothing", "missing", None),
    ],
)
def test_the_probe_sees_what_a_user_could_act_on(
    driver: WebDriver, selector: str, state: str, value: str | None
) -> None:
    driver.get("data:text/html," + urllib.parse.quote(PROBE_PAGE))
    seen = probe(driver, selector, "data-testid", ("visible", "enabled"))
    assert (seen.state, seen.value) == (state, value)
    assert (seen.element is None) == (state == "missing")


@pytest.mark.parametrize("selector", ["##bad", "//div[", "//text()"])
def test_the_probe_rejects_selectors_the_page_cannot_use(driver: WebDriver, selector: str) -> None:
    driver.get("data:text/html," + urllib.parse.quote(PROBE_PAGE))
    with pytest.raises(InvalidSelectorException):
        probe(driver, selector, "data-testid")
