"""A step of a test case, in its one canonical shape, beside the registry that says
which fields each kind of step uses (``registry``) and checks them (``step_problems``).

The suite model (``testfleet.suites.model``) is made of these steps; the step kinds
themselves know only this module's ``Step`` and ``Condition``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from testfleet.results import StepAnalysisType
from testfleet.suites.steps.assertions import LEGACY_KINDS
from testfleet.suites.steps.base import Match, Problem
from testfleet.suites.steps.compare import regex_problem
from testfleet.suites.steps.registry import STEP_TYPES, spec_of, step_problems

__all__ = [
    "CONDITION_KINDS",
    "MAX_REPEAT",
    "MAX_STEP_TIMEOUT_S",
    "AnalysisType",
    "Condition",
    "ConditionKind",
    "Step",
    "UploadFile",
    "canonical_problem",
    "walk",
]

AnalysisType = StepAnalysisType
"""What a step's ``analyze:`` asks (``testfleet.results`` owns the analysis types)."""

MAX_STEP_TIMEOUT_S = 600.0
MAX_REPEAT = 100
"""Most rounds a ``repeat`` may run."""


class UploadFile(BaseModel):
    """A file an ``upload`` step sends, embedded in the suite when it loads (so it reaches
    a worker and a browser on other hosts)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    """The file's name as the page sees it."""
    content_b64: str
    """Its bytes, base64-encoded."""


ConditionKind = Literal["visible", "hidden", "exists", "url", "title", "text", "value", "script"]
CONDITION_KINDS: tuple[str, ...] = get_args(ConditionKind)
CONDITION_NEEDS: dict[str, tuple[str, ...]] = {
    "visible": ("selector",),
    "hidden": ("selector",),
    "exists": ("selector",),
    "url": ("expected",),
    "title": ("expected",),
    "text": ("selector", "expected"),
    "value": ("input", "expected"),
    "script": ("input",),
}
"""The fields each kind of condition asks of its author."""


class Condition(BaseModel):
    """What ``if``, ``when`` and ``repeat`` (until / while) ask of the page.

    ``visible`` / ``hidden`` / ``exists``: an element (``selector``); ``url`` / ``title``:
    the page's, compared with ``expected``; ``text``: an element's text compared with
    ``expected``; ``value``: ``input`` (a captured ``@{name}``, say) compared with
    ``expected``; ``script``: JavaScript (``input``) returning a truthy value.
    """

    model_config = ConfigDict(extra="forbid")

    kind: ConditionKind
    selector: str | None = None
    expected: str | None = None
    match: Match | None = None
    input: str | None = None
    negate: bool = False
    """The condition holds when what it asks is *not* so (``not: true``)."""
    wait_s: float = Field(default=0.0, ge=0, le=MAX_STEP_TIMEOUT_S)
    """How long to wait for it to hold before taking it as false (0: look once)."""

    @model_validator(mode="after")
    def _complete(self) -> Self:
        needs = CONDITION_NEEDS[self.kind]
        missing = [f for f in needs if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} condition needs {' and '.join(missing)}")
        if self.expected is not None and self.match is None:
            self.match = "contains"
        if self.match == "matches" and self.expected is not None:
            problem = regex_problem(self.expected)
            if problem:
                raise ValueError(f"matches {problem}")
        return self

    @property
    def label(self) -> str:
        """``visible #banner``, ``not url contains /done``: the condition in a step's label."""
        subject = self.selector or ("script" if self.kind == "script" else self.input) or ""
        compared = f" {self.match} {self.expected}" if self.expected is not None else ""
        what = f"{self.kind} {subject}".strip() if self.kind != "script" else "script"
        return f"{'not ' if self.negate else ''}{what}{compared}"


