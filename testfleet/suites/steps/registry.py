"""The step registry: every kind of step, looked up by short key or canonical identity,
and the validation every step goes through whichever form it was written in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from testfleet.suites.steps import (
    assertions,
    control,
    forms,
    navigation,
    page,
    pointer,
    quality,
    waits,
)
from testfleet.suites.steps.base import Problem, StepSpec
from testfleet.suites.steps.selectors import selector_problem

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step

SPECS: tuple[StepSpec, ...] = (
    *navigation.SPECS,
    *pointer.SPECS,
    *forms.SPECS,
    *waits.SPECS,
    *assertions.SPECS,
    *quality.SPECS,
    *page.SPECS,
    *control.SPECS,
)
"""Every kind of step, by family, in the order the docs list them."""

BY_KEY: Mapping[str, StepSpec] = {
    name: spec for spec in SPECS for name in (spec.key, *spec.aliases)
}
"""Short-form key or alias -> spec."""
BY_IDENTITY: Mapping[tuple[str, str | None], StepSpec] = {spec.identity: spec for spec in SPECS}
STEP_TYPES: tuple[str, ...] = tuple(dict.fromkeys(spec.step_type for spec in SPECS))
"""Canonical ``step_type`` values."""
ASSERT_KINDS: tuple[str, ...] = tuple(s.assertion for s in SPECS if s.assertion)
"""Canonical ``assertion`` kinds (earlier suites' ``*_equals`` kinds load too)."""
DEFAULT_ASSERTION = "text"
"""The kind of an ``assert`` step without ``assertion`` (as in the spec's canonical seed)."""

MODIFIERS: Mapping[str, str] = {
    "name": "name",
    "timeout": "timeout_seconds",
    "timeout_seconds": "timeout_seconds",
    "optional": "is_optional",
    "continue_on_failure": "continue_on_failure",
    "secret": "secret",
    "not": "negate",
    "soft": "soft",
    "force": "force",
    "when": "when",
}
"""Short-form keys any step may carry beside its action -> canonical field."""


def spec_of(step_type: str, assertion: str | None) -> StepSpec | None:
    """The spec of a canonical (step_type, assertion); None when there is none."""
    if step_type == "assert":
        kind = assertions.LEGACY_KINDS.get(assertion or "", assertion or DEFAULT_ASSERTION)
        return BY_IDENTITY.get(("assert", kind))
    if assertion is not None:
        return None
    return BY_IDENTITY.get((step_type, None))


def step_problems(step: Step) -> list[Problem]:
    """Everything wrong with ``step`` (an empty list when it is fine)."""
    spec = spec_of(step.step_type, step.assertion)
    if spec is None:
        if step.assertion is not None and step.step_type != "assert":
            return [Problem("assertion", f"only applies to assert steps, not {step.step_type}")]
        return [Problem("assertion", f"must be one of {', '.join(ASSERT_KINDS)}")]
    problems = [
        Problem(field, "is required")
        for field in spec.required
        if getattr(step, field) is None
        or (getattr(step, field) == [] and field in spec.children.values())
        or (getattr(step, field) == "" and field not in spec.empty_ok)
    ]
    for field in ("selector", "target"):
        value = getattr(step, field)
        if value is not None and field not in {p.field for p in problems}:
            problem = selector_problem(value)
            if problem:
                problems.append(Problem(field, problem))
    problems += _modifier_problems(step, spec)
    for canonical in spec.children.values():
        if canonical not in spec.required and getattr(step, canonical) == []:
            problems.append(Problem(canonical, "must not be empty (leave it out)"))
    if not spec.is_block and (step.steps is not None or step.else_steps is not None):
        problems.append(Problem("steps", f"only blocks hold steps, not {spec.key}"))
    if not problems:
        problems += spec.validate(step)
    return problems


def _modifier_problems(step: Step, spec: StepSpec) -> list[Problem]:
    kind = spec.key
    problems = []
    hides = spec.secret_value or any(getattr(step, f) is not None for f in spec.secret_fields)
    if step.secret and not hides:
        problems.append(
            Problem("secret", f"has no effect on this {kind} step (no value to hide); remove it")
        )
    if step.negate and not spec.is_assertion:
        problems.append(Problem("negate", f"only applies to assertions, not to {kind}", "not"))
    if step.soft and not spec.is_assertion:
        problems.append(
            Problem("soft", f"only applies to assertions, not to {kind} (see continue_on_failure)")
        )
    if step.force and not spec.checks:
        problems.append(Problem("force", f"has no effect on {kind}: it waits for no checks"))
    return problems
