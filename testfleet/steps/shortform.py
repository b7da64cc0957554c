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

from testfleet.steps.base import MATCHES, Field, StepSpec
from testfleet.steps.forms import MAX_UPLOAD_FILE_BYTES, MAX_UPLOAD_TOTAL_BYTES
from testfleet.steps.registry import BY_KEY, MODIFIERS, spec_of

if TYPE_CHECKING:
    from testfleet.suite import Step

_TEXT_FIELDS = frozenset(
    {"selector", "input_data", "expected_result", "attribute", "key", "mode", "target", "name"}
)
"""Canonical fields holding text: a number written there (``count: 3``) becomes text."""
_DEFAULTS: Mapping[str, Any] = {
    "timeout_seconds": None, "is_optional": False, "continue_on_failure": False,
    "secret": False, "negate": False, "soft": False, "force": False,
}  # fmt: skip
_SHORT_MODIFIER = {
    "name": "name", "timeout_seconds": "timeout", "is_optional": "optional",
    "continue_on_failure": "continue_on_failure", "secret": "secret", "negate": "not",
    "soft": "soft", "force": "force",
}  # fmt: skip


@dataclass
class Uploads:
    """Where ``upload`` paths are read from, and how many bytes a suite embedded so far."""

    base_dir: Path | None
    total_bytes: int = 0
    read: Callable[[Path], bytes] = field(default=Path.read_bytes)


def known_keys() -> str:
    return ", ".join(sorted(BY_KEY))


def to_canonical(
    step: Any, where: str, problems: list[str], uploads: Uploads
) -> tuple[str, dict[str, Any]] | None:
    """(action key, canonical step) for a short-form ``step``; None after adding to
    ``problems`` (each prefixed with ``where``) when it cannot be understood."""
    if isinstance(step, str) and step in BY_KEY:
        step = {step: None}
    if not isinstance(step, dict):
        problems.append(f"{where}: a step must be a mapping such as {{click: '#go'}}, got {step!r}")
        return None
    actions = [k for k in step if k in BY_KEY]
    unknown = [k for k in step if k not in BY_KEY and k not in MODIFIERS]
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
    if len(problems) > before:
        return None  # the model's complaints would only echo these
    for modifier, canonical in MODIFIERS.items():
        if modifier in step:
            out[canonical] = step[modifier]
    return key, out


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
    if isinstance(body, dict):
        implied: dict[tuple[str, Any], str] = {}
        for name, value in body.items():
            found = spec.field_named(str(name))
            if found is not None:
                for item in found.sets.items():
                    implied.setdefault(item, str(name))
                _fill(found, value, out, f"{where}.{name}", problems, uploads)
            elif name in MODIFIERS:
                out[MODIFIERS[name]] = value
            else:
                allowed = ", ".join([*(f.name for f in spec.fields if not f.alias), *MODIFIERS])
                problems.append(f"{where}: unknown field {name!r} (allowed: {allowed})")
        clashing = _clashes(implied)
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


def _clashes(implied: dict[tuple[str, Any], str]) -> list[str]:
    """Fields given together that mean different things (``url`` and ``load`` of a
    ``wait_for``: both say what ``mode`` is)."""
    by_key: dict[str, list[str]] = {}
    for (key, _value), name in implied.items():
        by_key.setdefault(key, []).append(name)
    return next((names for names in by_key.values() if len(names) > 1), [])


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
    elif kind == "choice" and value not in spec_field.choices:
        problems.append(f"{where}: must be one of {', '.join(spec_field.choices)}, not {value!r}")
        return
    elif kind == "status":
        value = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    elif kind == "files":
        value = _read_files(value, where, problems, uploads)
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
        value = values[spec_field.to]
        if spec_field.kind == "compare":
            value = {step.match: value} if step.match != "contains" else value
        elif spec_field.kind == "files":
            continue  # embedded contents have no path to write back
        elif spec_field.kind in ("int", "number") and isinstance(value, str):
            value = _number(value)
        body[spec_field.name] = value
    short: dict[str, Any] = {spec.key: body or None}
    for canonical, modifier in _SHORT_MODIFIER.items():
        value = values.get(canonical)
        if value is not None and value != _DEFAULTS.get(canonical):
            short[modifier] = value
    return short


def _number(text: str) -> int | float | str:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _taken(body: dict[str, Any], spec: StepSpec) -> set[str]:
    return {f.to for f in spec.fields if f.name in body}
