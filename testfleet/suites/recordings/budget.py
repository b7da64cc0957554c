"""What converting a recording may build: the run's limits, counted as the steps are made.

A few KB of recording can describe far more steps than it holds (loops over
literal lists, blocks converted twice, tests that run other tests), so the
converters count every step as they make it, under the same limits that bound
a suite written by hand (``testfleet.suites.limits``): steps per test
(``max_steps_per_test``, for each test and each flow a ``run`` became) and the
bytes of the whole conversion (``max_expanded_bytes``, what is left of the
run's). The first step past a limit stops the conversion with a ``LimitError``
naming the limit and its setting; nothing more is built.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from testfleet.errors import LimitError
from testfleet.suites.limits import RunLimits, setting

_NODE_BYTES = 2
"""What every value counts for besides its text (as ``testfleet.suites.limits`` counts)."""
_BLOCKS = ("steps", "then", "else")
"""Keys of a short-form step that hold steps (counted as steps, not as bytes)."""


class Budget:
    """The steps and bytes one recording's conversion has made so far."""

    def __init__(self, limits: RunLimits, source: str) -> None:
        self._limits = limits.limits
        self._source = source
        self._max_bytes = max(0, self._limits.max_expanded_bytes - limits.expanded_bytes)
        self._counted: dict[int, Any] = {}
        """Steps counted (by id; the step is kept so that its id is not reused)."""
        self._units: list[tuple[str, int]] = []
        """The tests and flows being converted, innermost last, with their steps so far."""
        self.bytes = 0

    @contextmanager
    def unit(self, what: str) -> Iterator[None]:
        """Count the steps made inside as ``what``'s (``test 'login'``, ``flow 'login'``)."""
        self._units.append((what, 0))
        try:
            yield
        finally:
            self._units.pop()

    def count(self, steps: list[dict[str, Any]]) -> None:
        """Count ``steps`` and the steps inside them not counted yet; ``LimitError`` as
        soon as the current test or flow, or the whole conversion, is past its limit."""
        for step in steps:
            self._step(step)

    def _step(self, step: dict[str, Any]) -> None:
        if id(step) in self._counted:
            return  # made earlier: counted with everything below it then
        self._counted[id(step)] = step
        if self._units:
            what, made = self._units[-1]
            self._units[-1] = (what, made + 1)
            limit = self._limits.max_steps_per_test
            if made + 1 > limit:
                raise LimitError(
                    f"{self._source}: {what} comes to more than {limit} steps as it converts "
                    "(loops over literal lists, and do blocks, count their steps once per "
                    f"round); split it or raise {setting('max_steps_per_test')}"
                )
        for key, value in step.items():
            if key in _BLOCKS and isinstance(value, list):
                for child in value:
                    if isinstance(child, dict):
                        self._step(child)
            else:
                self.bytes += _size(key) + _size(value)
        if self.bytes > self._max_bytes:
            raise LimitError(
                f"{self._source}: the recording converts to more than "
                f"{self._limits.max_expanded_bytes} bytes of steps (with the run's other "
                f"suites); split it or raise {setting('max_expanded_bytes')}"
            )


def _size(value: Any) -> int:
    if isinstance(value, str):
        return _NODE_BYTES + len(value)
    if isinstance(value, dict):
        return _NODE_BYTES + sum(_size(k) + _size(v) for k, v in value.items())
    if isinstance(value, list):
        return _NODE_BYTES + sum(_size(v) for v in value)
    return _NODE_BYTES
