"""What a step kind is, declared once: names, fields, validation, documentation.

A ``StepSpec`` says everything the rest of testfleet needs to know about one
kind of step, without running it: its short-form key and aliases, the
canonical ``step_type`` (and ``assertion``) it becomes, each short-form field
and the canonical field it fills, which fields are required, what a plain
scalar (``click: "#go"``) means, which fields ``secret: true`` hides, whether
``force``, ``not`` and ``soft`` apply, extra validation, a one-line doc and an
example. The loader, the suite model's validation, the JSON Schema, the AI
prompt and the docs' step reference are derived from these; the worker's handler for
each is looked up by ``key``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step

Family = Literal[
    "navigation",
    "pointer",
    "keyboard and forms",
    "waits",
    "assertions",
    "page state",
    "flow control",
]
FAMILIES: tuple[Family, ...] = Family.__args__  # type: ignore[attr-defined]

Match = Literal["equals", "contains", "matches"]
MATCHES: tuple[Match, ...] = ("equals", "contains", "matches")

FieldKind = Literal[
    "text",
    "selector",
    "selectors",
    "int",
    "number",
    "status",
    "files",
    "choice",
    "compare",
    "condition",
    "names",
    "budgets",
]
"""How a field's value is written: free text, a selector, one selector or a list of them,
a whole number, a number, HTTP statuses (``allow_status``), a list of files (``upload``),
one of ``choices``, a comparison (a text to contain, or
``{equals|contains|matches: text}``), a condition (``steps.conditions``), one name or a
list of them (axe-core tags and rules), or budgets (``{metric: number}``)."""

Check = Literal["visible", "stable", "enabled", "editable", "hit"]
"""Actionability checks a step waits for before acting (see ``workers/executor``)."""


@dataclass(frozen=True)
class Field:
    """One key of a step's short form, and the canonical field it fills."""

    name: str
    """The short-form key (``selector``, ``text``, ``equals``)."""
    to: str
    """The canonical ``Step`` field it fills (``selector``, ``input_data``, ...)."""
    doc: str
    kind: FieldKind = "text"
    choices: tuple[str, ...] = ()
    """For ``kind="choice"``: the accepted values."""
    sets: Mapping[str, Any] = field(default_factory=dict)
    """Other canonical fields this key implies (``equals`` sets ``match: equals``)."""
    alias: bool = False
    """A second name for a field (``value`` for ``option``): accepted, not advertised."""
    with_field: str | None = None
    """Written in the short form only when this canonical field is set too (``max`` of a
    ``repeat`` with a condition; ``times`` otherwise)."""


@dataclass(frozen=True)
class Problem:
    """What is wrong with a step, about one canonical field (or the step as a whole).

    ``text`` follows the field's name: ``is required``, ``must be ...``. ``short``
    names the field as written in the short form when it differs from what the
    spec's fields would say (``matches`` for a bad regular expression).
    """

    field: str | None
    text: str
    short: str | None = None

    def about(self, name: str) -> str:
        """The problem said of the field called ``name``: ``selector is required``,
        ``not: only applies to assertions``."""
        verb = self.text.split(" ", 1)[0]
        joiner = " " if verb in ("is", "must", "has", "takes", "needs", "lists") else ": "
        return f"{name}{joiner}{self.text}"


Validator = Callable[["Step"], list[Problem]]


def _no_problems(step: Step) -> list[Problem]:
    return []


