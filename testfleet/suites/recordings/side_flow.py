"""Selenium IDE's variables, ``run`` and control flow, in testfleet's flow control.

Variables. The IDE keeps values from ``store*`` and ``execute script`` and
puts them in later commands' text (``${name}``) and, as real JavaScript values,
in scripts and conditions. Here:

- a variable set once, from a literal (``store``, ``store json``), is a constant:
  written into the steps when the suite loads;
- a value read from the page is captured (``capture``) as the test runs and
  used as ``@{name}``: text as text (``store text`` / ``value`` / ``attribute``
  / ``title``, and ``store`` of a text made of other variables), values a script
  returned as JSON (``name``), with their text beside them (``name__text``), so
  that a script sees ``${n} + 1`` as a number and ``${s} === "a"`` as a string;
  text captured from the page reaches a script as ``String.raw`...```.

Blocks. ``if`` / ``else if`` / ``else`` / ``end`` become ``if`` steps (an
``else if`` is an ``if`` in the ``else``); ``while`` a ``repeat`` with ``while``;
``times`` a ``repeat`` of that many rounds; ``do`` ... ``repeat if`` the steps
once, then a ``repeat`` while the condition holds; ``for each`` over a literal
list the steps once per item, over a list computed in the page a ``repeat``
with a counter. Conditions are the IDE's JavaScript expressions. Loops run at
most ``MAX_ROUNDS`` rounds (the IDE's default limit is 1,000), failing past it
as the IDE does past its limit.

``run`` becomes a ``use`` of a flow holding the other test's steps (``Runs``):
each test that is run is converted once (once per state it depends on: the
values of the variables it reads, the windows open), not again at every call,
so tests that run each other many times over cost what they are long, not what
they would expand to. A test that runs itself, directly or not, is an error
naming the chain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from testfleet.suites.compose import MAX_FLOW_DEPTH
from testfleet.suites.recordings.base import Problems, Short
from testfleet.suites.recordings.budget import Budget
from testfleet.suites.recordings.locators import Unmappable, side_target
from testfleet.suites.steps import BY_KEY

if TYPE_CHECKING:
    from testfleet.suites.recordings.side import _Test

FLOW_CONTROL = all(key in BY_KEY for key in ("group", "if", "repeat", "capture"))
"""Whether the step language has blocks and captured values (without them only
constants, ``assert`` and ``run`` convert)."""
MAX_ROUNDS = 100
"""Most rounds a converted loop runs (the step language's bound on ``repeat``)."""
FLOW_COMMANDS = frozenset(
    {
        "store",
        "storeJson",
        "storeText",
        "storeValue",
        "storeAttribute",
        "storeTitle",
        "storeElementCount",
        "storeEval",
        "assert",
        "verify",
        "run",
    }
)
_OPENERS = ("if", "while", "times", "forEach", "do")
_STORES_INTO_VALUE = frozenset(
    {
        "store",
        "storeJson",
        "storeText",
        "storeValue",
        "storeAttribute",
        "storeElementCount",
        "storeEval",
        "executeScript",
        "executeAsyncScript",
        "forEach",
    }
)
_NOTHING: Short = {"wait": {"seconds": 0}, "name": "(nothing)"}
"""A block holds at least one step; an empty branch of the IDE does nothing."""
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_NBSP = "\u00a0"
_TYPED = frozenset({"type", "sendKeys", "answerPrompt", "editContent"})
"""Commands whose value is text typed by the test: not shown in titles."""


@dataclass
class Command:
    """One recorded command and where it is (``tests[1].commands[4].click``)."""

    raw: dict[str, Any]
    where: str

    @property
    def name(self) -> str:
        return str(self.raw["command"])

    def arg(self, key: str) -> str:
        value = self.raw.get(key)
        return "" if value is None else str(value)

    @property
    def title(self) -> str:
        """What the IDE shows for it: its comment, else command, target (and value)."""
        comment = self.arg("comment").strip()
        if comment:
            return comment
        words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", self.name).lower()
        value = "" if self.name in _TYPED else self.arg("value")
        return " ".join(p for p in (words, self.arg("target"), value) if p)


@dataclass
class Block:
    """``if`` (its branches: if, else if..., else), ``while``, ``times``, ``for each`` or
    ``do`` (closed by ``repeat if``), with the commands inside."""

    kind: str
    branches: list[tuple[Command, list[Any]]]
    closer: Command | None = None


def parse_blocks(commands: list[Command], problems: Problems) -> list[Any]:
    """``commands`` as a tree of commands and ``Block``s; bad nesting goes to ``problems``."""
    top: list[Any] = []
    stack: list[Block] = []

    def body() -> list[Any]:
        return stack[-1].branches[-1][1] if stack else top

    for c in commands:
        name = c.name
        if name in _OPENERS:
            block = Block(name, [(c, [])])
            body().append(block)
            stack.append(block)
        elif name in ("elseIf", "else"):
            if not stack or stack[-1].kind != "if" or stack[-1].branches[-1][0].name == "else":
                problems.add(c.where, f"{name} must follow an if (or an else if) before its end")
                continue
            stack[-1].branches.append((c, []))
        elif name == "end":
            if not stack or stack[-1].kind == "do":
                problems.add(c.where, "end closes no if, while, times or for each")
                continue
            stack.pop().closer = c
        elif name == "repeatIf":
            if not stack or stack[-1].kind != "do":
                problems.add(c.where, "repeat if closes no do")
                continue
            stack.pop().closer = c
        else:
            body().append(c)
    for block in stack:
        opener = block.branches[0][0]
        closing = "repeat if" if block.kind == "do" else "end"
        problems.add(opener.where, f"this {block.kind} has no {closing}")
    return top


Kind = Literal["const", "text", "json"]


@dataclass
class _Variable:
    kind: Kind
    value: Any = None
    """A constant's value."""
    name: str = ""
    """The captured value's name (``@{name}``)."""


@dataclass
class _Made:
    """A flow a ``run`` became, and the state the test it runs leaves behind."""

    name: str
    after: dict[str, _Variable | None]
    """The variables it reads or sets, as they are after it."""
    tabs: list[str]
    tab: int


class Runs:
    """What the tests of one project share as they convert: the flows ``run`` became,
    the loop counters' numbers, and what each test (with those it runs) reads and sets."""

    def __init__(
        self, by_name: dict[str, dict[str, Any]], positions: dict[int, int], budget: Budget
    ) -> None:
        self.by_name = by_name
        self.positions = positions
        """``id(test)`` -> its index in the project's ``tests``."""
        self.budget = budget
        self.flows: dict[str, dict[str, Any]] = {}
        """Flow name -> ``{"steps": [...]}`` (the suite's ``flows:``)."""
        self.made: dict[Hashable, _Made] = {}
        self.loops = 0
        """Loop counters made so far (``loop1__index``...): unique in the project, since a
        flow's loop may run inside any test's."""
        self._sets: dict[str, dict[str, int]] = {}
        self._names: dict[str, frozenset[str]] = {}

    def flow_name(self, test: str) -> str:
        """A new flow name (a word) for a flow made of the test named ``test``."""
        word = re.sub(r"\W+", "_", test, flags=re.ASCII).strip("_").lower() or "test"
        base = word if word[0].isalpha() else f"test_{word}"
        name, n = base, 1
        while name in self.flows:
            n += 1
            name = f"{base}_{n}"
        self.flows[name] = {"steps": []}
        return name

    def sets(
        self, commands: list[Command], running: frozenset[str] = frozenset()
    ) -> dict[str, int]:
        """How often ``commands`` and the tests they run set each variable (1, or 2 for
        more than once). Each test is counted once and its count reused: linear in the
        project, however often tests run each other."""
        counts: dict[str, int] = {}
        for c in commands:
            target, name = _assigned(c), c.arg("target")
            inner = {target: 1} if target else {}
            if c.name == "run" and name in self.by_name and name not in running:
                if name not in self._sets:
                    called = _live(self.by_name[name])
                    self._sets[name] = self.sets(called, running | {name})
                inner = self._sets[name]
            for variable, times in inner.items():
                counts[variable] = min(2, counts.get(variable, 0) + times)
        return counts

    def names(self, test: str, running: frozenset[str] = frozenset()) -> frozenset[str]:
        """Every variable name the test named ``test`` (and those it runs) may read or set."""
        known = self._names.get(test)
        if known is not None:
            return known
        found: set[str] = set()
        for c in _live(self.by_name[test]):
            for text in (c.arg("target"), c.arg("value")):
                found.update(_VARIABLE.findall(text))
                if text.isidentifier():
                    found.add(text)  # stored into, looped over, asserted: named bare
            name = c.arg("target")
            if c.name == "run" and name in self.by_name and name not in running:
                found |= self.names(name, running | {name})
        self._names[test] = frozenset(found)
        return self._names[test]


def _live(test: dict[str, Any]) -> list[Command]:
    """The commands of ``test`` the IDE plays (their problems are said when it converts)."""
    raw = test.get("commands")
    return [
        Command(c, "")
        for c in (raw if isinstance(raw, list) else [])
        if isinstance(c, dict)
        and isinstance(c.get("command"), str)
        and c["command"]
        and not c["command"].startswith("//")
        and not c.get("skip")
    ]


@dataclass
class Flow:
    """Variables, ``run`` and blocks for one test's conversion (``side._Test``)."""

    test: _Test
    runs: Runs
    assignments: dict[str, int] = field(default_factory=dict)
    variables: dict[str, _Variable] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)

    @property
    def problems(self) -> Problems:
        return self.test.problems

    def prepare(self, commands: list[Command]) -> None:
        """Count how often each variable is set (a constant is set once, from a literal)."""
        self.assignments = self.runs.sets(commands)

    # -- text with variables ---------------------------------------------------------

    def text(self, c: Command, value: str) -> str:
        """``value`` as the IDE interpolates it: known variables and ``${nbsp}`` replaced."""

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            variable = self.variables.get(name)
            if variable is None:
                return _NBSP if name == "nbsp" else match.group(0)
            if variable.kind == "const":
                return _as_text(variable.value)
            return (
                "@{"
                + (variable.name if variable.kind == "text" else f"{variable.name}__text")
                + "}"
            )

        return _VARIABLE.sub(replace, value)

    def script_text(self, c: Command, script: str) -> str:
        """``script`` with variables as JavaScript values (the IDE passes them as arguments)."""

        def replace(match: re.Match[str]) -> str:
            variable = self.variables.get(match.group(1))
            if variable is None:
                return match.group(0)
            if variable.kind == "const":
                return json.dumps(variable.value)
            if variable.kind == "text":
                return "String.raw`@{" + variable.name + "}`"
            return "@{" + variable.name + "}"

        return _VARIABLE.sub(replace, script)

    def _interpolation(self, c: Command, text: str) -> str:
        """A JavaScript expression building ``text`` as the IDE would (``store``)."""
        parts: list[str | None] = []
        values: list[str] = []
        at = 0
        for match in _VARIABLE.finditer(text):
            name = match.group(1)
            if name not in self.variables and name != "nbsp":
                continue  # left as it is, as the IDE does
            literal = text[at : match.start()]
            if name == "nbsp":
                parts.append(literal + _NBSP)
            else:
                parts.append(literal)
                parts.append(None)
                values.append(self.script_text(c, match.group(0)))
            at = match.end()
        parts.append(text[at:])
        return _concatenation([p for p in parts if p != ""], values)

    # -- commands ------------------------------------------------------------------------

    def command(self, c: Command) -> list[Short]:
        """``store*``, ``assert`` / ``verify`` (a variable's value) and ``run``."""
        name = c.name
        if name == "run":
            return self._run(c)
        if name in ("assert", "verify"):
            return [self._assert(c)]
        variable = _assigned(c)
        if not variable:
            raise Unmappable(f"{name} needs the name of a variable to store into")
        literal = c.arg("target")
        if name == "store" and "${" not in literal and self.assignments.get(variable) == 1:
            return [self._constant(c, variable, literal)]
        if name == "storeJson" and self.assignments.get(variable) == 1:
            try:
                value = json.loads(literal)
            except ValueError as exc:
                raise Unmappable(f"store json: the target is not JSON ({exc})") from None
            return [self._constant(c, variable, value)]
        return self._capture(c, variable)

    def _constant(self, c: Command, variable: str, value: Any) -> Short:
        self.variables[variable] = _Variable("const", value)
        # Nothing to do as the test runs; the row shows the recorded command.
        return {"wait": {"seconds": 0}}

    def _capture(self, c: Command, variable: str) -> list[Short]:
        self._needs_flow_control(c, "a value read as the test runs")
        name = _identifier(variable, c)
        name_field = c.arg("target")

        def selector() -> str:  # read only where the command has a locator
            return self.test.selector(c)

        if c.name == "storeText":
            return self._text(variable, name, {"as": name, "text": selector()})
        if c.name == "storeValue":
            return self._text(variable, name, {"as": name, "value": selector()})
        if c.name == "storeTitle":
            return self._text(variable, name, {"as": name, "from": "title"})
        if c.name == "storeAttribute":
            locator, at, attribute = name_field.rpartition("@")
            if not at or not locator or not attribute:
                raise Unmappable("store attribute takes LOCATOR@ATTRIBUTE")
            where = side_target(self.text(c, locator), None)
            return self._text(
                variable, name, {"as": name, "attribute": attribute, "selector": where}
            )
        if c.name == "storeElementCount":
            self.variables[variable] = _Variable("json", name=name)
            return [{"capture": {"as": name, "count": selector()}}, _text_of(name)]
        if c.name == "store":
            expression = self._interpolation(c, name_field)
            return self._text(variable, name, {"as": name, "script": f"return {expression};"})
        if c.name == "storeJson":
            return self._json(variable, name, f"return JSON.parse({json.dumps(name_field)});")
        # storeEval, executeScript with a variable: what the script returns, as JSON.
        return self._json(variable, name, _returning(self.script_text(c, name_field)))

    def _text(self, variable: str, name: str, capture: Short) -> list[Short]:
        steps: list[Short] = [{"capture": capture}]
        self.variables[variable] = _Variable("text", name=name)
        return steps

    def _json(self, variable: str, name: str, script: str) -> list[Short]:
        steps: list[Short] = [
            {"capture": {"as": name, "script": _as_json(script)}},
            _text_of(name),
        ]
        self.variables[variable] = _Variable("json", name=name)
        return steps

    def script(self, c: Command) -> list[Short]:
        """``execute script`` (its value kept when it names a variable), ``execute async
        script`` (a promise it returns is awaited), ``run script`` (a <script> element)."""
        script = c.arg("target")
        if c.name == "runScript":
            inject = (
                "const s = document.createElement('script');"
                f" s.text = {json.dumps(self.script_text(c, script))};"
                " document.body.appendChild(s); return null;"
            )
            return [{"script": inject}]
        if c.arg("value"):
            return self._capture(c, c.arg("value"))
        # The IDE ignores what the script returns (a false fails no test).
        return [{"script": _returning(self.script_text(c, script), ignore=True)}]

    def _assert(self, c: Command) -> Short:
        variable = c.arg("target")
        known = self.variables.get(variable)
        if known is None:
            raise Unmappable(f"no earlier command stores the variable {variable!r}")
        value = self.script_text(c, "${" + variable + "}")
        step: Short = {
            "script": {
                "script": f"return String({value});",
                "returns": self.text(c, c.arg("value")),
            }
        }
        if c.name == "verify":
            step["continue_on_failure"] = True
        return step

    def _run(self, c: Command) -> list[Short]:
        name = c.arg("target")
        callee = self.test.by_name.get(name)
        if callee is None:
            raise Unmappable(f"there is no test named {name!r} in this project")
        if name in self.running:
            chain = " -> ".join([*self.running[self.running.index(name) :], name])
            raise Unmappable(f"test {name!r} runs itself ({chain}); a run may not call back")
        if len(self.running) > MAX_FLOW_DEPTH:
            chain = " -> ".join([*self.running, name])
            raise Unmappable(
                f"runs nest more than {MAX_FLOW_DEPTH} deep ({chain}): a run is a flow, and "
                "flows nest at most that deep"
            )
        names = sorted(self.runs.names(name))
        # What converting the test depends on: the variables it reads (constants are
        # written into its steps) and the windows open (select window uses indexes).
        state = (
            name,
            tuple((n, _frozen(self.variables.get(n)), self.assignments.get(n)) for n in names),
            tuple(self.test.tabs),
            self.test.tab,
        )
        made = self.runs.made.get(state)
        if made is None:
            made = self._flow(name, callee, names)
            self.runs.made[state] = made
        else:  # what the test does to the variables and windows, as converting it did
            for variable, value in made.after.items():
                if value is None:
                    self.variables.pop(variable, None)
                else:
                    self.variables[variable] = value
            self.test.tabs, self.test.tab = list(made.tabs), made.tab
        return [{"use": made.name}] if self.runs.flows[made.name]["steps"] else []

    def _flow(self, name: str, callee: dict[str, Any], names: list[str]) -> _Made:
        """The test named ``name`` converted as a flow, in the current state."""
        ti = self.runs.positions[id(callee)]
        flow = self.runs.flow_name(name)
        self.running.append(name)
        try:
            commands = self.test.commands(callee, f"tests[{ti}]")
            nodes = parse_blocks(commands, self.problems)
            with self.runs.budget.unit(f"test {name!r} (run as the flow {flow!r})"):
                self.runs.flows[flow]["steps"] = self.test.steps(nodes, f"flows.{flow}.steps")
        finally:
            self.running.pop()
        after = {n: self.variables.get(n) for n in names}
        return _Made(flow, after, list(self.test.tabs), self.test.tab)

    # -- blocks ------------------------------------------------------------------------

    def block(self, block: Block) -> tuple[list[Short], Command] | None:
        opener = block.branches[0][0]
        try:
            self._needs_flow_control(opener, f"{opener.name} blocks")
            if block.kind == "if":
                return [self._if(block.branches)], opener
            if block.kind == "forEach":
                return self._for_each(opener, block.branches[0][1]), opener
            if block.kind == "do":
                return self._do(block), opener
            return [self._loop(opener, block.branches[0][1])], opener
        except Unmappable as exc:
            self.problems.add(opener.where, str(exc))
            return None

    def _if(self, branches: list[tuple[Command, list[Any]]]) -> Short:
        (c, body), rest = branches[0], branches[1:]
        step: Short = {"if": self._condition(c), "name": c.title, "then": self._body(body, "then")}
        if rest and rest[0][0].name == "else":
            step["else"] = self._body(rest[0][1], "else")
        elif rest:
            step["else"] = self._nested_else(rest)
        return step

    def _nested_else(self, rest: list[tuple[Command, list[Any]]]) -> list[Short]:
        path = self._child_path("else")
        nested = self._if(rest)
        self.test.places[f"{path}[0]"] = rest[0][0].where
        return [nested]

    def _loop(self, c: Command, body: list[Any]) -> Short:
        if c.name == "times":
            rounds = self.text(c, c.arg("target"))
            if rounds.isdigit():
                if not 1 <= int(rounds) <= MAX_ROUNDS:
                    raise Unmappable(f"times runs 1 to {MAX_ROUNDS} rounds here, not {rounds}")
                return {"repeat": int(rounds), "name": c.title, "steps": self._body(body, "steps")}
            raise Unmappable(
                f"times takes a number (or a variable stored from one), not {rounds!r}"
            )
        repeat = {"while": self._condition(c), "max": _limit(c)}
        return {"repeat": repeat, "name": c.title, "steps": self._body(body, "steps")}

    def _do(self, block: Block) -> list[Short]:
        opener, body = block.branches[0]
        closer = block.closer
        assert closer is not None  # parse_blocks reports a do without its repeat if
        first = self._body(body, "steps")
        again = {
            "repeat": {"while": self._condition(closer), "max": max(1, _limit(closer) - 1)},
            "name": closer.title,
            "steps": self._body(body, "steps"),
        }
        return [{"group": opener.title, "steps": [*first, again]}]

    def _for_each(self, c: Command, body: list[Any]) -> list[Short]:
        collection, iterator = c.arg("target"), c.arg("value")
        if not collection or not iterator:
            raise Unmappable("for each takes a list variable (target) and an item variable (value)")
        source = self.variables.get(collection)
        if source is None:
            raise Unmappable(f"no earlier command stores the list {collection!r}")
        if source.kind == "const":
            if not isinstance(source.value, list) or len(source.value) > MAX_ROUNDS:
                raise Unmappable(f"{collection} must be a list of at most {MAX_ROUNDS} items")
            rounds: list[Short] = []
            for item in source.value:
                self.variables[iterator] = _Variable("const", item)
                label = f"{iterator} = {_as_text(item)}"
                rounds.append({"group": label, "steps": self._body(body, "steps")})
            return [{"group": c.title, "steps": rounds or [_NOTHING]}]
        if source.kind != "json":
            raise Unmappable(f"{collection} holds text, not a list")
        self.runs.loops += 1
        counter, name = f"loop{self.runs.loops}__index", _identifier(iterator, c)
        items = "@{" + source.name + "}"
        self.variables[iterator] = _Variable("json", name=name)
        head = {"capture": {"as": counter, "script": "return 0;"}}
        each = [
            {"capture": {"as": name, "script": f"return JSON.stringify({items}[@{{{counter}}}]);"}},
            _text_of(name),
            *self._body(body, "steps"),
            {"capture": {"as": counter, "script": f"return @{{{counter}}} + 1;"}},
        ]
        condition = {"script": f"return @{{{counter}}} < {items}.length;"}
        loop = {"repeat": {"while": condition, "max": MAX_ROUNDS}, "steps": each}
        return [{"group": c.title, "steps": [head, loop]}]

    def _condition(self, c: Command) -> Short:
        expression = c.arg("target").strip()
        if not expression:
            raise Unmappable(f"{c.name} needs a JavaScript condition")
        return {"script": f"return ({self.script_text(c, expression)});"}

    def _body(self, nodes: list[Any], child: str) -> list[Short]:
        return self.test.steps(nodes, self._child_path(child)) or [dict(_NOTHING)]

    def _child_path(self, child: str = "steps") -> str:
        return f"{self.test.path}.{child}"

    def _needs_flow_control(self, c: Command, what: str) -> None:
        if not FLOW_CONTROL:
            raise Unmappable(
                f"{what} need the step language's flow control (if, repeat, capture), which "
                "this testfleet does not have"
            )


