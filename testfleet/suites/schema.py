"""The published JSON Schema of a suite file, both forms, derived from the registry.

``suite_schema()`` is what ``testfleet schema`` prints: the suite model's
schema (pydantic) with each test's ``steps`` accepting a canonical step (one
``step_type``, the fields each kind requires) or a short-form step (one action
key with its own fields, and the modifiers that apply to it). Editors use it
through a ``# yaml-language-server: $schema=...`` comment for completion,
hover docs and validation as one types.
"""

from __future__ import annotations

from typing import Any

from testfleet.results import PERFORMANCE_METRICS
from testfleet.suites.model import Suite
from testfleet.suites.steps.base import MATCHES, MODIFIER_DOCS, Field, StepSpec
from testfleet.suites.steps.model import Step
from testfleet.suites.steps.registry import MODIFIERS, SPECS, STEP_TYPES

_TEXT: dict[str, Any] = {"type": ["string", "number"]}
_MODIFIER_TYPES: dict[str, dict[str, Any]] = {
    "name": {"type": "string"},
    "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
    "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
    "optional": {"type": "boolean"},
    "continue_on_failure": {"type": "boolean"},
    "secret": {"type": "boolean"},
    "not": {"type": "boolean"},
    "soft": {"type": "boolean"},
    "force": {"type": "boolean"},
    "when": {"$ref": "#/$defs/Condition"},
}


def _field_schema(field: Field) -> dict[str, Any]:
    kind = field.kind
    schema: dict[str, Any]
    if kind == "selector":
        schema = {"type": "string", "minLength": 1}
    elif kind == "selectors":
        one = {"type": "string", "minLength": 1}
        schema = {"anyOf": [one, {"type": "array", "items": one}]}
    elif kind == "int":
        schema = {"type": "integer"}
    elif kind == "number":
        schema = {"type": ["number", "string"]}
    elif kind == "status":
        status = {"type": "integer", "minimum": 400, "maximum": 599}
        schema = {"anyOf": [status, {"type": "array", "items": status}, {"const": "any"}]}
    elif kind == "files":
        path = {"type": "string", "minLength": 1}
        schema = {"anyOf": [path, {"type": "array", "items": path, "minItems": 1}]}
    elif kind == "choice":
        schema = {"enum": list(field.choices)}
    elif kind == "compare":
        one = {m: _TEXT for m in MATCHES}
        schema = {
            "anyOf": [
                _TEXT,
                {
                    "type": "object",
                    "properties": one,
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": False,
                },
            ]
        }
    elif kind == "condition":
        schema = {"$ref": "#/$defs/Condition"}
    elif kind == "names":
        one = {"type": "string", "minLength": 1}
        schema = {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}]}
    elif kind == "budgets":
        metrics = {m: {"type": "number", "minimum": 0} for m in PERFORMANCE_METRICS}
        schema = {
            "type": "object",
            "properties": metrics,
            "minProperties": 1,
            "additionalProperties": False,
        }
    else:
        schema = dict(_TEXT)
    return {**schema, "description": field.doc}


_ANY_STEP = {"$ref": "#/$defs/AnyStep"}
_STEP_LIST = {"type": "array", "items": _ANY_STEP, "minItems": 1}


def condition_schema() -> dict[str, Any]:
    """A short-form condition (``testfleet.suites.steps.conditions``)."""
    compare = _field_schema(Field("x", "x", "", kind="compare"))
    common: dict[str, Any] = {
        "not": {"type": "boolean", "description": "holds when the question's answer is no"},
        "wait": {"type": "number", "minimum": 0, "description": "seconds it may take to hold"},
    }
    matches: dict[str, Any] = {m: _TEXT for m in MATCHES}
    text = {
        "type": "object",
        "properties": {"selector": {"type": "string"}, **matches},
        "required": ["selector"],
        "additionalProperties": False,
    }
    questions: dict[str, Any] = {
        "visible": {"type": "string"},
        "hidden": {"type": "string"},
        "exists": {"type": "string"},
        "url": compare,
        "title": compare,
        "text": text,
        "script": {"type": "string"},
    }
    choices = [
        {
            "type": "object",
            "properties": {q: body, **common},
            "required": [q],
            "additionalProperties": False,
        }
        for q, body in questions.items()
    ]
    choices.append(
        {
            "type": "object",
            "properties": {"value": _TEXT, **matches, **common},
            "required": ["value"],
            "additionalProperties": False,
        }
    )
    return {"title": "Condition", "anyOf": choices}


