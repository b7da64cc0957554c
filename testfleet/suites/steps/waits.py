"""Waits: a pause, an element, a URL, a load state, a JavaScript condition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from testfleet.suites.steps.base import SELECTOR, Field, Problem, StepSpec
from testfleet.suites.steps.rules import all_of, number_rule, one_of, regex_rule

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step

LOAD_STATES = ("load", "domcontentloaded")


def _wait_for_rule(step: Step) -> list[Problem]:
    if step.mode == "url" and step.expected_result is None:
        return [Problem("expected_result", "is required", short="url")]
    if step.mode == "load" and step.input_data not in LOAD_STATES:
        return [Problem("input_data", f"must be {' or '.join(LOAD_STATES)}", short="load")]
    if step.mode == "script" and not step.input_data:
        return [Problem("input_data", "is required", short="script")]
    if step.mode not in ("url", "load", "script"):
        return [Problem(None, "needs one of url, load or script")]
    return []


SPECS: tuple[StepSpec, ...] = (
    StepSpec(
        "wait",
        "waits",
        "wait",
        "Wait until an element is visible, or (a number) pause that many seconds",
        example={"selector": "#results"},
        fields=(SELECTOR, Field("seconds", "input_data", "seconds to pause", kind="number")),
        scalar="selector",
        number_scalar="seconds",
        validate=all_of(
            one_of("selector", "input_data", names="selector or seconds"),
            number_rule("input_data", "a number of seconds", lambda s: 0 <= s <= 600),
        ),
    ),
    StepSpec(
        "wait_for",
        "waits",
        "wait_for",
        "Wait until the URL matches, the page reaches a load state, or a JavaScript "
        "expression is truthy",
        example={"url": "/done"},
        fields=(
            Field(
                "url",
                "expected_result",
                "the URL contains this (or equals/matches)",
                kind="compare",
                sets={"mode": "url"},
            ),
            Field(
                "load",
                "input_data",
                "load or domcontentloaded",
                kind="choice",
                choices=LOAD_STATES,
                sets={"mode": "load"},
            ),
            Field(
                "script",
                "input_data",
                "JavaScript returning a truthy value when ready (e.g. return window.appReady)",
                sets={"mode": "script"},
            ),
        ),
        default_match="contains",
        secret_fields=("input_data",),
        validate=all_of(_wait_for_rule, regex_rule),
    ),
)
