"""What each step costs on the wire: WebDriver commands per step kind, on a real Grid.

Every WebDriver command is an HTTP round trip through the Grid's router and node to
chromedriver (about 6-10 ms each on a quiet machine), so the count is the step's
fixed cost. The counts are the executor's contract with the Grid: a change that adds
a command to a common step shows up here, not only as a slower benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from grid.reset import reset_session
from testfleet.fleet.browser import note_viewport
from testfleet.results import StepResult
from testfleet.suites.loader import load_text
from testfleet.suites.model import CaseSpec
from workers.executor import Hooks, execute_steps

pytestmark = [pytest.mark.grid, pytest.mark.browser]

SUITE = """
name: wire
base_url: {site}
timeout_seconds: 5
tests:
  - name: sign in, filter the orders, open a page from the menu
    steps:
      - navigate: /login
      - assert_title: Sign in
      - type: {{selector: "#user", text: alice}}
      - type: {{selector: "#pass", text: wonderland}}
      - press: {{selector: "#pass", keys: Enter}}
      - wait: "#menu"
      - assert_url: /dashboard
      - assert_text: {{selector: h1, equals: "Welcome, alice"}}
      - select: {{selector: "#status-filter", option: Open}}
      - assert_text: {{selector: "#order-count", equals: 2 orders}}
      - screenshot: orders
      - click: "text=Storage"
      - assert_url: /storage
      - navigate: /login
"""

MOST = {
    "navigate": 2,  # the navigation, then what it landed on (URL, status, error page)
    "assert_title": 1,
    "assert_url": 1,
    "assert_text": 1,
    "type": 2,  # is it ready (one probe for every check), then the keys
    "press": 2,
    "click": 2,
    "wait": 1,
    "select": 1,
    "screenshot": 1,
}
"""The most commands each sends, a step that polls counting its repeated probe once
(it is sent again per poll while the page is not there yet); the first navigation also
sets the page-load timeout once for the session."""


class Counting:
    """Counts the WebDriver commands ``driver`` sends, by name."""

    def __init__(self, driver: WebDriver) -> None:
        self.names: list[str] = []
        self._execute = driver.execute

        def execute(command: str, params: dict[str, Any] | None = None) -> Any:
            self.names.append(command)
            return self._execute(command, params)

        driver.execute = execute  # type: ignore[method-assign,assignment]

    @property
    def sent(self) -> int:
        return len(self.names)


def once_per_poll(names: list[str]) -> list[str]:
    """``names`` with each run of the same command kept once (a poll repeats its probe)."""
    return [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]


@pytest.fixture
def counted(driver: WebDriver) -> Iterator[Counting]:
    counting = Counting(driver)
    try:
        yield counting
    finally:
        del driver.execute  # the class's method again


class Traced:
    """One run of ``SUITE`` with the commands sent before the first step (the executor's
    preparation) and during each step, by step kind."""

    def __init__(
        self, driver: WebDriver, site: str, counted: Counting, *, reset: bool, seen: bool = True
    ) -> None:
        suite = load_text(SUITE.format(site=site), {})
        spec = CaseSpec.of(suite, suite.tests[0])
        if reset:  # as the pool lends it: a new window is sized once, then seen right
            for _ in range(2):
                reset_session(driver, spec.viewport.width, spec.viewport.height)
        if not seen:  # the window is right, but nothing noted it (no reset saw it)
            note_viewport(driver, None)
        marks: list[int] = []
        self.steps: list[tuple[str, list[str]]] = []

        def before() -> bool:
            marks.append(counted.sent)
            return False

        def after(result: StepResult, number: int, total: int) -> None:
            kind = spec.test.steps[number - 1].kind
            self.steps.append((kind, counted.names[marks[-1] :]))

        counted.names.clear()
        self.outcome = execute_steps(driver, spec, Hooks(on_step=after, should_stop=before))
        self.prepare = counted.names[: marks[0]]


def test_each_step_sends_the_fewest_commands_it_can(
    driver: WebDriver, site: str, counted: Counting
) -> None:
    traced = Traced(driver, site, counted, reset=True)
    outcome = traced.outcome
    assert outcome.status == "passed", [(s.index, s.error) for s in outcome.steps]
    assert traced.prepare == [], "a pooled session right after its reset"
    for kind, names in traced.steps[1:]:  # the first navigation also sets its timeout
        assert len(once_per_poll(names)) <= MOST[kind], f"{kind} sent {names}"
    first_kind, first_names = traced.steps[0]
    assert first_kind == "navigate"
    assert len(once_per_poll(first_names)) == MOST["navigate"] + 1, first_names


def test_a_session_the_reset_did_not_see_is_checked_once(
    driver: WebDriver, site: str, counted: Counting
) -> None:
    # Sized by a reset first: the window an earlier module left (its own size) is not
    # what this counts.
    traced = Traced(driver, site, counted, reset=True, seen=False)
    assert traced.outcome.status == "passed"
    assert traced.prepare == ["w3cExecuteScript"], "one look at the viewport"
