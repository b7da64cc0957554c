"""Accessibility and page-speed assertions: ``assert_accessible`` (axe-core) and
``assert_performance`` (the browser's Performance APIs, against budgets).

Both are assertions (``step_type: assert``): ``not:`` and ``soft:`` apply. What they
measure is recorded on the step's result (``testfleet.results.AccessibilityResult``,
``PerformanceResult``) whether they pass or not; the worker's side is
``workers/executor/accessibility.py`` and ``performance.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testfleet.results import IMPACTS, PERFORMANCE_METRICS, Impact
from testfleet.suites.steps.base import Field, Problem, StepSpec
from testfleet.suites.steps.selectors import selector_problem

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step

A11Y_TAGS = (
    "wcag2a",
    "wcag2aa",
    "wcag2aaa",
    "wcag21a",
    "wcag21aa",
    "wcag22aa",
    "best-practice",
    "section508",
    "ACT",
    "EN-301-549",
    "experimental",
)
"""The axe-core tags ``tags:`` accepts (each selects the rules that carry it)."""
DEFAULT_FAIL_ON: Impact = "serious"
"""``fail_on`` unset: serious and critical violations fail, moderate and minor are reported."""
MAX_RUNS = 20
"""Most page loads one ``assert_performance`` may take the median of."""


def _selectors_problems(field: str, selectors: list[str] | None) -> list[Problem]:
    problems = []
    for selector in selectors or []:
        problem = selector_problem(selector) if selector else "is empty"
        if problem is None and selector.split("=", 1)[0] in ("text", "role", "label", "testid"):
            problem = "is not CSS (axe-core's include and exclude take CSS selectors)"
        if problem:
            problems.append(Problem(field, f"has a selector {selector!r} that {problem}"))
    return problems


def _accessible_rule(step: Step) -> list[Problem]:
    problems = _selectors_problems("include", step.include)
    problems += _selectors_problems("exclude", step.exclude)
    unknown = [t for t in step.tags or [] if t not in A11Y_TAGS]
    if unknown:
        problems.append(
            Problem("tags", f"has unknown tags {unknown}: use some of {', '.join(A11Y_TAGS)}")
        )
    if step.mode is not None and step.mode not in IMPACTS:
        problems.append(
            Problem(
                "mode",
                f"must be one of {', '.join(IMPACTS)}, not {step.mode!r}",
                short="fail_on",
            )
        )
    return problems


def _performance_rule(step: Step) -> list[Problem]:
    problems = []
    unknown = [m for m in step.budgets or {} if m not in PERFORMANCE_METRICS]
    if unknown:
        problems.append(
            Problem(
                "budgets",
                f"has unknown metrics {unknown}: use some of {', '.join(PERFORMANCE_METRICS)}",
            )
        )
    negative = [m for m, v in (step.budgets or {}).items() if v < 0]
    if negative:
        problems.append(Problem("budgets", f"must not be negative ({', '.join(negative)})"))
    if step.times is not None and step.times > MAX_RUNS:
        problems.append(Problem("times", f"must be at most {MAX_RUNS}", short="runs"))
    return problems


SPECS: tuple[StepSpec, ...] = (
    StepSpec(
        "assert_accessible",
        "assertions",
        "assert",
        "The page (or part of it) has no accessibility violation (axe-core) of at least "
        "fail_on's impact that its approved baseline does not accept; every violation is "
        "reported, with the elements, what to fix and a highlighted screenshot",
        example={"tags": ["wcag2a", "wcag2aa"], "exclude": ["#ads"], "fail_on": "serious"},
        assertion="accessible",
        fields=(
            Field(
                "name",
                "name",
                "the baseline's name (default: accessibility-1, -2, ... in the test's order)",
            ),
            Field(
                "selector",
                "selector",
                "an element to check by itself (default: the whole page)",
                kind="selector",
            ),
            Field(
                "tags",
                "tags",
                "axe-core tags of the rules to run: wcag2a, wcag2aa, wcag21aa, wcag22aa, "
                "best-practice, ... (default: all rules but experimental ones)",
                kind="names",
            ),
            Field("include", "include", "CSS selectors of the parts checked", kind="selectors"),
            Field("exclude", "exclude", "CSS selectors of parts left out", kind="selectors"),
            Field("disable", "disable_rules", "axe-core rule ids not run", kind="names"),
            Field(
                "fail_on",
                "mode",
                "the least impact that fails: minor, moderate, serious (default), critical",
                kind="choice",
                choices=IMPACTS,
            ),
        ),
        bare=True,
        validate=_accessible_rule,
    ),
    StepSpec(
        "assert_performance",
        "assertions",
        "assert",
        "The page loaded within budgets: ttfb_ms, dom_content_loaded_ms, load_ms (navigation "
        "timing), lcp_ms, cls, tbt_ms (buffered PerformanceObservers); runs: N reloads the "
        "page N times and compares each metric's median; the values are recorded",
        example={"budgets": {"lcp_ms": 2500, "cls": 0.1, "tbt_ms": 200}, "runs": 3},
        assertion="performance",
        fields=(
            Field(
                "budgets",
                "budgets",
                "metric -> the most it may be (ms, or unitless for cls)",
                kind="budgets",
            ),
            Field(
                "runs",
                "times",
                f"reload the page this many times (1-{MAX_RUNS}) and compare medians",
                kind="int",
            ),
        ),
        bare=True,
        validate=_performance_rule,
    ),
)
