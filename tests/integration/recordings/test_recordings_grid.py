"""Recordings on real Chromium through a real Selenium Grid.

The recordings under ``tests/data/recordings`` were written as Chrome's Recorder
and Selenium IDE export them, against the demo site on its default address; here
they run against a demo site on a free port (``with_base_url``, as ``--base-url``
does), through the loader and the executor, each test on one pooled session.
The step kinds recordings brought to the step language (selector alternatives,
``aria=``, clicks at a point, scrolling to a position, ``fill`` on a
``<select>``, count bounds, ``assert_editable``, ``network``) are checked on
pages of their own first.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from grid.reset import reset_session
from testfleet.suites.loader import load_paths, load_text, with_base_url
from testfleet.suites.model import CaseSpec, Suite
from testfleet.suites.recordings import recognise, suite_yaml
from testfleet.suites.recordings.locators import recorder_selector, side_locator
from tests.fixtures_pages import page_server
from workers.executor import AttemptOutcome, Hooks, execute_steps

pytestmark = [pytest.mark.grid, pytest.mark.browser]

RECORDINGS = Path(__file__).resolve().parents[2] / "data" / "recordings"
FAIL_S = 0.5
"""Timeout of the steps expected to fail."""

POINTS = """<!doctype html><html><body style="margin:0">
<div id="pad" style="position:absolute;left:50px;top:40px;width:200px;height:100px;
  background:#ddd">pad</div>
<p id="at" style="margin-top:200px">none</p>
<div id="box" style="height:80px;overflow:auto"><div style="height:900px">tall</div></div>
<div style="height:3000px"></div>
<script>
const pad = document.getElementById("pad"), at = document.getElementById("at");
const say = (kind) => (e) => {
  e.preventDefault(); at.textContent = kind + " " + e.offsetX + "," + e.offsetY;
};
pad.addEventListener("click", say("click"));
pad.addEventListener("dblclick", say("dblclick"));
pad.addEventListener("contextmenu", say("context"));
</script></body></html>"""

FIELDS = """<!doctype html><html><body>
<label>Plain <input id="plain"></label>
<label>Locked <input id="locked" readonly></label>
<label>Off <input id="off" disabled></label>
<label>Size <select id="size"><option value="s">Small</option><option value="m">Medium</option>
  </select></label>
