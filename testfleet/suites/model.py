"""The suite model: what a test suite is, in its one canonical shape.

Suites are written in two forms that load to the same model (see ``loader``):
the canonical form (what AI generation returns, the shape below) and the short
form people write by hand. What each kind of step needs is declared in the step
registry (``testfleet.suites.steps``) and checked here, so both forms and every entry
point (CLI, API, generation) reject the same things.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from testfleet.masking import Masker
from testfleet.suites.environment import VARIABLE_NAME
from testfleet.suites.steps import STEP_TYPES, Match, Problem, spec_of, step_problems
from testfleet.suites.steps.assertions import LEGACY_KINDS
from testfleet.suites.steps.compare import regex_problem
from testfleet.targets.policy import resolve

__all__ = ["CaseSpec", "Masker", "Step", "Suite", "TestCase"]

AnalysisType = Literal["general", "error", "ui_validation"]
Priority = Literal["critical", "high", "medium", "low"]

MAX_STEP_TIMEOUT_S = 600.0
MAX_REPEAT = 100
"""Most rounds a ``repeat`` may run."""
DEFAULT_TESTID_ATTRIBUTE = "data-testid"


class UploadFile(BaseModel):
    """A file an ``upload`` step sends, embedded in the suite when it loads (so it reaches
    a worker and a browser on other hosts)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    """The file's name as the page sees it."""
    content_b64: str
    """Its bytes, base64-encoded."""


ConditionKind = Literal["visible", "hidden", "exists", "url", "title", "text", "value", "script"]
CONDITION_KINDS: tuple[str, ...] = ConditionKind.__args__  # type: ignore[attr-defined]


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
        needs = {
            "visible": ("selector",), "hidden": ("selector",), "exists": ("selector",),
            "url": ("expected",), "title": ("expected",), "text": ("selector", "expected"),
            "value": ("input", "expected"), "script": ("input",),
        }[self.kind]  # fmt: skip
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


class TestCase(BaseModel):
    """One test case: a named sequence of steps, run by one worker in one browser session."""

    __test__ = False

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str | None = None
    category: str | None = None
    priority: Priority = "medium"
    tags: list[str] = Field(default_factory=list)
    retry_count: int | None = Field(default=None, ge=0, le=10)
    """Extra attempts after a failure (the suite's ``retries`` when unset)."""
    steps: list[Step] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _ordered(cls, steps: list[Step]) -> list[Step]:
        seen = [s.order_index for s in steps]
        if len(set(seen)) != len(seen):
            raise ValueError(f"order_index values must be unique, got {seen}")
        return sorted(steps, key=lambda s: s.order_index)

    def secret_values(self) -> list[str]:
        """The clear-text values of this test's ``secret`` steps, for masking."""
        return sorted({v for s in walk(self.steps) for v in s.secret_values()})


class Viewport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(default=1280, ge=200, le=7680)
    height: int = Field(default=800, ge=200, le=4320)


class Suite(BaseModel):
    """A suite: test cases that share a base URL, a browser and defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str | None = None
    base_url: str | None = None
    browser: Literal["chrome"] = "chrome"
    viewport: Viewport = Field(default_factory=Viewport)
    environment: str | None = None
    """A label such as ``staging``; gateway subscribers filter on it."""
    tags: list[str] = Field(default_factory=list)
    env: list[str] = Field(default_factory=list)
    """The submitter's environment variables the suite reads as ``${VAR}`` (the CLI
    substitutes no other: ``testfleet.suites.environment``)."""
    priority: Priority | None = None
    """Overrides every test's own priority when set."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=MAX_STEP_TIMEOUT_S)
    """Default step timeout."""
    retries: int = Field(default=0, ge=0, le=10)
    """Default retry_count of its tests."""
    testid_attribute: str = Field(default=DEFAULT_TESTID_ATTRIBUTE, pattern=r"^[A-Za-z][\w:.-]*$")
    """The attribute ``testid=`` selectors look up."""
    tests: list[TestCase] = Field(min_length=1)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {url!r}")
        return url.rstrip("/") if url else url

    @field_validator("env")
    @classmethod
    def _variable_names(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not VARIABLE_NAME.fullmatch(n)]
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: an environment variable's name is letters, digits "
                "and _, not starting with a digit"
            )
        return names

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        counts = Counter(t.name for t in self.tests)  # linear: a suite may have 1,000s of tests
        dupes = sorted(n for n, seen in counts.items() if seen > 1)
        if dupes:
            raise ValueError(f"test names must be unique within a suite: {', '.join(dupes)}")
        return self

    def secret_values(self) -> list[str]:
        """The clear-text values of every ``secret`` step, for masking."""
        return sorted({v for t in self.tests for s in walk(t.steps) for v in s.secret_values()})

    def tagged(self, wanted: set[str]) -> list[TestCase]:
        """The tests carrying any of ``wanted`` (with the suite's own tags); all when empty."""
        if not wanted:
            return list(self.tests)
        return [t for t in self.tests if wanted & (set(t.tags) | set(self.tags))]


class CaseSpec(BaseModel):
    """Everything a worker needs to run one test case (stored per case, never served:
    it holds its own test's secrets in clear, once: in its steps)."""

    model_config = ConfigDict(extra="ignore")

    suite: str
    base_url: str | None = None
    viewport: Viewport = Field(default_factory=Viewport)
    environment: str | None = None
    timeout_seconds: float = 10.0
    """Default step timeout (a step's own ``timeout_seconds`` wins)."""
    retry_count: int = 0
    testid_attribute: str = DEFAULT_TESTID_ATTRIBUTE
    browser: str = "chrome"
    test: TestCase

    @classmethod
    def of(cls, suite: Suite, test: TestCase) -> CaseSpec:
        return cls(
            suite=suite.name,
            base_url=suite.base_url,
            viewport=suite.viewport,
            environment=suite.environment,
            timeout_seconds=suite.timeout_seconds,
            retry_count=test.retry_count if test.retry_count is not None else suite.retries,
            testid_attribute=suite.testid_attribute,
            browser=suite.browser,
            test=test,
        )

    @property
    def secrets(self) -> list[str]:
        """This case's secrets (its own test's only: another test's never reach its worker)."""
        return self.test.secret_values()

    def url(self, target: str) -> str:
        """``target`` resolved against the suite's base URL (absolute URLs, of any scheme,
        as they are; ``/go?to=http://x`` is a path): as the loader checked it."""
        return resolve(self.base_url, target)