@dataclass(frozen=True)
class StepSpec:
    """One kind of step (see the module docstring)."""

    key: str
    """The short-form key, also the handler's name in the worker (``double_click``)."""
    family: Family
    step_type: str
    """The canonical ``step_type`` (``assert`` for every assertion)."""
    doc: str
    """One line for the step reference (docs/steps.md), the JSON Schema and the AI prompt."""
    example: Any
    """A short-form step (the value under ``key``), for the docs and the schema tests."""
    fields: tuple[Field, ...] = ()
    assertion: str | None = None
    """For ``step_type="assert"``: the canonical ``assertion`` kind."""
    aliases: tuple[str, ...] = ()
    scalar: str | None = None
    """The short field a plain scalar fills (``click: "#go"`` fills ``selector``)."""
    number_scalar: str | None = None
    """The short field a plain number fills instead (``wait: 2`` fills ``seconds``)."""
    keywords: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Scalar values that mean something else than ``scalar`` (``frame: top`` sets
    ``mode: top``), with the canonical fields each sets."""
    bare: bool = False
    """The step may be written with no body (``- back``)."""
    required: tuple[str, ...] = ()
    """Canonical fields that must be set (an empty text counts as unset...)."""
    empty_ok: tuple[str, ...] = ()
    """...except in these (typing an empty text is legitimate)."""
    secret_fields: tuple[str, ...] = ()
    """Canonical fields ``secret: true`` hides; empty: ``secret`` has no effect here..."""
    secret_value: bool = False
    """...unless the value the step produces when it runs is what ``secret`` hides
    (``capture``)."""
    children: Mapping[str, str] = field(default_factory=dict)
    """Blocks: short-form keys beside the action that hold steps -> canonical field
    (``then`` -> ``steps``, ``else`` -> ``else_steps``)."""
    example_children: Mapping[str, Any] = field(default_factory=dict)
    """Blocks: the steps of the example, by child key."""

    @property
    def example_step(self) -> Any:
        """The example as a whole short-form step."""
        if self.example is None and not self.example_children:
            return self.key
        return {self.key: self.example, **self.example_children}

    checks: tuple[Check, ...] = ()
    """Actionability checks before acting; non-empty: ``force: true`` applies."""
    default_match: Match | None = None
    """Steps that compare a value: the comparison when none is given."""
    validate: Validator = _no_problems
    """Problems beyond missing fields (a bad regular expression, a count that is not a number)."""

    @property
    def is_assertion(self) -> bool:
        return self.step_type == "assert"

    @property
    def is_block(self) -> bool:
        return bool(self.children)

    @property
    def identity(self) -> tuple[str, str | None]:
        """(step_type, assertion): how the canonical form names this kind."""
        return (self.step_type, self.assertion)

    def short_names(self, canonical: str) -> list[str]:
        """The advertised short-form keys that fill ``canonical`` (``equals``, ``contains``...)."""
        return [f.name for f in self.fields if f.to == canonical and not f.alias]

    def field_named(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


def compare_fields(what: str) -> tuple[Field, ...]:
    """``equals`` / ``contains`` / ``matches`` for a step comparing ``what`` with a value."""
    return (
        Field(
            "equals",
            "expected_result",
            f"{what} equals this (whitespace trimmed)",
            sets={"match": "equals"},
        ),
        Field("contains", "expected_result", f"{what} contains this", sets={"match": "contains"}),
        Field(
            "matches",
            "expected_result",
            f"{what} matches this regular expression (Python syntax, searched)",
            sets={"match": "matches"},
        ),
    )


SELECTOR = Field(
    "selector", "selector", "the element (CSS, or text=, role=, label=, ...)", kind="selector"
)
FORCE_DOC = "skip the actionability checks"
"""What ``force: true`` does, for the docs."""
MODIFIER_DOCS: Mapping[str, str] = {
    "name": "what the step is called in reports",
    "timeout": "seconds this step may wait (the suite's timeout_seconds when unset)",
    "optional": "a failure is recorded and the test goes on as if it passed",
    "continue_on_failure": "the test goes on after this step fails, but still fails",
    "secret": "the step's value never appears in events, logs, reports or the API",
    "not": "assertions: expect the opposite",
    "soft": "assertions: record a failure, go on, fail the test at the end",
    "force": f"actions on elements: {FORCE_DOC}",
    "when": "run the step only when a condition holds (else it is skipped)",
}
"""Keys any short-form step may carry beside its action (where they have an effect)."""
