"""Each assertion kind says its own failure: what it expected and what it last saw."""

from __future__ import annotations

from typing import Any, cast

import pytest

from testfleet.suites.steps import SPECS
from testfleet.suites.steps.model import Step
from workers.executor.assertions import ASSERTIONS, Seen, failure_message
from workers.executor.page import Page


class _Shown:
    """The one thing a message asks of the page: a value as it may be shown."""

    def shown(self, text: str) -> str:
        return text.replace("hunter2", "***")


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("text", {"expected_result": "Hi"}, 'expected text of "#a" to contain "Hi", got "Bye"'),
    ("url", {"expected_result": "/d"}, 'expected URL to contain "/d", got "Bye"'),
    (
        "title",
        {"expected_result": "T", "match": "equals"},
        'expected title to equal "T", got "Bye"',
    ),
    ("visible", {}, 'element "#a" is not visible after 2.0 s'),
    ("visible", {"negate": True}, 'expected "#a" not to be visible, still visible after 2.0 s'),
    ("hidden", {}, 'expected "#a" to be hidden, still visible after 2.0 s'),
    ("exists", {"negate": True}, 'expected no element to match "#a", 1 still match after 2.0 s'),
    (
        "count",
        {"expected_result": "3", "mode": "at_least"},
        ('expected at least 3 element(s) matching "#a", got "Bye"'),
    ),
    (
        "count",
        {"expected_result": "3", "negate": True},
        ('expected other than 3 element(s) matching "#a", got "Bye"'),
    ),
    ("attribute", {"attribute": "href"}, 'expected "#a" to have attribute "href", got "Bye"'),
    ("value", {"expected_result": "hunter2"}, ('expected value of "#a" to equal "***", got "Bye"')),
    ("checked", {"negate": True}, 'expected "#a" not to be checked, got "Bye" after 2.0 s'),
    ("class", {"expected_result": "on"}, 'expected class of "#a" to have "on", got "Bye"'),
    (
        "css",
        {"key": "color", "expected_result": "red"},
        ('expected CSS color of "#a" to equal "red", got "Bye"'),
    ),
    ("selected", {}, 'expected "#a" to be selected, got "Bye" after 2.0 s'),
]


def test_every_assertion_kind_of_the_registry_has_its_reader_and_message() -> None:
    # Checks with handlers of their own (visual, accessibility, performance) read nothing here.
    own = {"screenshot", "accessible", "performance"}
    kinds = {s.assertion for s in SPECS if s.step_type == "assert"} - own
    assert set(ASSERTIONS) == kinds


@pytest.mark.parametrize(("kind", "fields", "said"), CASES, ids=[c[0] for c in CASES])
def test_an_assertion_that_times_out_says_what_it_expected_and_saw(
    kind: str, fields: dict[str, Any], said: str
) -> None:
    step = Step(order_index=1, step_type="assert", assertion=kind, selector="#a", **fields)
    assert failure_message(cast(Page, _Shown()), step, 2.0, Seen(False, '"Bye"')) == said
