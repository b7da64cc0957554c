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

Recordings are counted as they convert (``testfleet.suites.recordings.budget``), and the
whole planning of one submission runs in a child process with CPU and memory
limits (``max_plan_cpu_s``, ``max_plan_memory_bytes``; ``testfleet.suites.bounded``).

``testfleet.suites.yamltext.parse_yaml`` parses suite text with a cap on YAML aliases
(``max_yaml_aliases``; kept apart so that settings import no parser). Sizes are summed
over every suite of one run. A refusal names the limit and the setting that
raises it (``TESTFLEET_LIMITS__<FIELD>``): ``LimitError`` (413) for the run as a
whole, a ``SuiteError`` problem (422) for one field or test.

The per-project quotas (submissions per minute, cases queued and running at
once, AI generation) are settings of the same section; the API enforces them
(``api.quotas``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from testfleet.errors import LimitError, SuiteError
from testfleet.settings import LimitSettings

ENV_PREFIX = "TESTFLEET_LIMITS__"
"""Where a limit's environment variable starts (``LimitSettings`` in ``testfleet.settings``)."""
_NODE_BYTES = 2
"""What every value (a mapping, a list, a number, null) counts for besides its text."""
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_MAX_PROBLEMS = 20
"""Field problems reported per suite (one bad field repeated 10,000 times is one story)."""


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
    Walked here rather than with ``testfleet.suites.model.walk``: the suite module needs the
    settings, which need this module."""
    return sum(1 + _count_steps(step.children) for step in steps)
