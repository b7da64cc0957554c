"""The step registry: every kind has a handler, docs and a schema; both forms round-trip."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from testfleet.ai.prompts import GENERATE_PROMPT, TEST_CASE_SCHEMA
from testfleet.errors import SuiteError
from testfleet.suites.loader import dump_canonical, load_text
from testfleet.suites.schema import suite_schema
from testfleet.suites.steps import BY_KEY, MODIFIERS, SPECS, STEP_TYPES, StepSpec
from testfleet.suites.steps.docs import PAGE, TABLE_BEGIN, TABLE_END, markdown_table
from testfleet.suites.steps.shortform import to_short
from workers.executor.handlers import HANDLERS

ROOT = Path(__file__).resolve().parents[3]
VALIDATOR = jsonschema.Draft202012Validator(suite_schema())


def _suite(*steps: Any) -> dict[str, Any]:
    return {
        "name": "s",
        "base_url": "http://app.test",
        "tests": [{"name": "t", "steps": list(steps)}],
    }


def test_every_step_kind_has_a_handler_and_nothing_else_does() -> None:
    assert set(HANDLERS) == {spec.key for spec in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.key)
def test_every_step_kind_has_docs_an_example_and_a_schema(spec: StepSpec) -> None:
    assert spec.doc[:1].isupper()
    assert not spec.doc.endswith(".")
    assert all(f.doc for f in spec.fields)
    document = _suite(spec.example_step)
    VALIDATOR.validate(document)  # the published schema accepts the example...
    suite = load_text(json.dumps(document), {}, base_dir=ROOT / "tests" / "data")
    loaded = suite.tests[0].steps[0]
    assert loaded.kind == spec.key  # ...and so does the loader, as this kind
    canonical = json.loads(dump_canonical(suite))
    VALIDATOR.validate(canonical)  # the canonical form of it too
    assert spec.key in markdown_table()
    assert spec.step_type in STEP_TYPES
    if spec.family != "flow control":  # generated tests are straight lines of steps
        assert f"step_type {spec.step_type}" in GENERATE_PROMPT


def test_the_generation_schema_offers_every_step_type_and_assertion() -> None:
    step = TEST_CASE_SCHEMA["properties"]["steps"]["items"]
    offered = [t for t in STEP_TYPES if t not in ("group", "if", "repeat", "capture")]
    assert step["properties"]["step_type"]["enum"] == offered
    kinds = {s.assertion for s in SPECS if s.assertion}
    assert kinds <= set(step["properties"]["assertion"]["enum"])
    assert set(step["required"]) == set(step["properties"])  # strict structured output


def test_the_schema_rejects_what_the_loader_rejects() -> None:
    for bad in ({"click": {}}, {"click": "#a", "not": True}, {"navigate": "/", "force": True},
                {"clik": "#a"}, {"assert_text": {"selector": "h1"}}):  # fmt: skip
        assert not VALIDATOR.is_valid(_suite(bad)), bad
        with pytest.raises(SuiteError):
            load_text(json.dumps(_suite(bad)), {})


def test_the_step_reference_page_shows_the_generated_step_table() -> None:
    page = (ROOT / PAGE).read_text(encoding="utf-8")
    begin, end = page.index(TABLE_BEGIN), page.index(TABLE_END) + len(TABLE_END)
    assert page[begin:end] == markdown_table(), "run: python -m testfleet.suites.steps.docs"


# -- generated suites round-trip --------------------------------------------------------

_SAFE = string.ascii_letters + string.digits + " -_/.:#"
_SELECTORS = [
    "#go", "button.primary", "text=Sign in", 'text="Exact"', "role=button[name=\"Save\"]",
    "label=Email", "placeholder=Search", "testid=submit", "xpath=//a[1]", "//li",
    "#list >> text=Milk", "li >> nth=-1", "li >> has_text=Tea", "fancy-counter >> button",
    "li >> visible=true",
]  # fmt: skip
_text = st.text(alphabet=_SAFE, min_size=1, max_size=12).map(str.strip).filter(bool)


def _value(spec: StepSpec, name: str) -> st.SearchStrategy[Any]:
    field = spec.field_named(name)
    assert field is not None
    special: dict[tuple[str, str], st.SearchStrategy[Any]] = {
        ("scroll", "to"): st.sampled_from(["top", "bottom", "120", "-40"]),
        ("wait", "seconds"): st.sampled_from([0.5, 2, 1.25]),
        ("assert_class", "class"): st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
        ("set_viewport", "width"): st.integers(200, 4000),
        ("set_viewport", "height"): st.integers(200, 4000),
        ("switch_tab", "index"): st.integers(-3, 5),
        ("assert_screenshot", "max_diff_ratio"): st.sampled_from([0.0, 0.01, 0.5]),
        ("assert_screenshot", "threshold"): st.sampled_from([0.0, 0.1, 1.0]),
        ("capture", "as"): st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
        ("capture", "attribute"): st.sampled_from(["href", "data-id"]),
        ("capture", "script"): st.just("return 1"),
        ("repeat", "times"): st.integers(1, 5),
        ("repeat", "max"): st.integers(1, 5),
    }
    if (spec.key, name) in special:
        return special[(spec.key, name)]
    kind = field.kind
    if kind == "selector":
        return st.sampled_from(_SELECTORS)
    if kind == "selectors":
        return st.lists(st.sampled_from(_SELECTORS), min_size=1, max_size=3)
    if kind == "int":
        return st.integers(0, 50)
    if kind == "number":
        return st.sampled_from([0, 12, 2.5])
    if kind == "choice":
        return st.sampled_from(field.choices)
    if kind == "status":
        return st.one_of(st.just("any"), st.lists(st.integers(400, 599), min_size=1, max_size=3))
    if kind == "compare":
        return st.one_of(
            _text, st.builds(lambda m, v: {m: v}, st.sampled_from(["equals", "matches"]), _text)
        )
    if kind == "condition":
        return conditions
    if kind == "names":  # canonical: a list, also of one (a single name is accepted too)
        return st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), min_size=1)
    if kind == "budgets":
        metrics = st.sampled_from(["ttfb_ms", "load_ms", "lcp_ms", "cls", "tbt_ms"])
        return st.dictionaries(metrics, st.sampled_from([0, 0.1, 2500]), min_size=1)
    return _text


conditions = st.builds(
    lambda question, negate: {**question, **({"not": True} if negate else {})},
    st.one_of(
        st.builds(lambda k, s: {k: s}, st.sampled_from(["visible", "hidden", "exists"]),
                  st.sampled_from(_SELECTORS)),
        st.builds(lambda v: {"url": v}, _text),
        st.builds(lambda v: {"title": {"equals": v}}, _text),
        st.builds(lambda s, v: {"text": {"selector": s, "contains": v}},
                  st.sampled_from(_SELECTORS), _text),
        st.builds(lambda v: {"value": "@@{literal}", "equals": v}, _text),
        st.just({"script": "return true"}),
    ),
    st.booleans(),
)  # fmt: skip


@st.composite
def short_steps(draw: st.DrawFn, spec: StepSpec) -> dict[str, Any]:
    """A step of ``spec`` in the normal short form (mapping body, modifiers beside it)."""
    fields = [f for f in spec.fields if not f.alias and f.to != "name" and f.kind != "files"]
    body: dict[str, Any] = {}
    used: set[str] = set()
    for canonical in spec.required:
        if canonical in spec.children.values():
            continue
        names = [f.name for f in fields if f.to == canonical and f.with_field is None]
        name = draw(st.sampled_from(names))
        body[name] = draw(_value(spec, name))
        used.add(canonical)
    for field in fields:
        if field.with_field is not None:
            continue
        if field.to not in used and draw(st.booleans()):
            body[field.name] = draw(_value(spec, field.name))
            used.add(field.to)
    for field in fields:  # e.g. a repeat with until says max, not times
        if field.with_field in used:
            other = next(f.name for f in fields if f.to == field.to and f.name in body)
            body[field.name] = body.pop(other)
    scalar = spec.field_named(spec.scalar) if spec.scalar else None
    if scalar is not None and scalar.kind == "condition" and list(body) == [scalar.name]:
        step: dict[str, Any] = {spec.key: body[scalar.name]}
    else:
        step = {spec.key: body or None}
    for child, canonical in spec.children.items():
        if canonical in spec.required or draw(st.booleans()):
            step[child] = draw(st.lists(st.sampled_from(_LEAVES).flatmap(short_steps),
                                        min_size=1, max_size=2))  # fmt: skip
    if draw(st.booleans()):
        step["when"] = draw(conditions)
    if draw(st.booleans()):
        step["name"] = draw(_text)
    if draw(st.booleans()):
        step["timeout"] = draw(st.sampled_from([0.5, 3, 12.5]))
    for flag in ("optional", "continue_on_failure"):
        if draw(st.booleans()):
            step[flag] = True
    if spec.is_assertion:
        for flag in ("not", "soft"):
            if draw(st.booleans()):
                step[flag] = True
    if spec.checks and draw(st.booleans()):
        step["force"] = True
    hides = spec.secret_value or used & set(spec.secret_fields)
    if hides and draw(st.booleans()):
        step["secret"] = True
    return step


_ROUND_TRIP = [s for s in SPECS if s.key != "upload"]  # uploads embed files, not paths
_LEAVES = [s for s in _ROUND_TRIP if not s.is_block and s.key != "capture"]
suites = st.lists(st.sampled_from(_ROUND_TRIP).flatmap(short_steps), min_size=1, max_size=8).map(
    lambda steps: _suite(*steps)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(suites)
def test_generated_short_suites_round_trip_through_the_canonical_form(
    document: dict[str, Any],
) -> None:
    text = yaml.safe_dump(document, sort_keys=False)
    problems = _problems(text)
    # Combinations the generator cannot rule out by kind alone (a switch_tab with an
    # index and a title) are the loader's to refuse, each with a line naming the step.
    assert all(p.startswith("<suite>: tests[0].steps[") for p in problems), problems
    assume(not problems)
    suite = load_text(text, {})
    VALIDATOR.validate(document)
    steps = suite.tests[0].steps
    assert [to_short(step) for step in steps] == document["tests"][0]["steps"]
    again = load_text(dump_canonical(suite), {})
    assert again == suite
    VALIDATOR.validate(json.loads(dump_canonical(suite)))


def _problems(text: str) -> list[str]:
    try:
        load_text(text, {})
    except SuiteError as exc:
        return exc.problems
    return []


def test_modifiers_are_the_registry_s() -> None:
    assert set(MODIFIERS) >= {"name", "timeout", "optional", "continue_on_failure", "secret",
                              "not", "soft", "force"}  # fmt: skip
    assert {"open", "custom"} <= set(BY_KEY)
