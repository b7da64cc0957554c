"""Every step kind on real Chromium through a real Selenium Grid, on the demo site's pages
built to trip naive runners (``demosite.controls``, ``demosite.browser``).

Suites are written in the short form and go through the loader, so each test covers
the whole path: YAML -> registry -> canonical step -> executor -> browser. One
session serves the module; the pool's reset runs between tests.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from grid.reset import reset_session
from testfleet.suites.loader import load_text
from testfleet.suites.model import CaseSpec
from testfleet.suites.steps import SPECS
from tests.ports import held_port
from workers.executor import AttemptOutcome, Hooks, execute_steps

pytestmark = [pytest.mark.grid, pytest.mark.browser]

FAIL_S = 0.5
"""Timeout of the steps expected to fail."""


def run(driver: WebDriver, site: str, steps: str, base_dir: Path | None = None) -> AttemptOutcome:
    """Run ``steps`` (short-form YAML, a list) as one test on the demo site."""
    text = f"name: grid\nbase_url: {site}\ntimeout_seconds: 5\ntests:\n  - name: t\n    steps:\n"
    text += textwrap.indent(textwrap.dedent(steps).strip(), "      ")
    suite = load_text(text, {}, base_dir=base_dir)
    return execute_steps(driver, CaseSpec.of(suite, suite.tests[0]), Hooks())


def problems(outcome: AttemptOutcome) -> list[tuple[int, str | None]]:
    return [(s.index, s.error) for s in outcome.steps if s.status != "passed"]


def test_custom_checkboxes_and_an_inline_editor(driver: WebDriver, site: str) -> None:
    outcome = run(
        driver,
        site,
        """
        - navigate: /todos
        - fill: {selector: "placeholder=What needs to be done?", value: Buy milk}
        - press: {selector: .new-todo, keys: Enter}
        - type: {selector: .new-todo, text: Walk dog}
        - press: {selector: .new-todo, keys: Enter}
        - assert_count: {selector: "testid=todo-item", count: 2}
        # The checkbox is an opacity-0 input laid over its label: visible, and clickable.
        - check: "testid=todo-item >> nth=0 >> .toggle"
        - assert_checked: "testid=todo-item >> nth=0 >> .toggle"
        - check: "testid=todo-item >> nth=0 >> .toggle"
        - assert_class: {selector: "testid=todo-item >> nth=0", class: completed}
        - assert_text: {selector: "testid=todo-count", equals: 1 item left}
        - uncheck: "testid=todo-item >> nth=0 >> .toggle"
        - assert_checked: "testid=todo-item >> nth=0 >> .toggle"
          not: true
        # The editor commits on blur and deletes an emptied item: clearing must not blur.
        - double_click: "testid=todo-title >> has_text=Walk dog"
        - assert_focused: ".editing .edit"
        - clear: ".editing .edit"
        - type: {selector: ".editing .edit", text: Walk the cat}
        - press: {selector: ".editing .edit", keys: Enter}
        - assert_text: {selector: "testid=todo-title >> nth=1", equals: Walk the cat}
        - double_click: "text=Buy milk"
        - fill: {selector: ".editing .edit", value: ""}
        - blur: ".editing .edit"
        - assert_count: {selector: "testid=todo-item", count: 1}
        - check: "label=Mark all as complete"
        - click: "role=button[name='Clear completed']"
        - assert_exists: "testid=todo-item"
          not: true
    """,
    )
    assert problems(outcome) == []


def test_obstacles_say_which_check_failed_and_force_skips_them(
    driver: WebDriver, site: str
) -> None:
    outcome = run(
        driver,
        site,
        f"""
        - navigate: /obstacles
        - assert_disabled: "#late"
        - click: "#subscribe"
          timeout: {FAIL_S}
          continue_on_failure: true
        - click: "role=button[name=Accept]"
        - click: "#subscribe"
        - assert_text: {{selector: "#subscribed", equals: subscribed}}
        - click: "#slider"
        - assert_text: {{selector: "#slid", equals: clicked}}
        - click: "#pulsing"
          timeout: {FAIL_S}
          continue_on_failure: true
        - click: "#pulsing"
          force: true
        - assert_text: {{selector: "#pulsed", equals: clicked}}
        - click: "#late"
        - assert_text: {{selector: "#late-result", equals: clicked}}
        - double_click: "#double"
        - assert_text: {{selector: "#clicks", equals: "1"}}
        - right_click: "text=Right-click here"
        - assert_visible: "#context-menu"
        - hover: "#tip-target"
        - assert_visible: "role=tooltip"
        - click: "#context-menu"
          timeout: {FAIL_S}
          force: true
        - double_click: "#nothing-here"
          timeout: {FAIL_S}
    """,
    )
    assert problems(outcome) == [
        (3, f'element "#subscribe" is covered by <div id="veil"> after {FAIL_S} s '
            "(it would receive the click; force: true clicks anyway)"),
        (9, f'element "#pulsing" is not stable (still moving) after {FAIL_S} s'),
        (21, f'no element matches "#nothing-here" after {FAIL_S} s'),
    ]  # fmt: skip


def test_action_failures_name_the_check(driver: WebDriver, site: str) -> None:
    outcome = run(
        driver,
        site,
        f"""
        - navigate: /obstacles
        - click: "#context-menu"
          timeout: {FAIL_S}
          continue_on_failure: true
        - hover: "#context-menu"
          timeout: {FAIL_S}
          continue_on_failure: true
        - click: "role=button[name=Accept]"
        - navigate: /signup
        - fill: {{selector: "h1", value: x}}
          continue_on_failure: true
        - check: "label=Email"
          continue_on_failure: true
        - uncheck: "label=Free"
          continue_on_failure: true
        - select: {{selector: "label=Country", option: Atlantis}}
          timeout: {FAIL_S}
          continue_on_failure: true
        - drag: {{from: "h1", to: "#nowhere"}}
          timeout: {FAIL_S}
          continue_on_failure: true
        - focus: "#nowhere"
          timeout: {FAIL_S}
          continue_on_failure: true
        - navigate: /obstacles
        - type: {{selector: "#late", text: x}}
          timeout: {FAIL_S}
    """,
    )
    assert problems(outcome) == [
        (2, f'element "#context-menu" is not visible after {FAIL_S} s'),
        (3, f'element "#context-menu" is not visible after {FAIL_S} s'),
        (6, 'element "h1" cannot be edited: a <h1> is not an input, textarea, select or '
            "contenteditable element"),
        (7, 'element "label=Email" is not a checkbox or radio button'),
        (8, '"label=Free" is a radio button: it cannot be unchecked (check another option '
            "of its group)"),
        (9, f'no option of "label=Country" has text or value "Atlantis" after {FAIL_S} s '
            '(options: "Norway", "Chile", "Japan")'),
        (10, f'no element matches "#nowhere" after {FAIL_S} s'),
        (11, f'no element matches "#nowhere" after {FAIL_S} s'),
        (13, 'element "#late" cannot be edited: a <button> is not an input, textarea, select '
             "or contenteditable element"),
    ]  # fmt: skip


def test_shadow_dom_widget(driver: WebDriver, site: str) -> None:
    outcome = run(
        driver,
        site,
        """
        - navigate: /shadow
        - fill: {selector: "label=Step", value: "5"}
        - click: "testid=add"
        - click: "fancy-counter >> role=button[name=Add]"
        - assert_text: {selector: "fancy-counter >> output", equals: "10"}
        - assert_value: {selector: "fancy-counter >> input", equals: "5"}
    """,
    )
    assert problems(outcome) == []


def test_a_form_with_only_labels_and_roles(driver: WebDriver, site: str) -> None:
    outcome = run(
        driver,
        site,
        """
        - navigate: /signup
        - assert_disabled: "role=button[name='Create account']"
        - fill: {selector: "label=Full name", value: Alice Liddell}
        - type: {selector: "role=textbox[name=Email]", text: alice@example.com}
        - fill: {selector: "label=Password", value: wonderland}
          secret: true
        - select: {selector: "label=Country", option: Chile}
        - check: "role=radio[name=Pro]"
        - check: "role=checkbox[name='Send me news']"
        - fill: {selector: "placeholder=Promo code", value: TEA}
        - assert_enabled: "role=button[name='Create account']"
        - click: "role=button[name='Create account']"
        - assert_text:
            selector: "testid=summary"
            matches: "^Welcome, Alice Liddell <alice@example.com>, Chile, plan pro, news yes"
    """,
    )
    assert problems(outcome) == []


def test_drag_and_drop_reorders_a_list(driver: WebDriver, site: str) -> None:
    outcome = run(
        driver,
        site,
        """
        - navigate: /sortable
        - drag: {from: "text=Alpha", to: "text=Charlie"}
        - assert_text: {selector: "#order", equals: "Bravo,Charlie,Alpha,Delta,Echo"}
        - drag: {from: "#item-5", to: "#sortable >> nth=0 >> li >> nth=0"}
        - assert_text: {selector: "#order", equals: "Echo,Bravo,Charlie,Alpha,Delta"}
    """,
    )
    assert problems(outcome) == []


def test_steps_inside_an_iframe(driver: WebDriver, site: str) -> None:
    outcome = run(
        driver,
        site,
        f"""
        - navigate: /frames
        - fill: {{selector: "label=Card number", value: "4242"}}
          timeout: {FAIL_S}
          continue_on_failure: true
        - frame: "#payment"
        - fill: {{selector: "label=Card number", value: "4242 4242 4242 4242"}}
        - click: "role=button[name=Pay]"
        - assert_text: {{selector: "role=status", equals: Paid}}
        - frame: parent
        - assert_text: {{selector: "#paid", contains: ending 4242}}
        - frame: "#payment"
        - frame: top
        - assert_visible: "#paid"
        - frame: h1
    """,
    )
    assert problems(outcome) == [
        (2, f'no element matches "label=Card number" after {FAIL_S} s'),
        (12, '"h1" is not an <iframe> or <frame>'),
    ]


def test_alert_confirm_and_prompt(driver: WebDriver, site: str) -> None:
    outcome = run(
        driver,
        site,
        f"""
        - navigate: /dialogs
        - click: "#alert"
        - dialog: {{text: Saved}}
        - assert_text: {{selector: "#dialog-result", equals: alerted}}
        - click: "#confirm"
        - dialog: dismiss
        - assert_text: {{selector: "#dialog-result", equals: cancelled}}
        - click: "#confirm"
        - dialog: {{action: accept, text: {{equals: "Delete everything?"}}}}
        - assert_text: {{selector: "#dialog-result", equals: confirmed}}
        - click: "#prompt"
        - dialog: {{answer: Alice}}
        - assert_text: {{selector: "#dialog-result", equals: "Hello, Alice"}}
        - click: "#confirm"
        - dialog: {{text: {{matches: "^Save"}}}}
          continue_on_failure: true
        - click: "#alert"
        - dialog: {{answer: nobody asked}}
          continue_on_failure: true
        - dialog: accept
          timeout: {FAIL_S}
    """,
    )
    assert problems(outcome) == [
        (15, "expected the dialog's text to match /^Save/, got \"Delete everything?\" "
             "(dismissed it)"),
        (17, 'the dialog "Saved!" is not a prompt: it takes no answer (dismissed it)'),
        (18, f"no dialog opened within {FAIL_S} s"),
    ]  # fmt: skip


def test_uploads_reach_the_browser_through_the_grid(
    driver: WebDriver, site: str, tmp_path: Path
) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "notes.txt").write_text("first line\nsecond line\n")
    (tmp_path / "photo.csv").write_text("a,b\n1,2\n")
    outcome = run(driver, site, """
        - navigate: /upload
        - upload: {selector: "label=Attachments", files: [files/notes.txt, photo.csv]}
        - assert_text: {selector: "#upload-count", equals: "2"}
        - assert_text: {selector: "#uploaded", contains: "notes.txt (23 bytes): first line"}
        - assert_text: {selector: "#uploaded", contains: "photo.csv (8 bytes): a,b"}
        - upload: {selector: h1, file: photo.csv}
          timeout: 1
    """, base_dir=tmp_path)  # fmt: skip
    assert problems(outcome) == [(6, 'element "h1" is not an <input type=file>')]


def test_a_link_that_opens_a_new_tab(driver: WebDriver, site: str) -> None:
    outcome = run(
        driver,
        site,
        f"""
        - navigate: /tabs
        - switch_tab:
          timeout: {FAIL_S}
          continue_on_failure: true
        - click: "text=Open the help"
        - switch_tab
        - assert_title: {{contains: Help}}
        - close_tab
        - assert_title: {{contains: Tabs}}
        - click: "#help-link"
        - switch_tab: {{url: /tabs/help}}
        - assert_text: {{selector: "#help-text", contains: Close this tab}}
        - switch_tab: 0
        - assert_title: {{contains: Tabs}}
        - switch_tab: {{title: {{equals: Help - testfleet demo}}}}
        - assert_url: /tabs/help
        - switch_tab: 7
          timeout: {FAIL_S}
          continue_on_failure: true
        - switch_tab: {{title: Nowhere}}
          timeout: {FAIL_S}
    """,
    )
    assert problems(outcome) == [
        (2, f"no new tab opened within {FAIL_S} s"),
        (15, f"there is no tab 7 after {FAIL_S} s"),
        (16, f'no tab\'s title contains "Nowhere" after {FAIL_S} s'),
    ]


def test_navigate_fails_at_once_on_an_error_status_or_a_network_error(
    driver: WebDriver, site: str
) -> None:
    closed = f"http://127.0.0.1:{held_port()}/"
    outcome = run(
        driver,
        site,
        f"""
        - navigate: /broken
          continue_on_failure: true
        - navigate: {{url: /broken, allow_status: [500]}}
        - assert_text: {{selector: h1, equals: Something went wrong}}
        - navigate: {{url: /no-such-page, allow_status: any}}
        - navigate: /no-such-page
          continue_on_failure: true
        - navigate: {closed}
          timeout: 120
    """,
    )
    assert problems(outcome) == [
        (1, f"{site}/broken answered HTTP 500 (if that is expected, add allow_status: [500])"),
        (5, f"{site}/no-such-page answered HTTP 404 (if that is expected, add "
            "allow_status: [404])"),
        # Through the node's egress proxy too: its page names the network error.
        (6, f"could not open {closed}: net::ERR_CONNECTION_REFUSED"),
    ]  # fmt: skip
    # At once: not after the step's 120 s page-load timeout (a wide margin on a busy machine).
    assert outcome.steps[5].duration_ms < 60_000


def test_history_storage_cookies_viewport_and_waits(driver: WebDriver, site: str) -> None:
    outcome = run(
        driver,
        site,
        f"""
        - navigate: /storage
        - set_storage: {{key: demo-visits, value: "5"}}
        - set_storage: {{key: demo-visits, value: "2", area: session}}
        - set_cookie: {{name: demo_visits, value: "3"}}
        - reload
        - assert_attribute: {{selector: "#local-state", attribute: data-count, equals: "5"}}
        - assert_attribute: {{selector: "#session-state", attribute: data-count, equals: "2"}}
        - assert_attribute: {{selector: "#cookie-state", attribute: data-count, equals: "3"}}
        - clear_storage
        - clear_storage: session
        - clear_cookies
        - reload
        - assert_text: {{selector: "#local-state", equals: new}}
        - assert_text: {{selector: "#session-state", equals: new}}
        - assert_text: {{selector: "#cookie-state", equals: new}}
        - navigate: /todos
        - fill: {{selector: .new-todo, value: Tea}}
        - press: {{selector: .new-todo, keys: Enter}}
        - click: "text=Completed"
        - wait_for: {{url: "#/completed"}}
        - back
        - wait_for: {{url: {{matches: "/todos#?/?$"}}}}
        - forward
        - assert_url: {{contains: completed}}
        - set_viewport: {{width: 500, height: 700}}
        - script: {{script: "return innerWidth + 'x' + innerHeight", returns: 500x700}}
        - wait_for: {{load: load}}
        - wait_for: {{load: domcontentloaded}}
        - wait_for: {{script: "return document.querySelector('.new-todo') !== null"}}
        - wait: 0.1
        - wait: ".new-todo"
        - scroll: {{to: bottom}}
        - scroll: ".new-todo"
        - focus: ".new-todo"
        - blur
        - assert_focused: ".new-todo"
          not: true
        - screenshot: {{name: small}}
        - set_cookie: {{name: a, value: b}}
          continue_on_failure: true
        - wait_for: {{url: nowhere}}
          timeout: {FAIL_S}
          continue_on_failure: true
        - wait_for: {{script: "return false"}}
          timeout: {FAIL_S}
    """,
    )
    assert problems(outcome) == [
        (39, f'expected the URL to contain "nowhere" within {FAIL_S} s, got '
             f'"{site}/todos#/completed"'),
        (40, f"the script did not return a truthy value within {FAIL_S} s"),
    ]  # fmt: skip
    assert outcome.artifacts[:1] == ["step37-small.png"]


# -- every assertion: passing, passing with not, and its timeout message ------------------

ASSERTIONS = {
    "text": ("/signup", [
        "assert_text: {selector: h1, equals: Sign up}",
        "assert_text: {selector: h1, contains: Login}\nnot: true",
    ], "assert_text: {selector: h1, contains: Login}",
        'expected text of "h1" to contain "Login", got "Sign up"'),
    "url": ("/signup", [
        "assert_url: /signup",
        "assert_url: {equals: /signup}",
        "assert_url: {contains: /login}\nnot: true",
    ], "assert_url: {matches: login$}", 'expected URL to match /login$/, got "{site}/signup"'),
    "title": ("/signup", [
        "assert_title: {equals: Sign up - testfleet demo}",
        "assert_title: Login\nnot: true",
    ], "assert_title: {matches: ^Login}",
        'expected title to match /^Login/, got "Sign up - testfleet demo"'),
    "visible": ("/obstacles", [
        'assert_visible: "#subscribe"',
        'assert_visible: "#context-menu"\nnot: true',
    ], 'assert_visible: "#context-menu"', 'element "#context-menu" is not visible after {t} s'),
    "hidden": ("/obstacles", [
        'assert_hidden: "#context-menu"',
        'assert_hidden: "#nothing"',
        'assert_hidden: "#subscribe"\nnot: true',
    ], 'assert_hidden: "#subscribe"', 'expected "#subscribe" to be hidden, still visible after '
        "{t} s"),
    "exists": ("/obstacles", [
        'assert_exists: "#context-menu"',
        'assert_exists: "#nothing"\nnot: true',
    ], 'assert_exists: "#context-menu"\nnot: true',
        'expected no element to match "#context-menu", 1 still match after {t} s'),
    "count": ("/sortable", [
        'assert_count: {selector: "#sortable li", count: 5}',
        'assert_count: {selector: "#sortable li", count: 4}\nnot: true',
    ], 'assert_count: {selector: "#sortable li", count: 4}',
        'expected 4 element(s) matching "#sortable li", got 5'),
    "attribute": ("/sortable", [
        'assert_attribute: {selector: "#item-1", attribute: draggable, equals: "true"}',
        'assert_attribute: {selector: "#item-1", attribute: draggable}',
        'assert_attribute: {selector: "#item-1", attribute: hidden}\nnot: true',
    ], 'assert_attribute: {selector: "#item-1", attribute: id, matches: "^item-9"}',
        'expected attribute "id" of "#item-1" to match /^item-9/, got "item-1"'),
    "value": ("/signup", [
        'fill: {selector: "label=Email", value: a@b.c}',
        'assert_value: {selector: "label=Email", equals: a@b.c}',
        'assert_value: {selector: "label=Email", contains: zzz}\nnot: true',
    ], 'assert_value: {selector: "label=Email", equals: x@y.z}',
        'expected value of "label=Email" to equal "x@y.z", got "a@b.c"'),
    "checked": ("/signup", [
        'assert_checked: "label=Free"',
        'assert_checked: "label=Pro"\nnot: true',
    ], 'assert_checked: "label=Pro"', 'expected "label=Pro" to be checked, got unchecked after '
        "{t} s"),
    "enabled": ("/signup", [
        'assert_enabled: "label=Email"',
        "assert_enabled: \"role=button[name='Create account']\"\nnot: true",
    ], "assert_enabled: \"role=button[name='Create account']\"",
        "expected \"role=button[name='Create account']\" to be enabled, got disabled after {t} s"),
    "disabled": ("/signup", [
        "assert_disabled: \"role=button[name='Create account']\"",
        'assert_disabled: "label=Email"\nnot: true',
    ], 'assert_disabled: "label=Email"', 'expected "label=Email" to be disabled, got enabled '
        "after {t} s"),
    "focused": ("/signup", [
        'focus: "label=Email"',
        'assert_focused: "label=Email"',
        'assert_focused: "label=Full name"\nnot: true',
    ], 'assert_focused: "label=Full name"', 'expected "label=Full name" to be focused, got the '
        'focus on <input> after {t} s'),
    "class": ("/signup", [
        "assert_class: {selector: \"role=checkbox[name='Send me news']\", class: fake-check}",
        'assert_class: {selector: "text=Send me news", equals: fake-check}',
        'assert_class: {selector: "text=Send me news", class: checked}\nnot: true',
    ], 'assert_class: {selector: "text=Send me news", class: checked}',
        'expected class of "text=Send me news" to have "checked", got "fake-check"'),
    "css": ("/signup", [
        'assert_css: {selector: "text=Create account", property: opacity, equals: "0.5"}',
        'assert_css: {selector: "text=Create account", property: opacity, equals: "1"}'
        "\nnot: true",
    ], 'assert_css: {selector: "text=Create account", property: opacity, equals: "1"}',
        'expected CSS opacity of "text=Create account" to equal "1", got "0.5"'),
    "property": ("/signup", [
        'assert_property: {selector: "label=Free", property: checked, equals: "true"}',
        'assert_property: {selector: "label=Pro", property: checked, equals: "true"}'
        "\nnot: true",
    ], 'assert_property: {selector: "label=Pro", property: checked, equals: "true"}',
        'expected property checked of "label=Pro" to equal "true", got "false"'),
    "selected": ("/signup", [
        'assert_selected: {selector: "label=Country", equals: Norway}',
        'assert_selected: "role=option[name=Norway][include-hidden]"',
        'assert_selected: {selector: "label=Country", equals: Chile}\nnot: true',
    ], 'assert_selected: {selector: "label=Country", equals: Japan}',
        'expected selected option of "label=Country" to equal "Japan", got "Norway"'),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(ASSERTIONS))
def test_every_assertion_passes_negates_and_times_out_with_a_message(
    driver: WebDriver, site: str, kind: str
) -> None:
    path, passing, failing, message = ASSERTIONS[kind]
    steps = [f"navigate: {path}", *passing, f"{failing}\ntimeout: {FAIL_S}"]
    outcome = run(driver, site, "\n".join("- " + s.replace("\n", "\n  ") for s in steps))
    results = [(s.status, s.error) for s in outcome.steps]
    assert results[:-1] == [("passed", None)] * (len(steps) - 1)
    assert results[-1] == ("failed", message.format(site=site, t=FAIL_S))


def test_soft_assertions_go_on_and_fail_the_test_at_the_end(driver: WebDriver, site: str) -> None:
    outcome = run(
        driver,
        site,
        f"""
        - navigate: /signup
        - assert_text: {{selector: h1, equals: Welcome}}
          soft: true
          timeout: {FAIL_S}
        - assert_title: {{contains: Login}}
          soft: true
          timeout: {FAIL_S}
        - fill: {{selector: "label=Full name", value: Alice}}
        - assert_value: {{selector: "label=Full name", equals: Alice}}
    """,
    )
    assert outcome.status == "failed"
    assert outcome.failed_step == 2
    assert [s.status for s in outcome.steps] == ["passed", "failed", "failed", "passed", "passed"]
    # The failing step's selector as written (failure signatures include it).
    selectors = [s.selector for s in outcome.steps]
    assert selectors == [None, "h1", None, "label=Full name", "label=Full name"]


def test_this_module_exercises_every_step_kind() -> None:
    # The kinds recordings, visual, accessibility and performance checks brought are
    # exercised beside them.
    here = Path(__file__).parent.parent
    modules = (
        here / "steps" / "test_steps_grid.py",
        here / "recordings" / "test_recordings_grid.py",
        here / "visual" / "test_visual_grid.py",
        here / "steps" / "test_accessibility_grid.py",
        here / "steps" / "test_performance_grid.py",
    )
    source = "\n".join(m.read_text(encoding="utf-8") for m in modules)
    used = {f"assert_{kind}" for kind in ASSERTIONS}
    used |= {s.key for s in SPECS if re.search(rf"(?:- |\{{+){s.key}(?::|\n)", source)}
    missing = {spec.key for spec in SPECS} - used
    assert not missing, f"no integration test uses: {sorted(missing)}"


# -- reuse and data: flows, before/after each, data rows, captured values, conditions ------

TODOS = """
name: Todos with flows
base_url: {site}
timeout_seconds: 5
flows:
  add_todo:
    params: [title]
    steps:
      - fill: {{selector: "placeholder=What needs to be done?", value: "{{{{ title }}}}"}}
      - press: {{selector: .new-todo, keys: Enter}}
  add_until:
    params: {{count: "3"}}
    steps:
      - repeat:
          until: {{text: {{selector: "testid=todo-count", contains: "{{{{ count }}}} items"}}}}
          max: 5
        steps: [{{use: {{flow: add_todo, with: {{title: another}}}}}}]
