"""Assertions: every one retries until its timeout, takes ``not: true`` and ``soft: true``.

Where a value is compared, it is with ``equals``, ``contains`` or ``matches``
(``testfleet.suites.steps.compare``). Canonical suites name an assertion with
``step_type: assert`` and ``assertion: <kind>``; the kinds ``text_equals``,
``url_equals``, ``title_equals`` and ``attribute_equals`` of earlier suites
still load, as the kind with ``match: equals``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testfleet.suites.steps.base import (
    SELECTOR,
    Field,
    Match,
    Problem,
    StepSpec,
    Validator,
    compare_fields,
)
from testfleet.suites.steps.rules import all_of, regex_rule
from testfleet.suites.steps.selectors import selector_problem

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step

LEGACY_KINDS = {
    "text_equals": "text",
    "url_equals": "url",
    "title_equals": "title",
    "attribute_equals": "attribute",
}
"""Assertion kinds of earlier canonical suites -> (kind, with ``match: equals``)."""

_ELEMENT = (SELECTOR,)


COUNT_MODES = ("at_least", "at_most")
"""``assert_count``'s ``mode``: the count is a bound (unset: the exact count)."""


def _count_rule(step: Step) -> list[Problem]:
    if step.mode is not None and step.mode not in COUNT_MODES:
        return [
            Problem("mode", f"must be {' or '.join(COUNT_MODES)} (or unset), not {step.mode!r}")
        ]
    text = step.expected_result
    if text is not None and not text.strip().isdigit():
        what = f"must be a whole number for a count assertion, not {text!r}"
        return [Problem("expected_result", what, short=step.mode or "count")]
    return []


def _class_rule(step: Step) -> list[Problem]:
    value = step.expected_result
    if step.match == "contains" and value is not None and len(value.split()) != 1:
        return [Problem("expected_result", f"must be one class name, not {value!r}", short="class")]
    return []


def _mask_rule(step: Step) -> list[Problem]:
    problems = []
    for selector in step.mask or []:
        problem = selector_problem(selector) if selector else "is empty"
        if problem:
            problems.append(Problem("mask", f"has a selector {selector!r} that {problem}"))
    return problems


def _assertion(
    kind: str,
    doc: str,
    example: object,
    fields: tuple[Field, ...] = _ELEMENT,
    *,
    required: tuple[str, ...] = ("selector",),
    scalar: str | None = "selector",
    default_match: Match | None = None,
    validate: tuple[Validator, ...] = (),
) -> StepSpec:
    rules: list[Validator] = [regex_rule, *validate] if default_match else list(validate)
    return StepSpec(
        f"assert_{kind}",
        "assertions",
        "assert",
        doc,
        example=example,
        fields=fields,
        assertion=kind,
        scalar=scalar,
        required=required,
        empty_ok=("expected_result",),
        default_match=default_match,
        # What a comparison expects may be a secret (a token the page must show).
        secret_fields=("expected_result",) if default_match else (),
        validate=all_of(*rules),
    )