def _frozen(variable: _Variable | None) -> Hashable:
    if variable is None:
        return None
    return (variable.kind, json.dumps(variable.value, sort_keys=True), variable.name)


def _assigned(c: Command) -> str:
    """The variable ``c`` stores into ("" when it stores none)."""
    if c.name == "storeTitle":
        return c.arg("target")
    return c.arg("value") if c.name in _STORES_INTO_VALUE else ""


def _text_of(name: str) -> Short:
    """Captures the text of the JSON value captured as ``name`` (as ``name__text``)."""
    return {"capture": {"as": f"{name}__text", "script": f"return String(@{{{name}}});"}}


def _identifier(variable: str, c: Command) -> str:
    if not variable.isidentifier():
        raise Unmappable(f"the variable name {variable!r} must be a word (letters, digits, _)")
    return variable


def _limit(c: Command) -> int:
    value = c.arg("value").strip()
    if not value:
        return MAX_ROUNDS
    if not value.isdigit() or int(value) < 1:
        raise Unmappable(f"the loop limit is a number of rounds, not {value!r}")
    return min(int(value), MAX_ROUNDS)


def _as_text(value: Any) -> str:
    """A value as the IDE puts it in text (JavaScript's ``String(value)``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return ",".join(_as_text(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _concatenation(parts: list[str | None], values: list[str]) -> str:
    """A JavaScript expression for a text made of literal ``parts`` and, where a part is
    None, the next of ``values`` (JavaScript expressions): ``"a" + String(x) + "b"``."""
    pieces = []
    given = iter(values)
    for part in parts:
        pieces.append(f"String({next(given)})" if part is None else json.dumps(part))
    return " + ".join(pieces) or '""'


def _returning(script: str, ignore: bool = False) -> str:
    """``script`` (a function body) run as the IDE runs it; its value returned, a promise
    awaited (``ignore``: returns null, so a ``false`` fails nothing)."""
    call = f"(function () {{\n{script}\n}}).apply(this, arguments)"
    if ignore:
        return f"return Promise.resolve({call}).then(() => null);"
    return f"return {call};"


def _as_json(script: str) -> str:
    """``script`` returning its value as JSON (``undefined`` as ``null``)."""
    body = script.removeprefix("return ").rstrip(";")
    return (
        f"return Promise.resolve({body}).then((v) => JSON.stringify(v === undefined ? null : v));"
    )