def use_schema() -> dict[str, Any]:
    """``use:`` of a flow, with arguments."""
    call = {
        "type": "object",
        "properties": {"flow": {"type": "string"}, "with": {"type": "object"}},
        "required": ["flow"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "description": "Run a flow's steps here (grouped under this step in reports)",
        "properties": {
            "use": {"anyOf": [{"type": "string"}, call]},
            "name": {"type": "string"},
            "when": {"$ref": "#/$defs/Condition"},
        },
        "required": ["use"],
        "additionalProperties": False,
    }


def _modifiers(spec: StepSpec) -> dict[str, dict[str, Any]]:
    """The modifiers that have an effect on ``spec``'s steps."""
    out = {}
    hides = spec.secret_fields or spec.secret_value
    for name in MODIFIERS:
        if name in ("not", "soft") and not spec.is_assertion:
            continue
        if (name == "force" and not spec.checks) or (name == "secret" and not hides):
            continue
        doc = MODIFIER_DOCS.get(name, MODIFIER_DOCS["timeout"])
        out[name] = {**_MODIFIER_TYPES[name], "description": doc}
    return out


def _body_schema(spec: StepSpec) -> dict[str, Any]:
    fields = {f.name: _field_schema(f) for f in spec.fields}
    mapping: dict[str, Any] = {
        "type": "object",
        "properties": {**_modifiers(spec), **fields},
        "additionalProperties": False,
    }
    required = []
    for canonical in spec.required:
        names = spec.short_names(canonical) or [f.name for f in spec.fields if f.to == canonical]
        if names:
            required.append(
                {"required": names[:1]}
                if len(names) == 1
                else {"anyOf": [{"required": [n]} for n in names]}
            )
    if required:
        mapping["allOf"] = required
    scalar = spec.field_named(spec.scalar) if spec.scalar else None
    if scalar is not None and scalar.kind == "condition":
        return {"description": spec.doc, "$ref": "#/$defs/Condition"}
    choices: list[dict[str, Any]] = [mapping]
    if scalar is not None:
        choices.append(_field_schema(scalar))
    number = spec.field_named(spec.number_scalar) if spec.number_scalar else None
    if number is not None:
        choices.append({"type": "number", "description": number.doc})
    if spec.keywords:
        choices.append({"enum": list(spec.keywords)})
    if spec.bare or not set(spec.required) - set(spec.children.values()):
        choices.append({"type": "null"})
    return {"description": spec.doc, "anyOf": choices}


def short_step_schema() -> dict[str, Any]:
    """A short-form step: one action key (or a bare action name) and its modifiers."""
    choices: list[dict[str, Any]] = []
    for spec in SPECS:
        blocks = {child: _STEP_LIST for child in spec.children}
        required = [spec.key, *(c for c, f in spec.children.items() if f in spec.required)]
        for key in (spec.key, *spec.aliases):
            choices.append(
                {
                    "type": "object",
                    "description": spec.doc,
                    "properties": {key: _body_schema(spec), **_modifiers(spec), **blocks},
                    "required": [key, *required[1:]],
                    "additionalProperties": False,
                }
            )
            if spec.bare:
                choices.append({"const": key, "description": spec.doc})
    choices.append(use_schema())
    return {"title": "Step (short form)", "anyOf": choices}


def canonical_step_schema() -> dict[str, Any]:
    """A canonical step: the ``Step`` model's fields, and what each kind requires."""
    model = Step.model_json_schema()
    defs = model.get("$defs", {})
    step = defs.pop("Step", model)  # the model refers to itself: its schema is a definition
    properties = dict(step["properties"])
    properties["step_type"] = {"enum": list(STEP_TYPES), "description": "the kind of step"}
    properties["assertion"] = {
        "enum": [s.assertion for s in SPECS if s.assertion]
        + ["text_equals", "url_equals", "title_equals", "attribute_equals", None],
        "description": "assert steps: what is checked",
    }
    rules = []
    for spec in SPECS:
        condition: dict[str, Any] = {"step_type": {"const": spec.step_type}}
        if spec.assertion:
            condition["assertion"] = {"const": spec.assertion}
        rules.append(
            {
                "if": {"properties": condition, "required": list(condition)},
                "then": {"required": list(spec.required), "description": spec.doc},
            }
        )
    return {
        "title": "Step (canonical form)",
        "type": "object",
        "properties": properties,
        "required": ["step_type"],
        "additionalProperties": False,
        "allOf": rules,
        "$defs": defs,
    }


def suite_schema() -> dict[str, Any]:
    """The JSON Schema of a suite file in either form (``testfleet schema``)."""
    schema = Suite.model_json_schema()
    defs = schema.setdefault("$defs", {})
    canonical = canonical_step_schema()
    defs.update(canonical.pop("$defs"))
    defs["CanonicalCondition"] = defs.pop("Condition")
    canonical["properties"]["when"] = canonical["properties"]["condition"] = {
        "anyOf": [{"$ref": "#/$defs/CanonicalCondition"}, {"type": "null"}]
    }
    defs["Step"] = canonical
    defs["ShortStep"] = short_step_schema()
    defs["Condition"] = condition_schema()
    # A step_type says which form a step is in: one branch to check, not both.
    defs["AnyStep"] = {
        "if": {"type": "object", "required": ["step_type"]},
        "then": {"$ref": "#/$defs/Step"},
        "else": {"$ref": "#/$defs/ShortStep"},
    }
    test = defs["TestCase"]
    test["properties"]["steps"]["items"] = _ANY_STEP
    test["properties"]["data"] = {
        "description": "rows (one test each): a list of {column: value}, or a .csv/.json file",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}],
    }
    flow = {
        "type": "object",
        "properties": {
            "params": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]
            },
            "steps": _STEP_LIST,
            "description": {"type": "string"},
        },
        "required": ["steps"],
        "additionalProperties": False,
    }
    schema["properties"].update(
        {
            "flows": {
                "type": "object",
                "additionalProperties": flow,
                "description": "named steps with params, run with use: NAME",
            },
            "include": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                "description": "files of flows, relative to this one",
            },
            "before_each": {**_STEP_LIST, "description": "steps run before each test"},
            "after_each": {
                **_STEP_LIST,
                "description": "steps run after each test, even a failed one",
            },
        }
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "testfleet suite",
        "description": "A testfleet suite, in the short form people write or the canonical "
        "form (generated from testfleet's step registry by `testfleet schema`).",
    }
