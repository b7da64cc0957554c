"""The step registry: each action and assertion defined once (see ``base.StepSpec``).

One module per family (``navigation``, ``pointer``, ``forms`` for keyboard and
forms, ``waits``, ``assertions``, ``page`` for page state); ``registry`` puts
them together. The loader, the suite model's validation, ``testfleet schema``
(``schema``), the AI generation prompt and the docs' step reference (``docs``)
are derived from it, and the worker dispatches each step to the handler
registered under its spec's ``key``.
"""

from testfleet.suites.steps.base import FAMILIES, Field, Match, Problem, StepSpec
from testfleet.suites.steps.registry import (
    ASSERT_KINDS,
    BY_KEY,
    MODIFIERS,
    SPECS,
    STEP_TYPES,
    spec_of,
    step_problems,
)

__all__ = [
    "ASSERT_KINDS",
    "BY_KEY",
    "FAMILIES",
    "MODIFIERS",
    "SPECS",
    "STEP_TYPES",
    "Field",
    "Match",
    "Problem",
    "StepSpec",
    "spec_of",
    "step_problems",
]
