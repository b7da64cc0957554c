"""Loading suites from files or text: YAML or JSON, short or canonical form.

Every problem in every file is collected and reported at once as a
``SuiteError``, each line naming the file, the test, the step and the field::

    login.yaml: tests[0].steps[2].click: selector is required

``${VAR}`` (and ``${VAR:-default}``) in any string is replaced from the
submitter's environment; ``$${`` stands for a literal ``${``.

Targets a browser may not reach (``testfleet.targets``: local schemes, the fleet's
own services, metadata addresses) are refused here too, in ``base_url`` and in
every ``navigate`` step, under the ``targets`` policy the caller passes (the
fleet's, built from its settings; without one, the policy that knows no fleet).
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
from testfleet.steps import Problem, spec_of
from testfleet.steps.shortform import Uploads, to_canonical
from testfleet.suite import Suite, canonical_problem
from testfleet.targets import TargetPolicy, suite_errors
from testfleet.yamltext import parse_yaml

SUITE_SUFFIXES = (".yaml", ".yml", ".json")
_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SHORT_MODIFIER = {"negate": "not", "timeout_seconds": "timeout", "is_optional": "optional"}

_Problems = list[str]
# (test index, step index in the model) -> (step index in the file, short action or None)
_StepMap = dict[tuple[int, int], tuple[int, str | None]]


def load_paths(
    paths: Iterable[str | Path],
    env: Mapping[str, str],
    limits: LimitSettings | None = None,
    targets: TargetPolicy | None = None,
) -> list[Suite]:
    """Load every suite file named, or found (recursively) in a named directory, as one
    run within ``limits`` (the shipped defaults when None), its targets checked against
    ``targets`` (the shipped policy when None).

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
            suites.append(
                load_text(
                    text,
                    env,
                    source=str(file),
                    base_dir=file.parent,
                    limits=run_limits,
                    targets=targets,
                )
            )
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
    text: str,
    env: Mapping[str, str],
    source: str = "<suite>",
    base_dir: Path | None = None,
    *,
    limits: RunLimits | None = None,
    targets: TargetPolicy | None = None,
) -> Suite:
    """Parse one suite from YAML or JSON text (JSON is YAML, so one parser serves).

    ``base_dir``: where the suite's relative paths (``upload`` files) are read from;
    None for a suite that is not a file (then such paths are an error).
    """
    limits = limits or RunLimits()
    document = parse_yaml(text, limits.limits, source)
    return load_document(document, env, source, base_dir, limits=limits, targets=targets)


def load_document(
    document: Any,
    env: Mapping[str, str],
    source: str = "<suite>",
    base_dir: Path | None = None,
    *,
    limits: RunLimits | None = None,
    targets: TargetPolicy | None = None,
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
    refused: set[int] = set()
    canonical = _canonicalise(document, short_keys, problems, Uploads(base_dir), refused)
    # A test whose every step was refused has no steps left; saying so would only repeat it.
    emptied = {f"tests[{ti}].steps: must not be empty" for ti in refused}
    try:
        suite = Suite.model_validate(canonical)
    except ValidationError as exc:
        lines = [line for err in exc.errors() for line in _describe(err, short_keys)]
        problems += [line for line in lines if line not in emptied]
    else:
        refusals = suite_errors(suite, targets or TargetPolicy())
        problems += [line for err in refusals for line in _describe(err, short_keys)]
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
    document: dict[str, Any],
    short_keys: _StepMap,
    problems: _Problems,
    uploads: Uploads,
    refused: set[int],
) -> dict[str, Any]:
    """Turn short-form steps into canonical ones; canonical ones pass through. Tests with a
    step that could not be understood are added to ``refused``."""
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
            converted = to_canonical(step, where, problems, uploads)
            if converted is None:
                refused.add(ti)
                continue
            key, canonical = converted
            short_keys[(ti, len(out_steps))] = (si, key)
            out_steps.append({"order_index": si + 1, **canonical})
        out_tests.append({**test, "steps": out_steps})
    return {**document, "tests": out_tests}


def _describe(err: Any, short_keys: _StepMap) -> list[str]:
    """One pydantic error as problem lines: ``tests[0].steps[2].click: selector is required``."""
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
            field = loc[i + 2] if i + 2 < len(loc) else None
            if err["type"] == "step_problems":
                return _step_problems(path, err, short)
            if short is not None:
                # A short step is named by what the user wrote: its action key.
                path += f".{short}"
                if isinstance(field, str):
                    message = (
                        f"{field} {message}"
                        if message == "is required"
                        else (f"{field}: {message}")
                    )
                break
            i += 1
        else:
            path = _join(path, str(part))
        i += 1
    return [f"{path}: {message}" if path else message]


def _step_problems(path: str, err: Any, short: str | None) -> list[str]:
    """The registry's problems with one step, each on its own line, named as written."""
    problems: list[Problem] = err["ctx"]["problems"]
    data = err.get("input") if isinstance(err.get("input"), dict) else {}
    step_type = str(data.get("step_type", "step"))
    if short is None:
        return [f"{path}: {canonical_problem(p, step_type)}" for p in problems]
    spec = spec_of(step_type, data.get("assertion"))
    lines = []
    for problem in problems:
        if problem.field is None:
            lines.append(f"{path}.{short}: {problem.text}")
            continue
        names = spec.short_names(problem.field) if spec is not None else []
        name = problem.short or (
            _or(names) if names else _SHORT_MODIFIER.get(problem.field, problem.field)
        )
        lines.append(f"{path}.{short}: {problem.about(name)}")
    return lines


def _or(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def dump_canonical(suite: Suite) -> str:
    """The suite as canonical JSON (what the API receives and stores)."""
    return json.dumps(suite.model_dump(mode="json", exclude_none=True))
