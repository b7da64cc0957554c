"""The suite model: what a test suite is, in its one canonical shape.

Suites are written in two forms that load to the same model (see ``loader``):
the canonical form (what AI generation returns, the shape below) and the short
form people write by hand. Validation rules for each step type live here, so
both forms and every entry point (CLI, API, generation) reject the same things.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from testfleet.masking import Masker

__all__ = ["CaseSpec", "Masker", "Step", "Suite", "TestCase"]

StepType = Literal[
    "navigate",
    "click",
    "type",
    "clear",
    "wait",
    "assert",
    "screenshot",
    "custom",
    "select",
    "hover",
    "press",
    "scroll",
]
STEP_TYPES: tuple[str, ...] = StepType.__args__  # type: ignore[attr-defined]

AssertKind = Literal[
    "text", "text_equals", "url", "url_equals", "title", "title_equals",
    "visible", "hidden", "count", "attribute", "attribute_equals",
]  # fmt: skip
ASSERT_KINDS: tuple[str, ...] = AssertKind.__args__  # type: ignore[attr-defined]

AnalysisType = Literal["general", "error", "ui_validation"]
Priority = Literal["critical", "high", "medium", "low"]

MAX_STEP_TIMEOUT_S = 600.0


class Step(BaseModel):
    """One step of a test case."""

    model_config = ConfigDict(extra="forbid")

    order_index: int = Field(ge=1)
    step_type: StepType
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
    """``input_data`` (``expected_result`` on an assertion) is a secret: it never appears in
    events, logs, reports or the API."""
    analyze: AnalysisType | None = None
    """Screenshot steps: ask the vision model for this kind of analysis."""
    assertion: AssertKind | None = None
    """Assert steps: what is checked (``text`` contains, the default, when unset)."""
    attribute: str | None = None
    """Assert steps of kind ``attribute``/``attribute_equals``: the attribute's name."""

    @model_validator(mode="after")
    def _required_fields(self) -> Self:
        problems = step_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def label(self) -> str:
        """What the step is called in progress lines and reports."""
        if self.name:
            return self.name
        target = self.selector or ("" if self.secret else self.input_data) or ""
        kind = self.step_type if self.step_type != "assert" else f"assert {self.assert_kind}"
        return f"{kind} {target}".strip()

    @property
    def assert_kind(self) -> AssertKind:
        return self.assertion or "text"

    @property
    def secret_values(self) -> tuple[str, ...]:
        """What this step holds in clear that must be masked (nothing unless ``secret``)."""
        if not self.secret:
            return ()
        return tuple(v for v in (self.input_data, self.expected_result) if v)


def step_problems(step: Step) -> list[str]:
    """Every field a step of its type needs but lacks, as ``"<field> is required"``."""
    need: list[str] = []
    kind = step.step_type
    if kind in ("click", "hover", "clear", "select", "type"):
        need.append("selector")
    if kind in ("navigate", "custom", "press", "select"):
        need.append("input_data")
    if kind == "type" and step.input_data is None:
        need.append("input_data")
    if kind == "wait" and step.selector is None and step.input_data is None:
        return ["selector or input_data (seconds) is required"]
    if kind == "scroll" and step.selector is None and step.input_data is None:
        return ["selector or input_data (top, bottom or pixels) is required"]
    if kind == "assert":
        a = step.assert_kind
        if a in ("text", "text_equals", "visible", "hidden", "count"):
            need.append("selector")
        if a in ("attribute", "attribute_equals"):
            need += ["selector", "attribute"]
        if a not in ("visible", "hidden") and step.expected_result is None:
            need.append("expected_result")
        count = step.expected_result
        if a == "count" and count is not None and not count.strip().isdigit():
            return [f"expected_result must be a whole number for a count assertion, not {count!r}"]
    elif step.assertion is not None:
        return [f"assertion only applies to assert steps, not {kind}"]
    seconds = step.input_data
    if kind == "wait" and step.selector is None and seconds is not None and not _is_number(seconds):
        return [f"input_data of a wait without selector must be seconds, not {seconds!r}"]
    missing = [f for f in dict.fromkeys(need) if getattr(step, f) in (None, "")]
    if kind == "type":  # typing an empty string is legitimate
        missing = [f for f in missing if not (f == "input_data" and step.input_data == "")]
    article = "an" if kind[0] in "aeiou" else "a"
    return [f"{f} is required for {article} {kind} step" for f in missing]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
        return sorted({v for s in self.steps for v in s.secret_values})


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
    priority: Priority | None = None
    """Overrides every test's own priority when set."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=MAX_STEP_TIMEOUT_S)
    """Default step timeout."""
    retries: int = Field(default=0, ge=0, le=10)
    """Default retry_count of its tests."""
    tests: list[TestCase] = Field(min_length=1)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {url!r}")
        return url.rstrip("/") if url else url

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        counts = Counter(t.name for t in self.tests)  # linear: a suite may have 1,000s of tests
        dupes = sorted(n for n, seen in counts.items() if seen > 1)
        if dupes:
            raise ValueError(f"test names must be unique within a suite: {', '.join(dupes)}")
        return self

    def secret_values(self) -> list[str]:
        """The clear-text values of every ``secret`` step of every test, for masking."""
        return sorted({v for t in self.tests for s in t.steps for v in s.secret_values})

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
            test=test,
        )

    @property
    def secrets(self) -> list[str]:
        """This case's secrets (its own test's only: another test's never reach its worker)."""
        return self.test.secret_values()

    def url(self, target: str) -> str:
        """``target`` resolved against the suite's base URL (absolute URLs as they are)."""
        if "://" in target or target.startswith(("about:", "data:")) or not self.base_url:
            return target
        return f"{self.base_url}/{target.lstrip('/')}"
