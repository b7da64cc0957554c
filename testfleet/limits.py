"""Bounds on the work one submission may cause, and the settings that set them.

One request must not be able to stall the fleet for everyone. A suite is
checked twice on its way in, by the loader (the CLI's and the API's alike):

1. ``RunLimits.check_document`` on the parsed document, before anything walks
   it in full: its size once YAML aliases and ``${VAR}`` references are
   expanded (counted in bytes, walking each shared node once, so an alias
   "bomb" costs as little to measure as it took to send), the number of tests,
   steps per test and the length of every string;
2. ``RunLimits.check_suite`` on the validated suite (after flows, data rows and
   includes have expanded it): tests and steps per test again.

Recordings are counted as they convert (``testfleet.recordings.budget``), and the
whole planning of one submission runs in a child process with CPU and memory
limits (``max_plan_cpu_s``, ``max_plan_memory_bytes``; ``orchestrator.bounded``).

``testfleet.yamltext.parse_yaml`` parses suite text with a cap on YAML aliases
(``max_yaml_aliases``; kept apart so that settings import no parser). Sizes are summed
over every suite of one run. A refusal names the limit and the setting that
raises it (``TESTFLEET_LIMITS__<FIELD>``): ``LimitError`` (413) for the run as a
whole, a ``SuiteError`` problem (422) for one field or test.

The per-project quotas (submissions per minute, cases queued and running at
once, AI generation) are settings of the same section; the API enforces them
(``orchestrator.quotas``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from testfleet.errors import LimitError, SuiteError

ENV_PREFIX = "TESTFLEET_LIMITS__"
_NODE_BYTES = 2
"""What every value (a mapping, a list, a number, null) counts for besides its text."""
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_MAX_PROBLEMS = 20
"""Field problems reported per suite (one bad field repeated 10,000 times is one story)."""


class LimitSettings(BaseModel):
    """Limits on one submission and per-project quotas (env ``TESTFLEET_LIMITS__<FIELD>``)."""

    max_tests_per_run: int = Field(default=2_000, ge=1)
    """Test cases in one run, over all its suites."""
    max_steps_per_test: int = Field(default=500, ge=1)
    """Steps in one test case (after flows and data rows are expanded)."""
    max_field_chars: int = Field(default=20_000, ge=1)
    """Characters in any one text of a suite (a script, a selector, a value), variables
    substituted."""
    max_name_chars: int = Field(default=300, ge=1)
    """Characters in a suite's, test's or step's name."""
    max_expanded_bytes: int = Field(default=10_000_000, ge=1)
    """Bytes a run's suites come to once YAML aliases and ``${VAR}`` references are
    expanded (the request body itself is capped by ``api.max_body_bytes``)."""
    max_yaml_aliases: int = Field(default=1_000, ge=0)
    """YAML aliases (``*name``) in one suite file."""
    max_plan_cpu_s: int = Field(default=10, ge=1)
    """CPU seconds planning one submission may take (reading, converting recordings,
    composing, expanding, planning cases: done in a child process that is stopped past
    it; ``testfleet import`` too)."""
    max_plan_memory_bytes: int = Field(default=768 * 1024 * 1024, ge=16 * 1024 * 1024)
    """Memory planning one submission may take beyond what the planning process holds
    when it starts."""
    max_plans_per_project: int = Field(default=2, ge=1)
    """Submissions of one project planned at once (API; 429 with Retry-After past it),
    so that one project's heavy submissions never hold every planner."""
    submits_per_minute: int = Field(default=60, ge=1)
    """Runs one project may submit per minute (API; 429 with Retry-After past it)."""
    max_queued_cases: int = Field(default=10_000, ge=1)
    """Cases of one project queued or running at once, over all its runs (API: a
    submission that would go past it is refused, 429)."""
    max_running_cases: int = Field(default=0, ge=0)
    """Cases of one project running at once across the fleet (workers hold the rest back
    until one ends); 0 = no cap beyond the fleet's size."""
    generate_per_minute: int = Field(default=10, ge=1)
    """``POST /generate`` requests one project may make per minute."""
    generate_budget_tokens_per_day: int = Field(default=500_000, ge=0)
    """Model tokens (input + output) ``POST /generate`` may spend per project per UTC day;
    0 = no cap."""


def setting(field: str) -> str:
    """The environment variable of a limit (``max_tests_per_run`` ->
    ``TESTFLEET_LIMITS__MAX_TESTS_PER_RUN``)."""
    return ENV_PREFIX + field.upper()


