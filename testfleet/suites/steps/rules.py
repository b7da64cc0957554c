"""Validation rules shared by several step kinds (each returns ``Problem``s, never raises)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from testfleet.suites.steps.base import Problem, Validator
from testfleet.suites.steps.compare import regex_problem

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step


def all_of(*rules: Validator) -> Validator:
    """One validator running each of ``rules`` and returning every problem found."""

    def run(step: Step) -> list[Problem]:
        return [problem for rule in rules for problem in rule(step)]

    return run


def one_of(*fields: str, names: str) -> Validator:
    """Exactly one of the canonical ``fields`` is set (``names`` says them in the short form)."""

    def run(step: Step) -> list[Problem]:
        given = [f for f in fields if getattr(step, f) not in (None, "")]
        if len(given) == 1:
            return []
        if not given:
            return [Problem(None, f"needs one of {names}")]
        return [Problem(None, f"takes only one of {names}")]

    return run


def regex_rule(step: Step) -> list[Problem]:
    """``matches``: the expected value must compile as a regular expression."""
    if step.match != "matches" or step.expected_result is None:
        return []
    problem = regex_problem(step.expected_result)
    return [Problem("expected_result", problem, short="matches")] if problem else []


def number_rule(field: str, what: str, check: Callable[[float], bool]) -> Validator:
    """The text in ``field`` (when set) is a number satisfying ``check`` (``what`` says how)."""

    def run(step: Step) -> list[Problem]:
        text = getattr(step, field)
        if text is None:
            return []
        try:
            ok = check(float(text))
        except ValueError:
            ok = False
        return [] if ok else [Problem(field, f"must be {what}, not {text!r}")]

    return run
