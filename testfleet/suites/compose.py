"""Suite composition: flows, includes, data rows, before_each / after_each, names.

What a suite file may say beyond its tests' own steps, expanded when it loads
into the canonical tests the fleet runs::

    include: [flows/auth.yaml]          # files holding more flows:, beside this one
    flows:
      sign_in:
        params: {user: alice, password: null}        # null: the caller must give it
        steps:
          - fill: {selector: "label=User", value: "{{ user }}"}
          - fill: {selector: "label=Password", value: "{{ password }}", secret: true}
    before_each: [{navigate: /login}]
    after_each: [{screenshot: end}]     # runs even when the test failed
    tests:
      - name: sign in as {{ user }}
        data: [{user: alice}, {user: bob}]          # or users.csv / users.json
        steps:
          - use: {flow: sign_in, with: {user: "{{ user }}", password: "${PASSWORD}"}}
          - use: sign_out

Three kinds of names, written three ways so they cannot be confused:
``${VAR}`` the submitter's environment (substituted first, by the loader);
``{{ name }}`` a flow's parameters, or the test's data row (substituted here);
``@{name}`` a value a ``capture`` step took from the page (substituted by the
worker as the test runs). An unknown ``{{ name }}``, a flow that is not there or
that uses itself, and an ``@{name}`` no earlier step captures are problems here,
before anything is queued. A ``use:`` becomes a ``group`` (reports show its
steps under it); so do ``before_each`` and ``after_each`` (the latter with
``always``). Every step is validated where it was written, so a problem names
that place (``flows.sign_in.steps[1].fill: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from testfleet.suites.datarows import Row, read_rows, row_label
from testfleet.suites.limits import setting
from testfleet.suites.steps import Problem, spec_of
from testfleet.suites.steps.conditions import to_condition
from testfleet.suites.steps.model import Step, canonical_problem, walk
from testfleet.suites.steps.shortform import Uploads, to_canonical

PARAM = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
CAPTURED = re.compile(r"@@\{|@\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_FLOW_DEPTH = 10
"""Flows used inside flows, at most this deep."""
MAX_STEPS_PER_TEST = 5_000
MAX_STEPS_PER_SUITE = 50_000
"""Guards while expanding, so data rows times flows cannot build a suite without bound
(the run's limits on tests and steps, smaller, apply to the result). A test's steps are
counted as they are made: flows that use flows several times each (a few lines that
would expand to millions of steps) stop at the first step past the guard."""
_USE_KEYS = {"use", "name", "when"}

Substitute = Callable[[Any, str], Any]
"""Replaces ``${VAR}`` in a parsed document (value, path) (the loader's)."""


@dataclass
class Flow:
    """A flow's definition and where it was written."""

    name: str
    where: str
    params: dict[str, str | None]
    steps: list[Any]


@dataclass
class Composer:
    """Expands one suite document (already ``${VAR}``-substituted) into canonical tests."""

    document: dict[str, Any]
    base_dir: Path | None
    substitute: Substitute
    problems: list[str] = field(default_factory=list)
    uploads: Uploads = field(init=False)
    flows: dict[str, Flow] = field(default_factory=dict)
    origins: list[str] = field(default_factory=list)
    """For each test composed, where it was written (``tests[2]``: data rows make several)."""
    max_steps: int = MAX_STEPS_PER_TEST
    """The run's ``max_steps_per_test`` (the loader's): a test past it is refused as soon
    as it is, not once it is built (never more than ``MAX_STEPS_PER_TEST``)."""
    expanded_steps: int = 0
    _max_steps: int = field(init=False)
    _test_steps: int = 0
    """Steps made so far for the test (data row) being composed."""
    _places: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.uploads = Uploads(self.base_dir)
        self._max_steps = min(self.max_steps, MAX_STEPS_PER_TEST)

    def compose(self) -> dict[str, Any]:
        """The canonical suite document: tests expanded, steps as validated ``Step``s."""
        doc = self.document
        self._collect_flows(doc, "", self.base_dir, set())
        before = self._hook("before_each")
        after = self._hook("after_each")
        tests = doc.get("tests")
        out = {
            k: v
            for k, v in doc.items()
            if k not in ("flows", "include", "before_each", "after_each", "tests")
        }
        if not isinstance(tests, list):
            return {**out, "tests": tests} if "tests" in doc else out
        expanded: list[Any] = []
        for ti, test in enumerate(tests):
            expanded += self._test(test, f"tests[{ti}]", before, after)
        return {**out, "tests": expanded}

    # -- flows -----------------------------------------------------------------------

    def _collect_flows(
        self, doc: dict[str, Any], prefix: str, base: Path | None, seen: set[Path]
    ) -> None:
        flows = doc.get("flows")
        if flows is not None and not isinstance(flows, dict):
            self.problems.append(f"{prefix}flows: is a mapping of flow name to {{params, steps}}")
            flows = {}
        for name, spec in (flows or {}).items():
            where = f"{prefix}flows.{name}"
            flow = self._flow(str(name), spec, where)
            if flow is None:
                continue
            if flow.name in self.flows:
                self.problems.append(
                    f"{where}: a flow named {name!r} is already defined at "
                    f"{self.flows[flow.name].where}"
                )
                continue
            self.flows[flow.name] = flow
        includes = doc.get("include", [])
        for i, name in enumerate([includes] if isinstance(includes, str) else includes):
            self._include(name, f"{prefix}include[{i}]", base, seen)

    def _flow(self, name: str, spec: Any, where: str) -> Flow | None:
        if not name.isidentifier():
            self.problems.append(f"{where}: a flow's name is a word (letters, digits, _)")
            return None
        if not isinstance(spec, dict) or not isinstance(spec.get("steps"), list):
            self.problems.append(f"{where}: a flow is a mapping with steps (and params)")
            return None
        unknown = set(spec) - {"params", "steps", "description"}
        if unknown:
            self.problems.append(f"{where}: unknown key {sorted(unknown)[0]!r} (params, steps)")
        raw = spec.get("params") or {}
        if isinstance(raw, list):
            raw = dict.fromkeys(raw)
        if not isinstance(raw, dict) or not all(str(p).isidentifier() for p in raw):
            self.problems.append(
                f"{where}.params: a list of names, or a mapping of name to default (null: "
                "the caller must give it)"
            )
            return None
        params = {str(k): None if v is None else str(v) for k, v in raw.items()}
        return Flow(name, where, params, spec["steps"])

    def _include(self, name: Any, where: str, base: Path | None, seen: set[Path]) -> None:
        if not isinstance(name, str):
            self.problems.append(f"{where}: names a file of flows (relative to this file)")
            return
        if base is None:
            self.problems.append(
                f"{where}: included files are read relative to the suite file, and this suite "
                "has none: run it from a file (testfleet run)"
            )
            return
        path = (base / name).resolve()
        if path in seen:
            return  # included twice along one chain: its flows are there already
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{where}: cannot read {name} ({getattr(exc, 'strerror', exc)})")
            return
        except yaml.YAMLError as exc:
            self.problems.append(f"{where}: {name} is not valid YAML: {exc}")
            return
        if not isinstance(doc, dict) or set(doc) - {"flows", "include"}:
            self.problems.append(f"{where}: {name} may hold only flows: (and include:)")
            return
        doc = self.substitute(doc, name)
        self._collect_flows(doc, f"{name}: ", path.parent, seen | {path})

    # -- tests -----------------------------------------------------------------------

    def _hook(self, key: str) -> list[Any] | None:
        steps = self.document.get(key)
        if steps is None:
            return None
        if not isinstance(steps, list) or not steps:
            self.problems.append(f"{key}: is a list of steps")
            return None
        return steps

    def _test(
        self, test: Any, where: str, before: list[Any] | None, after: list[Any] | None
    ) -> list[Any]:
        if not isinstance(test, dict) or not isinstance(test.get("steps"), list):
            return [test]  # the model says what is missing
        rows: list[Row | None] = [None]
        if "data" in test:
            rows = list(read_rows(test["data"], f"{where}.data", self.base_dir, self.problems))
            if not rows:
                return []
        out: list[Any] = []
        for index, row in enumerate(rows):
            scope = dict(row) if row is not None else {}
            name = test.get("name")
            if row is not None and isinstance(name, str):
                label = row_label(row, index)
                name = (
                    self._params(name, scope, f"{where}.name", "")
                    if PARAM.search(name)
                    else f"{name} [{label}]"
                )
            steps: list[Step] = []
            reported = len(self.problems)
            self._test_steps = 0
            try:
                if before is not None:
                    steps.append(self._group("before each", before, "before_each", scope, False))
                steps += self._steps(test["steps"], f"{where}.steps", scope, [], "")
                if after is not None:
                    steps.append(self._group("after each", after, "after_each", scope, True))
            except _TooManySteps:
                self.problems.append(
                    f"{where}.steps: {self._test_steps} steps is more than the "
                    f"{self._max_steps} a test may have (counted as its flows are expanded, "
                    "each use of a flow with all of the flow's steps; expanding stopped "
                    f"there); split the test or raise {setting('max_steps_per_test')}"
                )
                return out  # the rest is not built: the suite is refused already
            self._check_captures(steps)
            count = sum(1 for _ in walk(steps))
            self.expanded_steps += count
            if self.expanded_steps > MAX_STEPS_PER_SUITE:
                self.problems.append(
                    f"{where}: the suite expands to more than {MAX_STEPS_PER_SUITE} steps in all "
                    "(data rows times steps); split it"
                )
                return out
            if len(self.problems) > reported:
                continue  # said where; a test with steps missing would only add noise
            test_out = {k: v for k, v in test.items() if k != "data"}
            out.append({**test_out, "name": name, "steps": _ordered(steps)})
            self.origins.append(where)
        return out

    def _group(self, name: str, raw: list[Any], where: str, scope: Row, always: bool) -> Step:
        children = self._steps(raw, where, scope, [], "")
        return Step(
            order_index=1, step_type="group", name=name, steps=children or None, always=always
        )

    def _steps(self, raw: Any, where: str, scope: Row, stack: list[str], owner: str) -> list[Step]:
        if not isinstance(raw, list):
            self.problems.append(f"{where}: is a list of steps")
            return []
        steps = []
        for i, item in enumerate(raw):
            step = self._step(item, f"{where}[{i}]", scope, stack, owner)
            if step is not None:
                steps.append(step)
        return _ordered(steps)

    def _step(self, raw: Any, where: str, scope: Row, stack: list[str], owner: str) -> Step | None:
        # Counted before it is built, valid or not: an invalid step used by nested flows
        # would otherwise repeat its problem without bound.
        self._test_steps += 1
        if self._test_steps > self._max_steps:
            raise _TooManySteps
        if isinstance(raw, dict) and "use" in raw:
            return self._use(raw, where, scope, stack)
        raw = self._params(raw, scope, where, owner)
        if isinstance(raw, dict) and "step_type" in raw:
            return self._validated({"order_index": 1, **raw}, where, None)
        converted = to_canonical(
            raw,
            where,
            self.problems,
            self.uploads,
            lambda value, at: self._steps(value, at, scope, stack, owner) or None,
        )
        if converted is None:
            return None
        key, canonical = converted
        return self._validated({"order_index": 1, **canonical}, f"{where}.{key}", key)

    def _use(self, raw: dict[str, Any], where: str, scope: Row, stack: list[str]) -> Step | None:
        unknown = set(raw) - _USE_KEYS
        if unknown:
            self.problems.append(
                f"{where}: unknown key {sorted(unknown)[0]!r} beside use (name, when)"
            )
            return None
        call = self._params(raw["use"], scope, f"{where}.use", "")
        name: Any = call if isinstance(call, str) else None
        given: Any = {} if isinstance(call, str) else None
        if isinstance(call, dict) and set(call) <= {"flow", "with"}:
            name, given = call.get("flow"), call.get("with") or {}
        if not isinstance(name, str) or not isinstance(given, dict):
            self.problems.append(f"{where}.use: names a flow, or is {{flow: NAME, with: {{...}}}}")
            return None
        flow = self.flows.get(name)
        if flow is None:
            known = ", ".join(sorted(self.flows)) or "none are defined"
            self.problems.append(f"{where}.use: there is no flow {name!r} (flows: {known})")
            return None
        if name in stack:
            chain = " -> ".join([*stack[stack.index(name) :], name])
            self.problems.append(f"{where}.use: flow {name!r} uses itself ({chain})")
            return None
        if len(stack) >= MAX_FLOW_DEPTH:
            self.problems.append(f"{where}.use: flows nest more than {MAX_FLOW_DEPTH} deep")
            return None
        params = self._arguments(flow, given, f"{where}.use")
        if params is None:
            return None
        inner = self._steps(flow.steps, f"{flow.where}.steps", params, [*stack, name], name)
        if not inner:
            return None
        shown = ", ".join(f"{k}={v}" for k, v in given.items())
        group = {
            "order_index": 1,
            "step_type": "group",
            "steps": inner,
            "name": raw.get("name") or f"use {name}" + (f" ({shown})" if shown else ""),
        }
        if "when" in raw:
            group["when"] = to_condition(raw["when"], f"{where}.when", self.problems)
        return self._validated(group, f"{where}.use", "use")

    def _arguments(self, flow: Flow, given: dict[str, Any], where: str) -> Row | None:
        extra = [k for k in given if k not in flow.params]
        if extra:
            known = ", ".join(flow.params) or "none"
            self.problems.append(
                f"{where}: flow {flow.name!r} has no parameter {extra[0]!r} (its params: {known})"
            )
            return None
        values = {k: given.get(k, default) for k, default in flow.params.items()}
        missing = [k for k, v in values.items() if v is None]
        if missing:
            self.problems.append(
                f"{where}: flow {flow.name!r} needs {', '.join(missing)} "
                f"(use: {{flow: {flow.name}, with: {{{missing[0]}: ...}}}})"
            )
            return None
        return {k: _scalar_text(v) for k, v in values.items()}

    # -- names -----------------------------------------------------------------------

    def _params(self, value: Any, scope: Row, where: str, owner: str) -> Any:
        """``value`` with every ``{{ name }}`` replaced from ``scope``."""
        if isinstance(value, str):

            def replace(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in scope:
                    return scope[name]
                known = ", ".join(scope) or "none"
                whose = f"flow {owner!r}'s parameters" if owner else "this test's data columns"
                self.problems.append(f"{where}: {{{{ {name} }}}} is not one of {whose} ({known})")
                return match.group(0)

            return PARAM.sub(replace, value)
        if isinstance(value, dict):
            return {k: self._params(v, scope, f"{where}.{k}", owner) for k, v in value.items()}
        if isinstance(value, list):
            return [self._params(v, scope, f"{where}[{i}]", owner) for i, v in enumerate(value)]
        return value

    def _check_captures(self, steps: list[Step]) -> None:
        """Every ``@{name}`` refers to a value an earlier step captures."""
        captured: set[str] = set()
        for step in walk(steps):
            for text in step_texts(step):
                for match in CAPTURED.finditer(text):
                    name = match.group(1)
                    if name is not None and name not in captured:
                        self.problems.append(
                            f"{self._places.get(id(step), 'a step')}: @{{{name}}} is used before "
                            f"any step captures it (add capture: {{as: {name}, ...}} before it)"
                        )
            if step.step_type == "capture" and step.key:
                captured.add(step.key)

    # -- validation ----------------------------------------------------------------------

    def _validated(self, data: dict[str, Any], where: str, key: str | None) -> Step | None:
        try:
            step = Step.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                self.problems += step_error_lines(err, where, key)
            return None
        self._place(step, where, where.removesuffix(f".{key}") if key else where, key is not None)
        return step

    def place(self, step: Step) -> str | None:
        """Where a composed ``step`` was written (``flows.add.steps[0].fill``), if known."""
        return self._places.get(id(step))

    def _place(self, step: Step, where: str, base: str, short: bool) -> None:
        """Remember where ``step`` and the steps inside it were written (those inside a
        short-form block were placed as they were converted; canonical ones are here)."""
        self._places.setdefault(id(step), where)
        spec = spec_of(step.step_type, step.assertion)
        for child, canonical in spec.children.items() if spec is not None else ():
            for i, inner in enumerate(getattr(step, canonical) or []):
                at = f"{base}.{child if short else canonical}[{i}]"
                self._place(inner, at, at, short)


class _TooManySteps(Exception):
    """The test being composed went past its steps limit: nothing more is built."""


def step_texts(step: Step) -> list[str]:
    """The texts of a step a captured ``@{name}`` may appear in (and is substituted in)."""
    texts = [
        step.selector,
        step.input_data,
        step.expected_result,
        step.target,
        step.key,
        step.attribute,
    ]
    for condition in (step.when, step.condition):
        if condition is not None:
            texts += [condition.selector, condition.expected, condition.input]
    return [t for t in texts if t]


def step_error_lines(err: Any, where: str, key: str | None) -> list[str]:
    """A pydantic error about one step as problem lines, naming the step where it was
    written (``tests[0].steps[2].click: selector is required``)."""
    loc = [p for p in err["loc"]]
    path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[:-1])
    if err["type"] == "step_problems":
        path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        problems: list[Problem] = err["ctx"]["problems"]
        data = err.get("input") if isinstance(err.get("input"), dict) else {}
        step_type = str(data.get("step_type", "step"))
        if key is None or loc:
            return [f"{path}: {canonical_problem(p, step_type)}" for p in problems]
        spec = spec_of(step_type, data.get("assertion"))
        lines = []
        for problem in problems:
            if problem.field is None:
                lines.append(f"{path}: {problem.text}")
                continue
            names = spec.short_names(problem.field) if spec is not None else []
            name = problem.short or (
                _or(names) if names else _SHORT.get(problem.field, problem.field)
            )
            lines.append(f"{path}: {problem.about(name)}")
        return lines
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        message = "is required"
    elif err["type"] == "extra_forbidden":
        message = "is not a known field"
    field_name = loc[-1] if loc else None
    if field_name is None:
        return [f"{where}: {message}"]
    if key is None:  # canonical: the field is part of the path, as written
        return [f"{path}.{field_name}: {message}"]
    if message == "is required":
        return [f"{path}: {field_name} is required"]
    return [f"{path}: {field_name}: {message}"]


_SHORT = {"negate": "not", "timeout_seconds": "timeout", "is_optional": "optional"}


def _or(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _ordered(steps: list[Step]) -> list[Step]:
    """``steps`` numbered 1, 2, 3... in their order (each is built for one place only)."""
    for i, step in enumerate(steps, 1):
        step.order_index = i
    return steps


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
