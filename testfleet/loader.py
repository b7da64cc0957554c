"""Loading suites from files or text: YAML or JSON, short or canonical form.

Every problem in every file is collected and reported at once as a
``SuiteError``, each line naming the file, the test, the step and the field::

    login.yaml: tests[0].steps[2].click: selector is required

``${VAR}`` (and ``${VAR:-default}``) in any string is replaced from the
submitter's environment; ``$${`` stands for a literal ``${``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from testfleet.errors import SuiteError
from testfleet.limits import LimitSettings, RunLimits
from testfleet.suite import ASSERT_KINDS, STEP_TYPES, Suite
from testfleet.yamltext import parse_yaml

SUITE_SUFFIXES = (".yaml", ".yml", ".json")
_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# Keys every short-form step may carry beside its action, and their canonical field.
_MODIFIERS = {
    "name": "name",
    "timeout": "timeout_seconds",
    "timeout_seconds": "timeout_seconds",
    "optional": "is_optional",
    "continue_on_failure": "continue_on_failure",
    "secret": "secret",
}

# Short action -> (step_type, assertion).
_ACTIONS: dict[str, tuple[str, str | None]] = {
    "navigate": ("navigate", None),
    "open": ("navigate", None),
    "click": ("click", None),
    "hover": ("hover", None),
    "clear": ("clear", None),
    "type": ("type", None),
    "fill": ("type", None),
    "select": ("select", None),
    "press": ("press", None),
    "scroll": ("scroll", None),
    "wait": ("wait", None),
    "screenshot": ("screenshot", None),
    "script": ("custom", None),
    "custom": ("custom", None),
    "assert_text": ("assert", "text"),
    "assert_url": ("assert", "url"),
    "assert_title": ("assert", "title"),
    "assert_visible": ("assert", "visible"),
    "assert_hidden": ("assert", "hidden"),
    "assert_count": ("assert", "count"),
    "assert_attribute": ("assert", "attribute"),
}

# For each action whose mapping form is accepted: its keys and the canonical field.
_ACTION_FIELDS: dict[str, dict[str, str]] = {
    "navigate": {"url": "input_data"},
    "click": {"selector": "selector"},
    "hover": {"selector": "selector"},
    "clear": {"selector": "selector"},
    "type": {"selector": "selector", "text": "input_data", "secret": "secret"},
    "select": {"selector": "selector", "option": "input_data", "value": "input_data"},
    "press": {"selector": "selector", "keys": "input_data", "key": "input_data"},
    "scroll": {"selector": "selector", "to": "input_data"},
    "wait": {"selector": "selector", "seconds": "input_data"},
    "screenshot": {"name": "name", "analyze": "analyze"},
    "custom": {"script": "input_data"},
    "assert_text": {
        "selector": "selector", "contains": "expected_result", "equals": "expected_result"
    },
    "assert_url": {"contains": "expected_result", "equals": "expected_result"},
    "assert_title": {"contains": "expected_result", "equals": "expected_result"},
    "assert_visible": {"selector": "selector"},
    "assert_hidden": {"selector": "selector"},
    "assert_count": {
        "selector": "selector", "count": "expected_result", "equals": "expected_result"
    },
    "assert_attribute": {
        "selector": "selector",
        "attribute": "attribute",
        "name": "attribute",
        "equals": "expected_result",
        "contains": "expected_result",
    },
}  # fmt: skip
_ACTION_FIELDS["open"] = _ACTION_FIELDS["navigate"]
_ACTION_FIELDS["fill"] = _ACTION_FIELDS["type"]
_ACTION_FIELDS["script"] = _ACTION_FIELDS["custom"]

# The field a plain scalar (``click: "#go"``) fills, per action.
_SCALAR_FIELD = {
    "navigate": "input_data", "open": "input_data", "click": "selector", "hover": "selector",
    "clear": "selector", "press": "input_data", "scroll": "selector", "screenshot": "name",
    "script": "input_data", "custom": "input_data", "assert_url": "expected_result",
    "assert_title": "expected_result", "assert_visible": "selector", "assert_hidden": "selector",
}  # fmt: skip

_Problems = list[str]
# (test index, step index in the model) -> (step index in the file, short action or None)
_StepMap = dict[tuple[int, int], tuple[int, str | None]]


def load_paths(
    paths: Iterable[str | Path], env: Mapping[str, str], limits: LimitSettings | None = None
) -> list[Suite]:
    """Load every suite file named, or found (recursively) in a named directory, as one
    run within ``limits`` (the shipped defaults when None).

    Raises ``SuiteError`` listing every problem in every file (``LimitError`` when the
    run as a whole is too big).
    """
    run_limits = RunLimits(limits)
    files: list[Path] = []
    problems: _Problems = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in SUITE_SUFFIXES)
            if not found:
                problems.append(f"{path}: no suite files (*.yaml, *.yml, *.json) in this directory")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or directory")
    suites: list[Suite] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file}: cannot be read ({exc})")
            continue
        try:
            suites.append(load_text(text, env, source=str(file), limits=run_limits))
        except SuiteError as exc:
            problems += exc.problems
    if problems:
        raise SuiteError(problems)
    _check_unique_suite_names(suites, [str(f) for f in files])
    return suites


def _check_unique_suite_names(suites: list[Suite], sources: list[str]) -> None:
    seen: dict[str, str] = {}
    problems = []
    for suite, source in zip(suites, sources, strict=True):
        if suite.name in seen:
            problems.append(
                f"{source}: name: suite name {suite.name!r} is already used by {seen[suite.name]};"
                " suite names must be unique within a run"
            )
        seen.setdefault(suite.name, source)
    if problems:
        raise SuiteError(problems)


def load_text(
    text: str, env: Mapping[str, str], source: str = "<suite>", *, limits: RunLimits | None = None
) -> Suite:
    """Parse one suite from YAML or JSON text (JSON is YAML, so one parser serves)."""
    limits = limits or RunLimits()
    return load_document(parse_yaml(text, limits.limits, source), env, source, limits=limits)


def load_document(
    document: Any,
    env: Mapping[str, str],
    source: str = "<suite>",
    *,
    limits: RunLimits | None = None,
) -> Suite:
    """Validate an already-parsed suite document (a dict), in either form, within
    ``limits`` (the run's so far; the shipped defaults when None)."""
    if not isinstance(document, dict):
        kind = type(document).__name__ if document is not None else "nothing"
        raise SuiteError([f"{source}: a suite must be a mapping with name and tests, got {kind}"])
    limits = limits or RunLimits()
    # Before anything below walks the document in full (substituting copies out aliases).
    limits.check_document(document, source, env)
    problems: _Problems = []
    document = _substitute(document, env, "", problems)
    short_keys: _StepMap = {}
    canonical = _canonicalise(document, short_keys, problems)
    try:
        suite = Suite.model_validate(canonical)
    except ValidationError as exc:
        problems += [_describe(err, short_keys) for err in exc.errors()]
    else:
        if not problems:
            limits.check_suite(suite, source)
            return suite
    raise SuiteError([f"{source}: {p}" for p in dict.fromkeys(problems)])


def _substitute(value: Any, env: Mapping[str, str], path: str, problems: _Problems) -> Any:
    if isinstance(value, str):
        return _expand(value, env, path, problems)
    if isinstance(value, dict):
        return {k: _substitute(v, env, _join(path, str(k)), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    return value


def _expand(text: str, env: Mapping[str, str], path: str, problems: _Problems) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(
            f"{path}: environment variable {name} is not set "
            f"(set it, or write ${{{name}:-default}})"
        )
        return ""

    return _VAR.sub(replace, text)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _canonicalise(
    document: dict[str, Any], short_keys: _StepMap, problems: _Problems
) -> dict[str, Any]:
    """Turn short-form steps into canonical ones; canonical ones pass through."""
    tests = document.get("tests")
    if not isinstance(tests, list):
        return document  # the model reports the missing or mistyped field
    out_tests: list[Any] = []
    for ti, test in enumerate(tests):
        steps = test.get("steps") if isinstance(test, dict) else None
        if not isinstance(steps, list):
            out_tests.append(test)
            continue
        out_steps: list[dict[str, Any]] = []
        for si, step in enumerate(steps):
            where = f"tests[{ti}].steps[{si}]"
            if isinstance(step, dict) and "step_type" in step:
                short_keys[(ti, len(out_steps))] = (si, None)
                out_steps.append({"order_index": si + 1, **step})
                continue
            converted = _short_step(step, where, problems)
            if converted is None:
                continue
            key, canonical = converted
            short_keys[(ti, len(out_steps))] = (si, key)
            out_steps.append({"order_index": si + 1, **canonical})
        out_tests.append({**test, "steps": out_steps})
    return {**document, "tests": out_tests}


def _short_step(step: Any, where: str, problems: _Problems) -> tuple[str, dict[str, Any]] | None:
    known = ", ".join(sorted(_ACTIONS))
    if isinstance(step, str) and step in _ACTIONS:
        step = {step: None}
    if not isinstance(step, dict):
        problems.append(f"{where}: a step must be a mapping such as {{click: '#go'}}, got {step!r}")
        return None
    actions = [k for k in step if k in _ACTIONS]
    unknown = [k for k in step if k not in _ACTIONS and k not in _MODIFIERS]
    if unknown:
        problems.append(
            f"{where}: unknown step key {unknown[0]!r}; a step has one action ({known}) "
            f"and optionally {', '.join(_MODIFIERS)}, or a canonical step_type"
        )
        return None
    if len(actions) != 1:
        got = f"{len(actions)} ({', '.join(actions)})" if actions else "none"
        problems.append(f"{where}: a step needs exactly one action ({known}); got {got}")
        return None
    key = actions[0]
    step_type, assertion = _ACTIONS[key]
    out: dict[str, Any] = {"step_type": step_type}
    if assertion:
        out["assertion"] = assertion
    body = step[key]
    fields = _ACTION_FIELDS.get(key, {})
    if isinstance(body, dict):
        before = len(problems)
        for field, value in body.items():
            if field in fields:
                out[fields[field]] = _scalar(value)
            elif field in _MODIFIERS:
                out[_MODIFIERS[field]] = value
            else:
                allowed = ", ".join([*fields, *_MODIFIERS])
                problems.append(f"{where}.{key}: unknown field {field!r} (allowed: {allowed})")
        if len(problems) > before:
            return None  # the model's complaints would only echo the unknown field
        if "equals" in body and assertion in ("text", "url", "title", "attribute"):
            out["assertion"] = f"{assertion}_equals"
    elif body is not None:
        if key == "wait":
            target = "input_data" if isinstance(body, int | float) else "selector"
        else:
            target = _SCALAR_FIELD.get(key, "")
        if not target:
            problems.append(f"{where}.{key}: needs a mapping with {', '.join(fields)}")
            return None
        out[target] = _scalar(body)
    for modifier, field in _MODIFIERS.items():
        if modifier in step:
            out[field] = step[modifier]
    return key, out


def _scalar(value: Any) -> Any:
    """Numbers and booleans given where text is expected become text (``count: 3``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


def _describe(err: Any, short_keys: _StepMap) -> str:
    loc: tuple[Any, ...] = tuple(err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        message = "is required"
    elif err["type"] == "extra_forbidden":
        message = "is not a known field"
    elif err["type"] == "too_short":
        message = "must not be empty"
    elif err["type"] == "literal_error":
        message = message.replace("Input should be", "must be")
    if loc[-1:] == ("step_type",) and err["type"] == "literal_error":
        message = f"must be one of {', '.join(STEP_TYPES)}"
    if loc[-1:] == ("assertion",) and err["type"] == "literal_error":
        message = f"must be one of {', '.join(ASSERT_KINDS)}"
    path = ""
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "steps" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            test_index = loc[i - 1] if i >= 1 and isinstance(loc[i - 1], int) else -1
            file_index, short = short_keys.get((test_index, loc[i + 1]), (loc[i + 1], None))
            path += f".steps[{file_index}]"
            if short is not None:
                # A short step is named by what the user wrote: its action key.
                path += f".{short}"
                message = re.sub(r" for an? \w+ step", "", message)
                field = loc[i + 2] if i + 2 < len(loc) else None
                if isinstance(field, str) and message == "is required":
                    message = f"{field} is required"
                elif isinstance(field, str):
                    message = f"{field}: {message}"
                break
            i += 1
        else:
            path = _join(path, str(part))
        i += 1
    return f"{path}: {message}" if path else message


def dump_canonical(suite: Suite) -> str:
    """The suite as canonical JSON (what the API receives and stores)."""
    return json.dumps(suite.model_dump(mode="json", exclude_none=True))