class Step(BaseModel):
    """One step of a test case (its kind's fields: ``testfleet.suites.steps``)."""

    model_config = ConfigDict(extra="forbid")

    order_index: int = Field(ge=1)
    step_type: str
    """One of ``STEP_TYPES``."""
    name: str | None = None
    selector: str | None = None
    input_data: str | None = None
    expected_result: str | None = None
    timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_STEP_TIMEOUT_S)
    """Upper bound on this step's explicit waits (the suite default when unset)."""
    is_optional: bool = False
    """A failure of an optional step is recorded and the test goes on as if it passed."""
    continue_on_failure: bool = False
    """The test goes on after this step fails, but still fails."""
    secret: bool = False
    """The step's value (``input_data``) is a secret: it never appears in events, logs,
    reports or the API."""
    analyze: AnalysisType | None = None
    """Screenshot steps: ask the vision model for this kind of analysis."""
    assertion: str | None = None
    """Assert steps: what is checked (``text``, the default, when unset)."""
    attribute: str | None = None
    """``assert_attribute``: the attribute's name."""
    match: Match | None = None
    """Steps comparing a value: ``equals``, ``contains`` or ``matches`` (a regex)."""
    negate: bool = False
    """Assertions: expect the opposite (``not: true`` in the short form)."""
    soft: bool = False
    """Assertions: a failure is recorded, the test goes on and fails at the end."""
    force: bool = False
    """Actions on elements: act without waiting for the actionability checks."""
    target: str | None = None
    """``drag``: the element to drop on."""
    key: str | None = None
    """The name a step addresses: CSS or JavaScript property, cookie, storage key."""
    mode: str | None = None
    """A kind's option: dialog accept/dismiss, wait_for url/load/script, frame top/parent,
    storage local/session, switch_tab url/title."""
    index: int | None = None
    """``switch_tab``: the tab's position (0 first, -1 newest)."""
    width: int | None = None
    height: int | None = None
    """``set_viewport``: CSS pixels."""
    x: float | None = None
    y: float | None = None
    """Pointer steps: where to act, in CSS px from the element's top-left corner (its
    centre when unset); ``scroll``: the position to scroll the page (or the element) to."""
    latency_ms: float | None = Field(default=None, ge=0)
    download_bytes_per_s: float | None = Field(default=None, ge=0)
    upload_bytes_per_s: float | None = Field(default=None, ge=0)
    """``network``: the conditions to emulate (unset throughput: unlimited)."""
    files: list[UploadFile] | None = None
    """``upload``: the files, embedded."""
    allow_status: list[int] | Literal["any"] | None = None
    """``navigate``: HTTP statuses >= 400 that do not fail the step (or ``any``)."""
    mask: list[str] | None = None
    """``assert_screenshot``: selectors of regions painted over before comparing."""
    max_diff_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    """``assert_screenshot``: the ratio of pixels that may change (0-1)."""
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    """``assert_screenshot``: how far a pixel's colour may move before it counts as changed
    (0-1 of a channel's range)."""
    tags: list[str] | None = None
    """``assert_accessible``: the axe-core tags whose rules run (``wcag2aa``, ...)."""
    include: list[str] | None = None
    exclude: list[str] | None = None
    """``assert_accessible``: CSS selectors of the parts of the page checked / left out."""
    disable_rules: list[str] | None = None
    """``assert_accessible``: axe-core rule ids not run (``color-contrast``)."""
    budgets: dict[str, float] | None = None
    """``assert_performance``: metric -> the most it may be (``testfleet.results``)."""
    when: Condition | None = None
    """Any step: run it only when this holds (else it is skipped)."""
    condition: Condition | None = None
    """``if``: which branch runs; ``repeat``: until / while (``mode``) it holds."""
    times: int | None = Field(default=None, ge=1, le=MAX_REPEAT)
    """``repeat``: how many rounds (the most, with a condition)."""
    steps: list[Step] | None = None
    """``group``, ``repeat``: the steps inside; ``if``: the steps run when it holds."""
    else_steps: list[Step] | None = None
    """``if``: the steps run when it does not hold."""
    always: bool = False
    """Runs even after the test has failed (a suite's ``after_each``)."""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        """Earlier suites' ``text_equals``-style kinds become the kind with ``match:
        equals``; a comparing step without ``match`` gets its kind's default."""
        if not isinstance(data, dict):
            return data
        assertion = data.get("assertion")
        if data.get("step_type") == "assert" and assertion in LEGACY_KINDS:
            data = {**data, "assertion": LEGACY_KINDS[assertion], "match": "equals"}
        step_type = data.get("step_type")
        if isinstance(step_type, str) and data.get("match") is None:
            spec = spec_of(step_type, data.get("assertion"))
            if spec is not None and spec.default_match is not None:
                data = {**data, "match": spec.default_match}
        return data

    @field_validator("step_type")
    @classmethod
    def _known_type(cls, step_type: str) -> str:
        if step_type not in STEP_TYPES:
            raise PydanticCustomError(
                "step_type", "must be one of {types}", {"types": ", ".join(STEP_TYPES)}
            )
        return step_type

    @field_validator("allow_status")
    @classmethod
    def _statuses(cls, statuses: list[int] | str | None) -> list[int] | str | None:
        if isinstance(statuses, list):
            bad = [s for s in statuses if not 400 <= s <= 599]
            if bad:
                raise ValueError(f"lists HTTP error statuses (400-599), not {bad}")
        return statuses

    @model_validator(mode="after")
    def _valid_for_its_kind(self) -> Self:
        problems = step_problems(self)
        if problems:
            raise PydanticCustomError(
                "step_problems",
                "{text}",
                {
                    "text": "; ".join(canonical_problem(p, self.step_type) for p in problems),
                    "problems": problems,
                },
            )
        return self

    @property
    def kind(self) -> str:
        """The registry key of the step's kind (``click``, ``assert_text``, ...)."""
        spec = spec_of(self.step_type, self.assertion)
        assert spec is not None  # validated
        return spec.key

    @property
    def label(self) -> str:
        """What the step is called in progress lines and reports."""
        if self.name:
            return self.name
        kind = self.kind.replace("assert_", "assert ", 1)
        if self.step_type == "repeat":
            if self.condition is None:
                return f"repeat {self.times} times"
            return f"repeat {self.mode} {self.condition.label} (max {self.times})"
        if self.condition is not None:
            return f"{kind} {self.condition.label}"
        if self.step_type == "capture":
            return f"capture {self.key}"
        target = self.selector or ("" if self.secret else self.input_data) or ""
        return f"{kind} {target}".strip()

    @property
    def assert_kind(self) -> str:
        return self.assertion or "text"

    def secret_values(self) -> list[str]:
        """The clear-text values ``secret: true`` hides in this step."""
        spec = spec_of(self.step_type, self.assertion)
        if not self.secret or spec is None:
            return []
        values = (getattr(self, f) for f in spec.secret_fields)
        return [v for v in values if isinstance(v, str) and v]

    @property
    def children(self) -> list[Step]:
        """The steps inside a block (both branches of an ``if``), in order."""
        return [*(self.steps or []), *(self.else_steps or [])]


def walk(steps: list[Step]) -> Iterator[Step]:
    """Every step in ``steps`` and inside their blocks, depth first, in document order."""
    for step in steps:
        yield step
        yield from walk(step.children)


def canonical_problem(problem: Problem, step_type: str) -> str:
    """A problem as the canonical form names it: ``selector is required for a click step``."""
    if problem.field is None:
        return f"a {step_type} step {problem.text}"
    if problem.text == "is required":
        article = "an" if step_type[0] in "aeiou" else "a"
        return f"{problem.field} is required for {article} {step_type} step"
    return problem.about(problem.field)
