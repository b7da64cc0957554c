"""Loading suites from files or text: YAML or JSON, short or canonical form.

Every problem in every file is collected and reported at once as a
``SuiteError``, each line naming the file, the test, the step and the field::

    login.yaml: tests[0].steps[2].click: selector is required

``${VAR}`` (and ``${VAR:-default}``) in any string is replaced from the
variables the caller passes; ``$${`` stands for a literal ``${``. From the
submitter's process environment (an ``Environment``), a suite reads only the
variables its ``env:`` list declares (``testfleet.suites.environment``); the API's
request variables (a plain mapping) are all the submitter chose to send.

Targets a browser may not reach (``testfleet.targets.policy``: local schemes, the fleet's
own services, metadata addresses) are refused here too, in ``base_url`` and in
every ``navigate`` step, under the ``targets`` policy the caller passes (the
fleet's, built from its settings; without one, the policy that knows no fleet).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError

from testfleet.errors import SuiteError, UsageError
from testfleet.settings import LimitSettings
from testfleet.suites import recordings
from testfleet.suites.compose import Composer
from testfleet.suites.environment import Environment, declared_names
from testfleet.suites.limits import RunLimits
from testfleet.suites.model import Suite
from testfleet.suites.steps.model import walk
from testfleet.suites.yamltext import parse_yaml
from testfleet.targets.policy import TargetPolicy, suite_errors

SUITE_SUFFIXES = (".yaml", ".yml", ".json", ".side")
_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_Problems = list[str]
Variables = Mapping[str, str] | Environment
"""What ``${VAR}`` is read from: the process environment, through each suite's ``env:``
list, or the API request's variables (every name there)."""


@dataclass(frozen=True)
class _Scope:
    """The variables one suite may read."""

    values: Mapping[str, str]
    environment: Environment | None
    """Set when ``values`` come from the process environment (reads are recorded, and a
    name the suite does not declare is refused)."""
    declared: frozenset[str]

    @classmethod
    def of(cls, document: dict[str, Any], env: Variables) -> _Scope:
        if not isinstance(env, Environment):
            return cls(env, None, frozenset())
        declared = declared_names(document)
        return cls(env.visible(declared), env, frozenset(declared))