before_each:
  - navigate: /todos
after_each:
  - screenshot: after
tests:
  - name: add {{{{ title }}}}
    data: [{{title: Milk}}, {{title: Tea}}]
    steps:
      - use: {{flow: add_todo, with: {{title: "{{{{ title }}}}"}}}}
      - assert_text: {{selector: "testid=todo-title", equals: "{{{{ title }}}}"}}
      - capture: {{as: first, text: "testid=todo-title"}}
      - use: {{flow: add_todo, with: {{title: "after @{{first}}"}}}}
      - assert_text: {{selector: "testid=todo-title >> nth=1", equals: "after {{{{ title }}}}"}}
  - name: repeat until three, then fail on purpose
    steps:
      - use: add_until
      - assert_count: {{selector: "testid=todo-item", count: 3}}
      - capture: {{as: here, from: url}}
      - capture: {{as: items, count: "testid=todo-item"}}
      - capture: {{as: two, script: "return 1 + 1"}}
      - assert_text: {{selector: "testid=todo-count", contains: "@{{items}} items"}}
      - assert_url: {{equals: "@{{here}}"}}
      - assert_text: {{selector: h1, equals: "todos @{{two}}"}}
        timeout: {fail}
"""


def run_suite(driver: WebDriver, text: str, base_dir: Path | None = None) -> list[AttemptOutcome]:
    """Every test of a suite, each after the reset a pooled session gets between tests."""
    suite = load_text(text, {}, base_dir=base_dir)
    outcomes = []
    for test in suite.tests:
        reset_session(driver, 1280, 800)
        outcomes.append(execute_steps(driver, CaseSpec.of(suite, test), Hooks()))
    return outcomes


def test_flows_before_and_after_each_data_rows_and_captured_values(
    driver: WebDriver, site: str
) -> None:
    outcomes = run_suite(driver, TODOS.format(site=site, fail=FAIL_S))
    milk, tea, repeat = outcomes
    for outcome in (milk, tea):
        assert problems(outcome) == []
        assert [(s.depth, s.label) for s in outcome.steps][:4] == [
            (0, "before each"), (1, "navigate /todos"),
            (0, f"use add_todo (title={'Milk' if outcome is milk else 'Tea'})"),
            (1, "fill placeholder=What needs to be done?"),
        ]  # fmt: skip
    labels = [(s.depth, s.status, s.label) for s in repeat.steps]
    assert labels[2:4] == [(0, "passed", "use add_until"),
                           (1, "passed", 'repeat until text testid=todo-count contains 3 items '
                                         "(max 5)")]  # fmt: skip
    assert sum(1 for s in repeat.steps if s.label == "use add_todo (title=another)") == 3
    assert repeat.error == 'expected text of "h1" to equal "todos 2", got "todos"'
    # after_each ran after the failure, and took its screenshot.
    assert [(s.label, s.status) for s in repeat.steps[-2:]] == [
        ("after each", "passed"),
        ("after", "passed"),
    ]
    assert repeat.steps[-1].screenshot is not None


def test_conditions_decide_what_runs(driver: WebDriver, site: str) -> None:
    outcome = run(
        driver,
        site,
        """
        - navigate: /obstacles
        - if: {visible: "role=dialog[name=Cookies]"}
          then: [{click: "role=button[name=Accept]"}]
          else: [{navigate: /never}]
        - if: {visible: "role=dialog[name=Cookies]"}
          then: [{navigate: /never}]
        - click: "#subscribe"
          when: {hidden: "#veil"}
        - navigate: /never
          when: {url: /never}
        - click: "#late"
          when: {script: "return !document.querySelector('#late').disabled", wait: 3}
        - assert_text: {selector: "#late-result", equals: clicked}
        - if: {title: {matches: "^Obstacles"}, not: true}
          then: [{navigate: /never}]
        - group: double-click twice
          steps: [{double_click: "#double"}, {double_click: "#double"}]
        - assert_text: {selector: "#clicks", equals: "2"}
    """,
    )
    assert problems(outcome) == [(6, None)]  # the skipped "when" step, and nothing failed
    assert outcome.steps[5].label == "navigate /never (when url contains /never: no)"
    assert [s.label for s in outcome.steps[:3]] == [
        "navigate /obstacles",
        "if visible role=dialog[name=Cookies]",
        "click role=button[name=Accept]",
    ]
