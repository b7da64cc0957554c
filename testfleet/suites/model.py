"""The suite model: what a test suite is, in its one canonical shape.

Suites are written in two forms that load to the same model (see ``loader``):
the canonical form (what AI generation returns, the shape below) and the short
form people write by hand. A test's steps are ``testfleet.suites.steps.model.Step``:
what each kind of step needs is declared in the step registry and checked by the step
itself, so both forms and every entry point (CLI, API, generation) reject the same things.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from testfleet.masking import Masker
from testfleet.results import DEFAULT_TRACE_MODE, OrderMode, TraceMode
from testfleet.suites.environment import VARIABLE_NAME
from testfleet.suites.steps.model import MAX_STEP_TIMEOUT_S, AnalysisType, Step, walk
from testfleet.targets.policy import resolve

__all__ = ["AnalysisType", "CaseSpec", "Masker", "Suite", "TestCase", "Viewport"]

Priority = Literal["critical", "high", "medium", "low"]

DEFAULT_TESTID_ATTRIBUTE = "data-testid"


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
    trace: TraceMode | None = None
    """When this test's evidence is captured and kept (the suite's ``trace`` when unset)."""
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
    trace: TraceMode | None = None
    """Default trace mode of its tests: ``off``, ``on``, ``retain-on-failure`` (captured
    for every attempt, kept for failed ones; the default when unset) or ``on-first-retry``
    (the second attempt only)."""
    testid_attribute: str = Field(default=DEFAULT_TESTID_ATTRIBUTE, pattern=r"^[A-Za-z][\w:.-]*$")
    """The attribute ``testid=`` selectors look up."""
    order: OrderMode | None = None
    """How a run of this suite dispatches its cases (``--order`` wins; unset: the first
    suite's that sets it, else ``duration``)."""
    max_failures: int | None = Field(default=None, ge=1)
    """A run of this suite stops at this many failed tests (``--max-failures`` wins;
    several suites: the smallest)."""
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
    trace: TraceMode = DEFAULT_TRACE_MODE
    """The test's resolved trace mode (the run's ``--trace``, else the test's, else the
    suite's)."""
    test: TestCase

    @classmethod
    def of(cls, suite: Suite, test: TestCase, trace: TraceMode | None = None) -> CaseSpec:
        """The spec of ``test`` of ``suite``; ``trace``: the run's override of every
        test's trace mode."""
        return cls(
            suite=suite.name,
            base_url=suite.base_url,
            viewport=suite.viewport,
            environment=suite.environment,
            timeout_seconds=suite.timeout_seconds,
            retry_count=test.retry_count if test.retry_count is not None else suite.retries,
            testid_attribute=suite.testid_attribute,
            browser=suite.browser,
            trace=trace or test.trace or suite.trace or DEFAULT_TRACE_MODE,
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
