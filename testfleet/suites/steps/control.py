"""Flow control and values: groups, conditions, loops, values captured from the page.

Blocks hold steps of their own, written beside the action key::

    - if: {visible: "#cookie-banner"}        - repeat: {until: {visible: "#done"}, max: 10}
      then:                                    steps:
        - click: "#accept"                       - click: "#next"
      else:
        - assert_hidden: "#overlay"          - group: Sign in
                                               steps: [...]

``capture`` keeps a value read from the page under a name; later steps use it
as ``@{name}`` (substituted when they run). A suite's ``use:`` of a flow and its
``before_each`` / ``after_each`` become groups when it loads (``testfleet.suites.compose``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testfleet.suites.steps.base import Field, Problem, StepSpec
from testfleet.suites.steps.conditions import QUESTIONS_DOC

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step

CAPTURE_SOURCES = ("text", "value", "count", "attribute", "url", "title", "script")


def _repeat_rule(step: Step) -> list[Problem]:
    if step.condition is None and step.mode is not None:
        return [Problem(None, "needs a condition with until or while")]
    if step.condition is not None and step.mode not in ("until", "while"):
        return [Problem("mode", "must be until or while for a repeat with a condition")]
    return []


def _capture_rule(step: Step) -> list[Problem]:
    needs_selector = step.mode in ("text", "value", "count", "attribute")
    if step.mode not in CAPTURE_SOURCES:
        return [Problem(None, f"needs one of {', '.join(CAPTURE_SOURCES)} to read from")]
    if needs_selector and not step.selector:
        return [Problem("selector", "is required")]
    if step.mode == "attribute" and not step.attribute:
        return [Problem("attribute", "is required")]
    if step.mode == "script" and not step.input_data:
        return [Problem("input_data", "is required", short="script")]
    if step.key is not None and not step.key.isidentifier():
        return [
            Problem("key", f"must be a name (letters, digits, _), not {step.key!r}", short="as")
        ]
    return []


_CONDITION = f"a condition: {{{QUESTIONS_DOC}: ...}}, optionally not: true, wait: seconds"

SPECS: tuple[StepSpec, ...] = (
    StepSpec(
        "group",
        "flow control",
        "group",
        "Steps shown together under a name in reports (use: of a flow becomes one)",
        example="Sign in",
        fields=(Field("name", "name", "what the group is called"),),
        scalar="name",
        children={"steps": "steps"},
        required=("steps",),
        example_children={"steps": [{"click": "#sign-in"}]},
    ),
    StepSpec(
        "if",
        "flow control",
        "if",
        "Run then: steps when a condition holds, else: steps (if any) when it does not",
        example={"visible": "#cookie-banner"},
        fields=(Field("condition", "condition", _CONDITION, kind="condition"),),
        scalar="condition",
        children={"then": "steps", "else": "else_steps"},
        required=("condition", "steps"),
        example_children={"then": [{"click": "#accept"}]},
    ),
    StepSpec(
        "repeat",
        "flow control",
        "repeat",
        "Run steps: a number of times, or until / while a condition holds (max rounds: "
        "at most 100); failing when the condition still wants more at the bound",
        example={"until": {"visible": "#done"}, "max": 5},
        fields=(
            Field("times", "times", "how many rounds", kind="int"),
            Field(
                "until",
                "condition",
                "stop once this holds; " + _CONDITION,
                kind="condition",
                sets={"mode": "until"},
            ),
            Field(
                "while",
                "condition",
                "go on while this holds; " + _CONDITION,
                kind="condition",
                sets={"mode": "while"},
            ),
            Field(
                "max",
                "times",
                "the most rounds with until / while",
                kind="int",
                with_field="condition",
            ),
        ),
        scalar="times",
        children={"steps": "steps"},
        required=("times", "steps"),
        validate=_repeat_rule,
        example_children={"steps": [{"click": "#next"}]},
    ),
    StepSpec(
        "capture",
        "flow control",
        "capture",
        "Keep a value read from the page under a name; later steps use it as @{name}",
        example={"as": "total", "text": "#cart-total"},
        fields=(
            Field("as", "key", "the name later steps use it by (@{name})"),
            Field(
                "text",
                "selector",
                "an element's text (a field's value)",
                kind="selector",
                sets={"mode": "text"},
            ),
            Field("value", "selector", "a field's value", kind="selector", sets={"mode": "value"}),
            Field(
                "count",
                "selector",
                "how many elements match",
                kind="selector",
                sets={"mode": "count"},
            ),
            Field(
                "attribute",
                "attribute",
                "an attribute of selector's element",
                sets={"mode": "attribute"},
            ),
            Field("selector", "selector", "the element an attribute is read from", kind="selector"),
            Field(
                "from", "mode", "the page's url or title", kind="choice", choices=("url", "title")
            ),
            Field("script", "input_data", "what a JavaScript returns", sets={"mode": "script"}),
        ),
        required=("key",),
        secret_value=True,
        validate=_capture_rule,
    ),
)