<div id="note">not a field</div>
<button id="first" onclick="this.textContent='first clicked'">First</button>
<button id="second" onclick="this.textContent='second clicked'">Second</button>
<button aria-label="Hidden close" style="display:none">x</button>
<button aria-label="Close" id="close" onclick="this.textContent='closed'">x</button>
<a href="#close" id="close-link" aria-label="Close">x</a>
<script>
setTimeout(() => {
  const late = document.createElement("option");
  late.value = "xl"; late.textContent = "Extra large";
  document.getElementById("size").appendChild(late);
}, 400);
</script></body></html>"""

LOCATE = """<!doctype html><html><body><main>
<a href="#end" id="go" name="go-link">Go to the end (now)</a>
<button id="press" name="bee" type="button">Press me</button>
<button id="2fa:code" type="button">Code</button>
<x-box></x-box>
<p id="out">-</p>
</main><script>
const out = document.getElementById("out");
customElements.define("x-box", class extends HTMLElement {
  constructor() {
    super();
    const root = this.attachShadow({mode: "open"});
    root.innerHTML = '<section><button type="button" id="inner">Inner</button></section>';
    root.querySelector("button").onclick = () => { out.textContent = "inner"; };
  }
});
for (const el of document.querySelectorAll("main > a, main > button")) {
  el.addEventListener("click", (e) => { e.preventDefault(); out.textContent = el.id; });
}
</script></body></html>"""

RECORDER_SELECTORS: list[tuple[object, str]] = [
    (["#press"], "press"),
    (['aria/Press me[role="button"]'], "press"),
    (["aria/Inner"], "inner"),
    (["text/Press me"], "press"),
    (['xpath///*[@id="press"]'], "press"),
    (["pierce/#inner"], "inner"),
    (["x-box", "section > button"], "inner"),
]
SIDE_LOCATORS: list[tuple[str, str]] = [
    ("id=press", "press"),
    ("id=2fa:code", "2fa:code"),
    ("name=bee", "press"),
    ("link=Go to the end (now)", "go"),
    ("linkText=Go to the end (now)", "go"),
    ("partialLinkText=the end (", "go"),
    ("css=main > button:nth-of-type(1)", "press"),
    ("xpath=//button[@name='bee']", "press"),
    ("//a[contains(., 'the end')]", "go"),
]


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    with page_server({"/points": POINTS, "/fields": FIELDS, "/locate": LOCATE}) as url:
        yield url


def run_steps(driver: WebDriver, base: str, steps: str) -> AttemptOutcome:
    """Run ``steps`` (short-form YAML, a list) as one test against ``base``."""
    text = f"name: r\nbase_url: {base}\ntimeout_seconds: 5\ntests:\n  - name: t\n    steps:\n"
    text += textwrap.indent(textwrap.dedent(steps).strip(), "      ")
    suite = load_text(text, {})
    return execute_steps(driver, CaseSpec.of(suite, suite.tests[0]), Hooks())


def run_suite(driver: WebDriver, suite: Suite) -> dict[str, AttemptOutcome]:
    """Every test of ``suite`` on ``driver`` (reset between tests, as the pool does)."""
    outcomes = {}
    for test in suite.tests:
        outcomes[test.name] = execute_steps(driver, CaseSpec.of(suite, test), Hooks())
        reset_session(driver, 1280, 800)
    return outcomes


def failures(outcome: AttemptOutcome) -> list[tuple[int, str, str | None]]:
    return [(s.index, s.label, s.error) for s in outcome.steps if s.status != "passed"]


# -- what recordings added to the step language ------------------------------------------


def test_alternatives_take_the_first_that_matches_and_aria_names_are_exact(
    driver: WebDriver, pages: str
) -> None:
    outcome = run_steps(
        driver,
        pages,
        f"""
        - navigate: /fields
        - click: "#gone || #second || #first"
        - assert_text: {{selector: "#second", equals: second clicked}}
        - assert_text: {{selector: "#first", equals: First}}
        - click: "aria=Close[role=button]"
        - assert_text: {{selector: "#close", equals: closed}}
        - assert_count: {{selector: "aria=Close", count: 2}}
        - assert_count: {{selector: "aria=Clos", count: 0}}
        - assert_exists: "aria=Hidden close"
          not: true
        - assert_count: {{selector: 'aria=[name="Close"][role="link"]', count: 1}}
        - click: "#gone || #nowhere"
          timeout: {FAIL_S}
    """,
    )
    assert failures(outcome) == [
        (11, "click #gone || #nowhere", f'no element matches "#gone || #nowhere" after {FAIL_S} s')
    ]


def test_clicks_at_a_point_and_scrolls_to_positions(driver: WebDriver, pages: str) -> None:
    outcome = run_steps(
        driver,
        pages,
        """
        - navigate: /points
        - click: {selector: "#pad", x: 10, y: 20}
        - assert_text: {selector: "#at", equals: "click 10,20"}
        - double_click: {selector: "#pad", x: 190, y: 90}
        - assert_text: {selector: "#at", equals: "dblclick 190,90"}
        - right_click: {selector: "#pad", x: 5, y: 95}
        - assert_text: {selector: "#at", equals: "context 5,95"}
        - click: "#pad"
        - assert_text: {selector: "#at", equals: "click 100,50"}
        - scroll: {x: 0, y: 700}
        - script: {script: "return window.scrollY", returns: "700"}
        - scroll: {selector: "#box", x: 0, y: 300}
        - script: {script: "return document.getElementById('box').scrollTop", returns: "300"}
    """,
    )
    assert failures(outcome) == []


def test_fill_picks_an_option_by_value_then_text_and_waits_for_it(
    driver: WebDriver, pages: str
) -> None:
    outcome = run_steps(
        driver,
        pages,
        f"""
        - navigate: /fields
        - fill: {{selector: "#size", value: m}}
        - assert_selected: {{selector: "#size", equals: Medium}}
        - fill: {{selector: "label=Size", value: Small}}
        - assert_value: {{selector: "#size", equals: s}}
        - fill: {{selector: "#size", value: xl}}
        - assert_selected: {{selector: "#size", equals: Extra large}}
        - fill: {{selector: "#size", value: Huge}}
          timeout: {FAIL_S}
    """,
    )
    assert failures(outcome) == [
        (8, "fill #size", 'cannot fill "#size": no option has the value or text "Huge"')
    ]


def test_count_bounds_and_editable_fields(driver: WebDriver, pages: str) -> None:
    outcome = run_steps(
        driver,
        pages,
        f"""
        - navigate: /fields
        - assert_count: {{selector: button, at_least: 3}}
        - assert_count: {{selector: button, at_most: 4}}
        - assert_count: {{selector: button, at_least: 5}}
          not: true
        - assert_editable: "#plain"
        - assert_editable: "label=Locked"
          not: true
        - assert_editable: "#off"
          not: true
        - assert_count: {{selector: button, at_most: 2}}
          timeout: {FAIL_S}
          continue_on_failure: true
        - assert_editable: "#locked"
          timeout: {FAIL_S}
          continue_on_failure: true
        - assert_editable: "#note"
          timeout: {FAIL_S}
    """,
    )
    assert failures(outcome) == [
        (8, "assert count button", 'expected at most 2 element(s) matching "button", got 4'),
        (
            9,
            "assert editable #locked",
            f'expected "#locked" to be editable, got read-only after {FAIL_S} s',
        ),
        (
            10,
            "assert editable #note",
            'element "#note" cannot be edited at all: a <div> is not an input, textarea, select '
            "or contenteditable element",
        ),
    ]


def test_network_conditions_apply_to_the_session_and_the_reset_lifts_them(
    driver: WebDriver, site: str
) -> None:
    outcome = run_steps(
        driver,
        site,
        """
        - navigate: /login
        - network: offline
        - wait_for: {script: "return navigator.onLine === false"}
        - navigate: /dashboard
          continue_on_failure: true
        - network: online
        - network: {latency: 300}
        - navigate: /login
        - script:
            script: >-
              const started = performance.now();
              return fetch("/health", {cache: "no-store"})
              .then(() => performance.now() - started >= 290)
        - network: offline
    """,
    )
    assert [(s.index, s.status) for s in outcome.steps if s.status != "passed"] == [(4, "failed")]
    assert "net::ERR_INTERNET_DISCONNECTED" in str(outcome.steps[3].error)
    reset_session(driver, 1280, 800)  # the test ended offline: the next one must not be
    assert run_steps(driver, site, "- navigate: /login").status == "passed"


def test_a_repeat_looks_again_at_values_its_rounds_capture(driver: WebDriver, pages: str) -> None:
    # The IDE's while / do ... repeat if conditions read variables the loop sets.
    outcome = run_steps(
        driver,
        pages,
        """
        - navigate: /fields
        - capture: {as: n, script: "return 0"}
        - repeat: {while: {script: "return @{n} < 3"}, max: 10}
          steps:
            - capture: {as: n, script: "return @{n} + 1"}
        - script: {script: "return '@{n}'", returns: "3"}
        - repeat: {until: {value: "@{n}", equals: "5"}, max: 10}
          steps:
            - capture: {as: n, script: "return @{n} + 1"}
        - script: {script: "return '@{n}'", returns: "5"}
        """,
    )
    assert failures(outcome) == []


def test_each_recorded_selector_and_locator_kind_alone_finds_its_element(
    driver: WebDriver, pages: str
) -> None:
    cases = [(recorder_selector(s), out) for s, out in RECORDER_SELECTORS]
    cases += [(side_locator(locator), out) for locator, out in SIDE_LOCATORS]
    steps = ["- navigate: /locate"]
    for selector, out in cases:
        steps += [
            f"- click: {json.dumps(selector)}",
            f"- assert_text: {{selector: '#out', equals: {json.dumps(out)}}}",
            "- script: document.getElementById('out').textContent = '-'",
        ]
    outcome = run_steps(driver, pages, "\n".join(steps))
    assert failures(outcome) == []
    assert len(outcome.steps) == 1 + 3 * len(cases)


# -- the recordings ------------------------------------------------------------------------


def recorded(name: str, site: str) -> Suite:
    [suite] = with_base_url(load_paths([RECORDINGS / name], {}), site)
    return suite


@pytest.mark.parametrize(
    "name",
    ["chrome-login.json", "chrome-shadow.json", "chrome-browser.json", "demo.side", "flow.side"],
)
def test_recordings_of_the_demo_site_pass(driver: WebDriver, site: str, name: str) -> None:
    outcomes = run_suite(driver, recorded(name, site))
    assert {test: failures(o) for test, o in outcomes.items()} == {test: [] for test in outcomes}
    assert all(o.status == "passed" for o in outcomes.values())


def test_aria_and_pierce_selectors_reach_into_the_shadow_widget(
    driver: WebDriver, site: str
) -> None:
    suite = recorded("chrome-shadow.json", site)
    steps = suite.tests[0].steps
    add = next(s for s in steps if s.step_type == "click" and "Add" in (s.name or ""))
    assert add.selector is not None
    aria, host, pierce, _ = add.selector.split(" || ")
    assert (aria, host, pierce) == (
        'aria=Add[role="button"]',
        "fancy-counter >> [data-testid='add']",
        "[data-testid='add']",
    )
    # Each alternative alone finds the button inside the shadow root.
    for alternative in (aria, host, pierce):
        outcome = run_steps(
            driver,
            site,
            f"""
            - navigate: /shadow
            - click: {alternative!r}
            - assert_text: {{selector: "fancy-counter >> output", equals: "1"}}
            """,
        )
        assert failures(outcome) == [], alternative
        reset_session(driver, 1280, 800)
    outcome = run_suite(driver, suite)[suite.tests[0].name]
    assert outcome.status == "passed", failures(outcome)


def test_reports_show_the_recordings_own_titles(driver: WebDriver, site: str) -> None:
    suite = recorded("chrome-login.json", site)
    outcome = run_suite(driver, suite)[suite.tests[0].name]
    labels = [s.label for s in outcome.steps]
    assert labels[:3] == [
        "Set viewport 1280 x 720",
        "Navigate to http://127.0.0.1:8702/login",
        "Click aria/Username",
    ]
    assert "Click #menu-shop: wait for http://127.0.0.1:8702/shop" not in labels
    assert "Click: wait for http://127.0.0.1:8702/shop" in labels


@pytest.mark.parametrize("name", ["chrome-browser.json", "demo.side"])
def test_imported_suites_load_and_run_as_their_recordings(
    driver: WebDriver, site: str, tmp_path: Path, name: str
) -> None:
    path = RECORDINGS / name
    recording = recognise(load_paths_document(path), str(path))
    assert recording is not None
    written = tmp_path / "imported.yaml"
    written.write_text(suite_yaml(recording, name), encoding="utf-8")
    [imported] = with_base_url(load_paths([written], {}), site)
    original = recorded(name, site)
    assert imported == original
    results = {
        test: [(s.label, s.status) for s in o.steps]
        for test, o in run_suite(driver, imported).items()
    }
    again = {
        test: [(s.label, s.status) for s in o.steps]
        for test, o in run_suite(driver, original).items()
    }
    assert results == again
    assert all(status == "passed" for steps in results.values() for _, status in steps)


def load_paths_document(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))