SPECS: tuple[StepSpec, ...] = (
    _assertion(
        "text",
        "An element's text (a field's value) equals, contains or matches a text",
        {"selector": "h1", "contains": "Welcome"},
        (SELECTOR, *compare_fields("the text")),
        scalar=None,
        required=("selector", "expected_result"),
        default_match="contains",
    ),
    _assertion(
        "url",
        "The page's URL (a path counts from base_url when it equals)",
        {"contains": "/dashboard"},
        compare_fields("the URL"),
        scalar="contains",
        required=("expected_result",),
        default_match="contains",
    ),
    _assertion(
        "title",
        "The page's title",
        {"equals": "Dashboard"},
        compare_fields("the title"),
        scalar="contains",
        required=("expected_result",),
        default_match="contains",
    ),
    _assertion("visible", "The element is visible (opacity 0 counts as visible)", "#banner"),
    _assertion("hidden", "No element matching is visible (none at all counts)", "#spinner"),
    _assertion("exists", "An element matches, shown or not", "#result"),
    _assertion(
        "count",
        "The number of matching elements (exactly, at least or at most)",
        {"selector": "li.todo", "count": 3},
        (
            SELECTOR,
            # mode None: said so that count and at_least given together are refused.
            Field("count", "expected_result", "how many", kind="int", sets={"mode": None}),
            Field("equals", "expected_result", "how many", kind="int", alias=True),
            Field(
                "at_least",
                "expected_result",
                "at least this many",
                kind="int",
                sets={"mode": "at_least"},
            ),
            Field(
                "at_most",
                "expected_result",
                "at most this many",
                kind="int",
                sets={"mode": "at_most"},
            ),
        ),
        scalar=None,
        required=("selector", "expected_result"),
        default_match="equals",
        validate=(_count_rule,),
    ),
    _assertion(
        "attribute",
        "An element's attribute equals, contains or matches a text (without one: it is there)",
        {"selector": "a.help", "attribute": "href", "contains": "/help"},
        (
            SELECTOR,
            Field("attribute", "attribute", "the attribute's name"),
            Field("name", "attribute", "the attribute's name", alias=True),
            *compare_fields("the attribute"),
        ),
        scalar=None,
        required=("selector", "attribute"),
        default_match="contains",
    ),
    _assertion(
        "value",
        "A field's value (input, textarea, select)",
        {"selector": "#email", "equals": "alice@example.com"},
        (SELECTOR, *compare_fields("the value")),
        scalar=None,
        required=("selector", "expected_result"),
        default_match="equals",
    ),
    _assertion("checked", "A checkbox or radio button (or role=checkbox) is checked", "#remember"),
    _assertion("editable", "A field can be typed into: enabled and not read-only", "#email"),
    _assertion("enabled", "The element is enabled (no disabled, no aria-disabled)", "#save"),
    _assertion("disabled", "The element is disabled", "#save"),
    _assertion("focused", "The element has the keyboard focus", "#search"),
    _assertion(
        "class",
        "The element's class list has a class (equals/matches: the whole class text)",
        {"selector": "li.todo", "class": "completed"},
        (
            SELECTOR,
            Field(
                "class", "expected_result", "a class the element has", sets={"match": "contains"}
            ),
            Field(
                "equals",
                "expected_result",
                "the whole class attribute equals this",
                sets={"match": "equals"},
            ),
            Field(
                "matches",
                "expected_result",
                "the class attribute matches this regex",
                sets={"match": "matches"},
            ),
        ),
        scalar=None,
        required=("selector", "expected_result"),
        default_match="contains",
        validate=(_class_rule,),
    ),
    _assertion(
        "css",
        "A computed CSS property of the element",
        {"selector": "#error", "property": "color", "equals": "rgb(176, 0, 0)"},
        (
            SELECTOR,
            Field("property", "key", "the CSS property (color, display, ...)"),
            *compare_fields("the computed value"),
        ),
        scalar=None,
        required=("selector", "key", "expected_result"),
        default_match="equals",
    ),
    _assertion(
        "property",
        "A JavaScript property of the element (as JavaScript prints it)",
        {"selector": "#agree", "property": "indeterminate", "equals": "false"},
        (
            SELECTOR,
            Field("property", "key", "the property (checked, value, validity.valid)"),
            *compare_fields("the property"),
        ),
        scalar=None,
        required=("selector", "key", "expected_result"),
        default_match="equals",
    ),
    _assertion(
        "selected",
        "A <select>'s selected option (its text or value); without a value: an <option> "
        "is selected",
        {"selector": "#country", "equals": "Norway"},
        (SELECTOR, *compare_fields("the selected option's text or value")),
        default_match="equals",
    ),
    StepSpec(
        "assert_screenshot",
        "assertions",
        "assert",
        "The page (or an element) looks like its approved baseline: animations frozen, the "
        "caret hidden, masked regions painted over, compared once two captures in a row "
        "agree; the first run records the baseline",
        example={"name": "dashboard", "mask": ["#clock"], "max_diff_ratio": 0.01},
        assertion="screenshot",
        fields=(
            Field(
                "name",
                "name",
                "the baseline's name (default: screenshot-1, -2, ... in the test's order)",
            ),
            Field(
                "selector",
                "selector",
                "an element to capture (default: the viewport)",
                kind="selector",
            ),
            Field(
                "mask",
                "mask",
                "selectors of regions painted over before comparing (a clock, an ad)",
                kind="selectors",
            ),
            Field(
                "max_diff_ratio",
                "max_diff_ratio",
                "the ratio of pixels that may differ, 0-1 (default 0)",
                kind="number",
            ),
            Field(
                "threshold",
                "threshold",
                "how far a pixel's colour may move and still count "
                "as unchanged, 0-1 (default 0.1: anti-aliasing)",
                kind="number",
            ),
        ),
        scalar="name",
        bare=True,
        validate=_mask_rule,
    ),
)
