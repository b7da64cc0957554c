"""Blocks, conditions and captured values in the executor, on the fake driver."""

from __future__ import annotations

import textwrap
from typing import cast

from selenium.webdriver.remote.webdriver import WebDriver

from testfleet.suites.loader import load_text
from testfleet.suites.model import CaseSpec
from tests.unit.workers.test_executor import FakeDriver, FakeElement, Recorder
from workers.executor import AttemptOutcome, execute_steps, planned_rows


def run(steps: str, driver: FakeDriver | None = None, extra: str = "") -> AttemptOutcome:
    text = f"name: s\nbase_url: http://app.test\ntimeout_seconds: 0.3\n{extra}tests:\n"
    text += "  - name: t\n    steps:\n" + textwrap.indent(textwrap.dedent(steps).strip(), "      ")
    suite = load_text(text, {})
    spec = CaseSpec.of(suite, suite.tests[0])
    driver = driver or FakeDriver()
    recorder = Recorder()
    outcome = execute_steps(cast(WebDriver, driver), spec, recorder.hooks())
    # Rows reach the hooks in order, numbered as in the outcome (skipped ones only there).
    sent = [(r.index, n) for r, n, _ in recorder.steps]
    assert sent == [(r.index, r.index) for r in outcome.steps if r.status != "skipped"
                    or "(when" in r.label]  # fmt: skip
    assert [r.index for r in outcome.steps] == list(range(1, len(outcome.steps) + 1))
    return outcome


def rows(outcome: AttemptOutcome) -> list[tuple[int, int | None, str, str]]:
    return [(r.depth, r.parent, r.status, r.label) for r in outcome.steps]


def page(**elements: str) -> FakeDriver:
    driver = FakeDriver()
    for selector, text in elements.items():
        driver.elements[selector] = [FakeElement(text)]
    return driver


def test_groups_come_before_their_steps_and_after_each_runs_even_after_a_failure() -> None:
    outcome = run(
        """
        - group: sign in
          steps:
            - navigate: /login
            - click: "#missing"
            - navigate: /never
        - navigate: /also-never
        """,
        extra="after_each: [{navigate: /cleanup}]\n",
    )
    assert rows(outcome) == [
        (0, None, "passed", "sign in"),
        (1, 1, "passed", "navigate /login"),
        (1, 1, "failed", "click #missing"),
        (1, 1, "skipped", "navigate /never"),
        (0, None, "skipped", "navigate /also-never"),
        (0, None, "passed", "after each"),
        (1, 6, "passed", "navigate /cleanup"),
    ]
    assert (outcome.status, outcome.failed_step) == ("failed", 3)
    assert outcome.error == 'no element matches "#missing" after 0.3 s'


def test_if_runs_one_branch_and_when_skips_a_step() -> None:
    driver = page(**{"#banner": "cookies"})
    outcome = run(
        """
        - if: {visible: "#banner"}
          then: [{navigate: /accept}]
          else: [{navigate: /no-banner}]
        - if: {exists: "#nothing"}
          then: [{navigate: /never}]
        - navigate: /only-without-banner
          when: {hidden: "#banner"}
        - navigate: /end
        """,
        driver,
    )
    assert rows(outcome) == [
        (0, None, "passed", "if visible #banner"),
        (1, 1, "passed", "navigate /accept"),
        (0, None, "passed", "if exists #nothing"),
        (0, None, "skipped", "navigate /only-without-banner (when hidden #banner: no)"),
        (0, None, "passed", "navigate /end"),
    ]
    assert driver.visited == ["http://app.test/accept", "http://app.test/end"]


def test_repeat_rounds_until_and_its_bound() -> None:
    driver = page(**{"#n": "0"})

    def more() -> None:  # each navigation counts one up, as an app's "more" button would
        n = int(driver.elements["#n"][0].text) + 1
        driver.elements["#n"] = [FakeElement(str(n))]

    real_get = driver.get
    driver.get = lambda url: (real_get(url), more())[0]  # type: ignore[method-assign]
    outcome = run(
        """
        - repeat: 2
          steps: [{navigate: /more}]
        - repeat: {until: {text: {selector: "#n", equals: "4"}}, max: 5}
          steps: [{navigate: /more}]
        - repeat: {until: {text: {selector: "#n", equals: "99"}}, max: 2}
          steps: [{navigate: /more}]
        """,
        driver,
    )
    until4 = "repeat until text #n equals 4 (max 5)"
    until99 = "repeat until text #n equals 99 (max 2)"
    assert [(d, s, label) for d, _, s, label in rows(outcome)] == [
        (0, "passed", "repeat 2 times"),
        (1, "passed", "navigate /more"), (1, "passed", "navigate /more"),
        (0, "passed", until4), (1, "passed", "navigate /more"), (1, "passed", "navigate /more"),
        (0, "passed", until99), (1, "passed", "navigate /more"), (1, "passed", "navigate /more"),
        (0, "failed", until99),
    ]  # fmt: skip
    assert (
        outcome.error == "text #n equals 99 is still not true after 2 rounds (raise max, or "
        "check what the steps do)"
    )
    assert outcome.failed_step == 10


def test_captured_values_are_used_later_and_secret_ones_masked() -> None:
    driver = page(**{"#total": "$28.50", "#token": "tok-123456"})
    outcome = run(
        """
        - capture: {as: total, text: "#total"}
        - capture: {as: token, text: "#token"}
          secret: true
        - navigate: "/pay?amount=@{total}&t=@{token}"
        - assert_text: {selector: "#total", equals: "@{token}"}
        """,
        driver,
    )
    assert driver.visited == ["http://app.test/pay?amount=$28.50&t=tok-123456"]
    assert outcome.error == 'expected text of "#total" to equal "***", got "$28.50"'
    assert "tok-123456" not in repr(outcome)


def test_a_value_captured_in_a_branch_that_did_not_run_fails_when_used() -> None:
    outcome = run(
        """
        - if: {exists: "#nothing"}
          then: [{capture: {as: x, from: url}}]
        - navigate: "/@{x}"
        """
    )
    assert outcome.error == "nothing was captured as x (its capture step did not run)"


def test_the_progress_total_counts_the_rows_planned() -> None:
    suite = load_text(
        "name: s\ntests: [{name: t, steps: [{repeat: 3, steps: [back, forward]}, "
        "{if: {exists: a}, then: [back], else: [forward]}, back]}]",
        {},
    )
    # A repeat's steps once per round, an if with its then: branch (one branch runs).
    assert planned_rows(suite.tests[0].steps) == 1 + 3 * 2 + 1 + 1 + 1