class RunLimits:
    """The limits applied to the suites of one run, with what they have used so far."""

    def __init__(self, limits: LimitSettings | None = None) -> None:
        self.limits = limits or LimitSettings()
        self.expanded_bytes = 0
        """Bytes of the documents checked so far, expanded."""
        self.tests = 0
        """Tests of the suites checked so far."""

    # -- 1. the parsed document -------------------------------------------------------------

    def check_document(self, document: Any, source: str, env: Mapping[str, str]) -> None:
        """Refuse a parsed suite document that is too big, before it is expanded.

        Linear in the document as parsed (a node shared through aliases is walked
        once). Raises ``LimitError`` for the run's size or test count, and
        ``SuiteError`` listing fields that are too long or tests with too many steps.
        """
        limits = self.limits
        walk = _Walk(env, limits.max_field_chars, limits.max_expanded_bytes - self.expanded_bytes)
        try:
            size = walk.size(document, "")
        except RecursionError:
            raise SuiteError([f"{source}: nested too deeply to be a suite"]) from None
        if walk.over_budget:
            raise LimitError(
                f"{source}: the run's suites come to more than {limits.max_expanded_bytes} "
                f"bytes once YAML aliases and ${{VAR}} references are expanded; split the run "
                f"or raise {setting('max_expanded_bytes')}"
            )
        self.expanded_bytes += size
        tests = document.get("tests") if isinstance(document, dict) else None
        problems = [f"{source}: {p}" for p in walk.problems]
        if isinstance(tests, list):
            self._count_tests(len(tests), source)
            for i, test in enumerate(tests):
                steps = test.get("steps") if isinstance(test, dict) else None
                if isinstance(steps, list) and len(steps) > limits.max_steps_per_test:
                    too_many = self._too_many_steps(len(steps))
                    problems.append(f"{source}: tests[{i}].steps: {too_many}")
        if problems:
            raise SuiteError(problems[:_MAX_PROBLEMS])

    # -- 2. the validated suite -------------------------------------------------------------

    def check_suite(self, suite: Any, source: str) -> None:
        """Refuse a validated suite (a ``Suite``) past the limits once it is expanded."""
        limits = self.limits
        problems: list[str] = []
        if len(suite.name) > limits.max_name_chars:
            problems.append(f"{source}: name: {self._too_long_name(len(suite.name))}")
        for i, test in enumerate(suite.tests):
            where = f"{source}: tests[{i}]"
            if len(test.name) > limits.max_name_chars:
                problems.append(f"{where}.name: {self._too_long_name(len(test.name))}")
            # Steps inside blocks count too: a use: of a flow is all of the flow's steps.
            steps = _count_steps(test.steps)
            if steps > limits.max_steps_per_test:
                problems.append(f"{where}.steps: {self._too_many_steps(steps)}")
            for j, step in enumerate(test.steps):
                if step.name is not None and len(step.name) > limits.max_name_chars:
                    problems.append(
                        f"{where}.steps[{j}].name: {self._too_long_name(len(step.name))}"
                    )
            if len(problems) >= _MAX_PROBLEMS:
                break
        if problems:
            raise SuiteError(problems[:_MAX_PROBLEMS])
        self._count_tests(len(suite.tests), source, counted=True)

    def _count_tests(self, tests: int, source: str, counted: bool = False) -> None:
        total = self.tests + tests
        limit = self.limits.max_tests_per_run
        if total > limit:
            raise LimitError(
                f"{source}: the run has more than {limit} tests ({total} so far); split it "
                f"into several runs or raise {setting('max_tests_per_run')}"
            )
        if counted:
            self.tests = total

    def _too_many_steps(self, steps: int) -> str:
        limit = self.limits.max_steps_per_test
        return (
            f"{steps} steps is more than the {limit} a test may have; split the test "
            f"or raise {setting('max_steps_per_test')}"
        )

    def _too_long_name(self, chars: int) -> str:
        limit = self.limits.max_name_chars
        return (
            f"{chars} characters is longer than the {limit} a name may have; shorten it "
            f"or raise {setting('max_name_chars')}"
        )


class _Walk:
    """Measures a parsed document as if aliases were copied out and variables substituted."""

    def __init__(self, env: Mapping[str, str], max_field_chars: int, budget_bytes: int) -> None:
        self._env = env
        self._max_field_chars = max_field_chars
        self._budget_bytes = budget_bytes
        self._sizes: dict[int, int] = {}
        self.problems: list[str] = []
        self.over_budget = False

    def size(self, node: Any, path: str) -> int:
        """Expanded bytes of ``node`` (each shared container measured once)."""
        if isinstance(node, str):
            return self._text(node, path)
        if not isinstance(node, dict | list):
            return _NODE_BYTES
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        total = _NODE_BYTES
        if isinstance(node, dict):
            for key, value in node.items():
                child = f"{path}.{key}" if path else str(key)
                total += self.size(key, child) + self.size(value, child)
                if self._spent(total):
                    return total
        else:
            for i, value in enumerate(node):
                total += self.size(value, f"{path}[{i}]")
                if self._spent(total):
                    return total
        # Memoised only once complete: a shared node counts in full wherever it is used.
        self._sizes[id(node)] = total
        return total

    def _spent(self, total: int) -> bool:
        self.over_budget = self.over_budget or total > self._budget_bytes
        return self.over_budget

    def _text(self, text: str, path: str) -> int:
        chars = len(text)
        if "${" in text:
            chars += sum(len(self._env.get(m[1], "")) for m in _REFERENCE.finditer(text))
        if chars > self._max_field_chars and len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(
                f"{path or 'value'}: {chars} characters is longer than the "
                f"{self._max_field_chars} a text may have (variables substituted); shorten it "
                f"or raise {setting('max_field_chars')}"
            )
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        return _NODE_BYTES + size + chars - len(text)


def _count_steps(steps: Any) -> int:
    """Steps with those inside their blocks (a flow's ``use``, an ``if``, a ``repeat``).
    Walked here rather than with ``testfleet.suite.walk``: the suite module needs the
    settings, which need this module."""
    return sum(1 + _count_steps(step.children) for step in steps)
