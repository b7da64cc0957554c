"""The short form of one step, to the canonical form and back, driven by the registry.

``to_canonical`` turns what people write (``click: "#go"``, ``assert_text:
{selector: h1, contains: Hi}``, ``- back``) into a canonical step dict, or
reports what is wrong in the user's own words; ``to_short`` writes a canonical
``Step`` back in the short form (mapping bodies, modifiers beside the action),
so ``to_canonical(to_short(step))`` is ``step`` again.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testfleet.suites.steps.base import MATCHES, Field, StepSpec
from testfleet.suites.steps.conditions import condition_to_short, to_condition
from testfleet.suites.steps.forms import MAX_UPLOAD_FILE_BYTES, MAX_UPLOAD_TOTAL_BYTES
from testfleet.suites.steps.registry import BY_KEY, MODIFIERS, spec_of

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step

_TEXT_FIELDS = frozenset(
    {"selector", "input_data", "expected_result", "attribute", "key", "mode", "target", "name"}
)
"""Canonical fields holding text: a number written there (``count: 3``) becomes text."""
_DEFAULTS: Mapping[str, Any] = {
    "timeout_seconds": None,
    "is_optional": False,
    "continue_on_failure": False,
    "secret": False,
    "negate": False,
    "soft": False,
    "force": False,
}
_SHORT_MODIFIER = {
    "name": "name",
    "timeout_seconds": "timeout",
    "is_optional": "optional",
    "continue_on_failure": "continue_on_failure",
    "secret": "secret",
    "negate": "not",
    "soft": "soft",
    "force": "force",
}


@dataclass
class Uploads:
    """Where ``upload`` paths are read from, and how many bytes a suite embedded so far."""

    base_dir: Path | None
    total_bytes: int = 0
    read: Callable[[Path], bytes] = field(default=Path.read_bytes)


def known_keys() -> str:
    return ", ".join(sorted(BY_KEY))


Children = Callable[[Any, str], list[Any] | None]
"""Converts the steps of a block (``then:``, ``steps:``): (value, where) -> canonical steps,
or None after reporting what is wrong."""


def to_canonical(
    step: Any, where: str, problems: list[str], uploads: Uploads, children: Children
) -> tuple[str, dict[str, Any]] | None:
    """(action key, canonical step) for a short-form ``step``; None after adding to
    ``problems`` (each prefixed with ``where``) when it cannot be understood."""
    if isinstance(step, str) and step in BY_KEY:
        step = {step: None}
    if not isinstance(step, dict):
        problems.append(f"{where}: a step must be a mapping such as {{click: '#go'}}, got {step!r}")
        return None
    actions = [k for k in step if k in BY_KEY]
    blocks = BY_KEY[actions[0]].children if len(actions) == 1 else {}
    unknown = [k for k in step if k not in BY_KEY and k not in MODIFIERS and k not in blocks]
    if unknown:
        problems.append(
            f"{where}: unknown step key {unknown[0]!r}; a step has one action ({known_keys()}) "
            f"and optionally {', '.join(MODIFIERS)}, or a canonical step_type"
        )
        return None
    if len(actions) != 1:
        got = f"{len(actions)} ({', '.join(actions)})" if actions else "none"
        problems.append(f"{where}: a step needs exactly one action ({known_keys()}); got {got}")
        return None
    key = actions[0]
    spec = BY_KEY[key]
    out: dict[str, Any] = {"step_type": spec.step_type}
    if spec.assertion:
        out["assertion"] = spec.assertion
    before = len(problems)
    _body(spec, key, step[key], out, f"{where}.{key}", problems, uploads)
    for modifier, canonical in MODIFIERS.items():
        if modifier in step:
            _modifier(modifier, canonical, step[modifier], out, f"{where}.{modifier}", problems)
    for child, canonical in blocks.items():
        if child in step:
            out[canonical] = children(step[child], f"{where}.{child}")
            if out[canonical] is None:
                problems.append("")  # reported where the child steps are; refuse this one
    problems[before:] = [p for p in problems[before:] if p]
    if len(problems) > before or any(out.get(c, ()) is None for c in blocks.values()):
        return None  # the model's complaints would only echo these
    return key, out


def _modifier(
    name: str, canonical: str, value: Any, out: dict[str, Any], where: str, problems: list[str]
) -> None:
    if name == "when":
        value = to_condition(value, where, problems)
    out[canonical] = value


def _body(
    spec: StepSpec,
    key: str,
    body: Any,
    out: dict[str, Any],
    where: str,
    problems: list[str],
    uploads: Uploads,
) -> None:
    if body is None:
        return
    scalar = spec.field_named(spec.scalar) if spec.scalar else None
    if isinstance(body, dict) and scalar is not None and scalar.kind == "condition":
        _fill(scalar, body, out, where, problems, uploads)  # if: {visible: ...} is the condition
        return
    if isinstance(body, dict):
        writes: dict[str, list[str]] = {}
        for name, value in body.items():
            found = spec.field_named(str(name))
            if found is not None:
                for canonical in {found.to, *found.sets}:
                    writes.setdefault(canonical, []).append(str(name))
                _fill(found, value, out, f"{where}.{name}", problems, uploads)
            elif name in MODIFIERS:
                _modifier(str(name), MODIFIERS[name], value, out, f"{where}.{name}", problems)
            else:
                allowed = ", ".join([*(f.name for f in spec.fields if not f.alias), *MODIFIERS])
                problems.append(f"{where}: unknown field {name!r} (allowed: {allowed})")
        # Two keys saying the same thing (url and load of a wait_for both say what to wait
        # for; option and value of a select both name the option): refuse, never pick one.
        clashing = next((names for names in writes.values() if len(names) > 1), [])
        if clashing:
            problems.append(f"{where}: takes only one of {', '.join(clashing)}")
        return
    if isinstance(body, int | float) and not isinstance(body, bool) and spec.number_scalar:
        target = spec.field_named(spec.number_scalar)
    elif isinstance(body, str) and body in spec.keywords:
        out.update(spec.keywords[body])
        return
    else:
        target = spec.field_named(spec.scalar) if spec.scalar else None
    if target is None:
        names = ", ".join(f.name for f in spec.fields if not f.alias)
        wanted = f"a mapping with {names}" if names else "no value"
        if spec.keywords:
            wanted = f"{' or '.join(spec.keywords)}, or {wanted}"
        problems.append(f"{where}: needs {wanted}, not {body!r}")
        return
    _fill(target, body, out, where, problems, uploads)


def _fill(
    spec_field: Field,
    value: Any,
    out: dict[str, Any],
    where: str,
    problems: list[str],
    uploads: Uploads,
) -> None:
    out.update(spec_field.sets)
    kind = spec_field.kind
    if kind == "compare" and isinstance(value, dict):
        given = [m for m in MATCHES if m in value]
        if len(given) != 1 or len(value) != 1:
            problems.append(f"{where}: takes a text, or one of {{equals|contains|matches: text}}")
            return
        out["match"] = given[0]
        value = value[given[0]]
    elif kind == "compare":
        out.setdefault("match", "contains")
    elif kind == "selectors":
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{where}: takes a selector or a list of selectors")
            return
    elif kind == "names":
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append(f"{where}: takes a name or a list of names")
            return
    elif kind == "budgets":
        if not isinstance(value, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
        ):
            problems.append(f"{where}: takes {{metric: number, ...}} (lcp_ms: 2500, cls: 0.1)")
            return
    elif kind == "choice" and value not in spec_field.choices:
        problems.append(f"{where}: must be one of {', '.join(spec_field.choices)}, not {value!r}")
        return
    elif kind == "status":
        value = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    elif kind == "files":
        value = _read_files(value, where, problems, uploads)
        if value is None:
            return
    elif kind == "condition":
        value = to_condition(value, where, problems)
        if value is None:
            return
    if spec_field.to in _TEXT_FIELDS and isinstance(value, int | float):
        value = value if isinstance(value, bool) else str(value)
    out[spec_field.to] = value


def _read_files(
    value: Any, where: str, problems: list[str], uploads: Uploads
) -> list[dict[str, str]] | None:
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        problems.append(f"{where}: must be a file path or a list of them")
        return None
    if uploads.base_dir is None:
        problems.append(
            f"{where}: files are read relative to the suite file, and this suite has none: "
            "run it from a file (testfleet run), or send the files embedded "
            "(canonical files: [{name, content_b64}])"
        )
        return None
    embedded = []
    for raw in paths:
        path = uploads.base_dir / raw
        try:
            data = uploads.read(path)
        except OSError as exc:
            problems.append(f"{where}: cannot read {raw} ({exc.strerror or exc})")
            continue
        if len(data) > MAX_UPLOAD_FILE_BYTES:
            problems.append(
                f"{where}: {raw} is {len(data):,} bytes; an upload may be at most "
                f"{MAX_UPLOAD_FILE_BYTES:,}"
            )
            continue
        uploads.total_bytes += len(data)
        if uploads.total_bytes > MAX_UPLOAD_TOTAL_BYTES:
            problems.append(
                f"{where}: the suite's uploads come to more than {MAX_UPLOAD_TOTAL_BYTES:,} bytes;"
                " use smaller files"
            )
            return None
        embedded.append({"name": path.name, "content_b64": base64.b64encode(data).decode()})
    return embedded if len(embedded) == len(paths) else None


def to_short(step: Step) -> dict[str, Any]:
    """``step`` in the short form: ``{key: {field: value, ...}, modifier: value, ...}``
    (the body is None for a step without fields)."""
    spec = spec_of(step.step_type, step.assertion)
    assert spec is not None  # a validated step
    values = step.model_dump(exclude_none=True)
    body: dict[str, Any] = {}
    for spec_field in spec.fields:
        if spec_field.alias or spec_field.to not in values or spec_field.to in _taken(body, spec):
            continue
        if spec_field.to == "name" or any(values.get(k) != v for k, v in spec_field.sets.items()):
            continue
        if _written_elsewhere(spec, spec_field, values):
            continue
        if spec_field.kind == "choice" and values[spec_field.to] not in spec_field.choices:
            continue  # another key says this (capture's script, not its from:)
        value = values[spec_field.to]
        if spec_field.kind == "compare":
            value = {step.match: value} if step.match != "contains" else value
        elif spec_field.kind == "files":
            continue  # embedded contents have no path to write back
        elif spec_field.kind in ("int", "number") and isinstance(value, str):
            value = _number(value)
        elif spec_field.kind == "condition":
            value = condition_to_short(getattr(step, spec_field.to))
        body[spec_field.name] = value
    scalar = spec.field_named(spec.scalar) if spec.scalar else None
    if scalar is not None and scalar.kind == "condition" and list(body) == [scalar.name]:
        short: dict[str, Any] = {spec.key: body[scalar.name]}  # the condition is the body
    else:
        short = {spec.key: body or None}
    for canonical, modifier in _SHORT_MODIFIER.items():
        value = values.get(canonical)
        if value is not None and value != _DEFAULTS.get(canonical):
            short[modifier] = value
    if step.when is not None:
        short["when"] = condition_to_short(step.when)
    for child, canonical in spec.children.items():
        inner = getattr(step, canonical)
        if inner is not None:
            short[child] = [to_short(s) for s in inner]
    return short


def _written_elsewhere(spec: StepSpec, spec_field: Field, values: dict[str, Any]) -> bool:
    """Whether another key writes ``spec_field``'s canonical field for these values
    (``max`` rather than ``times`` for a repeat with a condition)."""
    if spec_field.with_field is not None:
        return spec_field.with_field not in values
    return any(
        f.to == spec_field.to and f.with_field is not None and f.with_field in values
        for f in spec.fields
    )


def _number(text: str) -> int | float | str:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _taken(body: dict[str, Any], spec: StepSpec) -> set[str]:
    return {f.to for f in spec.fields if f.name in body}