def load_paths(
    paths: Iterable[str | Path],
    env: Variables,
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
                problems.append(
                    f"{path}: no suite files (*.yaml, *.yml, *.json, *.side) in this directory"
                )
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
    names = SuiteNames()
    problems = [p for s, f in zip(suites, files, strict=True) if (p := names.taken(s, str(f)))]
    if problems:
        raise SuiteError(problems)
    return suites


class SuiteNames:
    """The names of a run's suites so far: each names one suite of the run (its results,
    reports and baselines are found by it)."""

    def __init__(self) -> None:
        self._source: dict[str, str] = {}
        """Suite name -> where the first suite of that name came from."""

    def taken(self, suite: Suite, source: str) -> str | None:
        """The problem when an earlier suite of the run has ``suite``'s name (else None,
        and the name is the run's from now on)."""
        first = self._source.get(suite.name)
        if first is None:
            self._source[suite.name] = source
            return None
        return (
            f"{source}: name: suite name {suite.name!r} is already used by {first}; "
            "suite names must be unique within a run"
        )


def load_text(
    text: str,
    env: Variables,
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
    env: Variables,
    source: str = "<suite>",
    base_dir: Path | None = None,
    *,
    limits: RunLimits | None = None,
    targets: TargetPolicy | None = None,
) -> Suite:
    """Validate an already-parsed suite document (a dict), in either form, or a recording
    (``testfleet.suites.recordings``: Chrome Recorder JSON, Selenium IDE ``.side``), within
    ``limits`` (the run's so far; the shipped defaults when None); flows, includes, data
    rows and before/after_each are expanded (``testfleet.suites.compose``) and the limits apply
    to the expanded suite too."""
    recording = recordings.recognise(document, source, limits)
    if recording is not None:
        return recording.load(
            lambda suite: load_document(
                suite, env, source, base_dir, limits=limits, targets=targets
            )
        )
    if not isinstance(document, dict):
        kind = type(document).__name__ if document is not None else "nothing"
        raise SuiteError([f"{source}: a suite must be a mapping with name and tests, got {kind}"])
    limits = limits or RunLimits()
    scope = _Scope.of(document, env)
    # Before anything below walks the document in full (substituting copies out aliases).
    limits.check_document(document, source, scope.values)
    problems: _Problems = []
    document = _substitute(document, scope, "", problems)

    def substitute(value: Any, path: str) -> Any:
        return _substitute(value, scope, f"{path}: ", problems)

    composer = Composer(document, base_dir, substitute, max_steps=limits.limits.max_steps_per_test)
    canonical = composer.compose()
    problems += composer.problems
    try:
        suite = Suite.model_validate(canonical)
    except ValidationError as exc:
        for err in exc.errors():
            line = _describe(err, composer.origins)
            # Tests whose steps were refused are left out: "must not be empty" would repeat.
            if not (problems and line == "tests: must not be empty"):
                problems.append(line)
    else:
        problems += _refused_targets(suite, targets or TargetPolicy(), composer)
        if not problems:
            limits.check_suite(suite, source)
            return suite
    raise SuiteError([f"{source}: {p}" for p in dict.fromkeys(problems)])


def _substitute(value: Any, scope: _Scope, path: str, problems: _Problems) -> Any:
    if isinstance(value, str):
        return _expand(value, scope, path, problems)
    if isinstance(value, dict):
        return {k: _substitute(v, scope, _join(path, str(k)), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, scope, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    return value


def _expand(text: str, scope: _Scope, path: str, problems: _Problems) -> str:
    environment = scope.environment

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if environment is not None and name not in scope.declared:
            # A default does not make it safe: ${AWS_SECRET_ACCESS_KEY:-x} still reads it.
            problems.append(
                f"{path}: ${{{name}}} reads the environment variable {name}, which this suite "
                f"does not declare: declare it in the suite's env: list (env: [{name}])"
            )
            return ""
        if name in scope.values:
            if environment is not None:
                environment.read[name] = None
            return scope.values[name]
        if default is not None:
            if environment is not None:
                environment.defaulted[name] = None
            return default
        problems.append(
            f"{path}: environment variable {name} is not set "
            f"(set it, or write ${{{name}:-default}})"
        )
        return ""

    return _VAR.sub(replace, text)


def _join(path: str, key: str) -> str:
    # "flows.yaml: " is an included file's name: its fields follow it as they are.
    return f"{path}.{key}" if path and not path.endswith(": ") else f"{path}{key}"


def _describe(err: Any, origins: list[str]) -> str:
    """One pydantic error about the suite or a test (steps are validated where they were
    written, by the composer) as a problem line: ``tests[1].name: must not be empty``."""
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
    for i, part in enumerate(loc):
        if isinstance(part, int) and i == 1 and loc[0] == "tests" and part < len(origins):
            path = origins[part]  # where a test composed from data rows was written
        elif isinstance(part, int):
            path += f"[{part}]"
        else:
            path = _join(path, str(part))
    return f"{path}: {message}" if path else message


def _refused_targets(suite: Suite, policy: TargetPolicy, composer: Composer) -> list[str]:
    """The suite's refused targets (``testfleet.targets.policy``): its ``base_url`` and every
    ``navigate``, those inside flows, before_each and other blocks too, each named where
    it was written. A target built from a captured ``@{value}`` is only known in the
    worker, which checks every navigation again."""
    flat = [list(walk(test.steps)) for test in suite.tests]
    view = SimpleNamespace(
        base_url=suite.base_url, tests=[SimpleNamespace(steps=steps) for steps in flat]
    )
    lines: list[str] = []
    for err in suite_errors(view, policy):
        loc = tuple(err["loc"])
        if loc[:1] == ("tests",) and len(loc) == 4:
            place = composer.place(flat[loc[1]][loc[3]])
            lines.append(f"{place}: {err['msg']}" if place else _describe(err, composer.origins))
        else:
            lines.append(_describe(err, composer.origins))
    return lines


def dump_canonical(suite: Suite) -> str:
    """The suite as canonical JSON (what the API receives and stores)."""
    return json.dumps(suite.model_dump(mode="json", exclude_none=True))


def submitted(suite: Suite) -> dict[str, Any]:
    """``suite`` as ``testfleet run`` sends it to the API: canonical, every ``${`` written
    ``$${``. The submitter's environment is already in it and the API substitutes its
    request's variables again, so a ``${`` left in it (written ``$${``, or recorded text)
    must stay text."""
    escaped: dict[str, Any] = recordings.escape_env(
        suite.model_dump(mode="json", exclude_none=True)
    )
    return escaped


def with_base_url(
    suites: list[Suite], base_url: str, targets: TargetPolicy | None = None
) -> list[Suite]:
    """``suites`` pointed at ``base_url`` instead of their own (``--base-url``): paths in
    their steps (a recording's pages are paths on its origin) resolve against it, which
    ``targets`` (the shipped policy when None) must allow.

    Raises ``UsageError`` for a URL that is not http(s), ``SuiteError`` for one the
    policy refuses.
    """
    try:
        moved = [Suite.model_validate({**s.model_dump(), "base_url": base_url}) for s in suites]
    except ValidationError:
        raise UsageError(
            f"--base-url must start with http:// or https://, not {base_url!r}"
        ) from None
    # Paths resolve against it; absolute targets were checked when the suites loaded.
    refusal = (targets or TargetPolicy()).check_url(base_url)
    if refusal is not None:
        raise SuiteError([f"--base-url: {refusal.message}"])
    return moved
