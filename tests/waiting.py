"""The one way tests wait: poll a condition until it holds, with a deadline.

Never a fixed sleep standing in for a condition: between two checks of the
condition the wait pauses for the poll interval, bounded by the deadline, which is
what STYLE.md asks for. The wait ends as soon as the condition holds (or fails
loudly at the deadline, saying what it waited for and what it last saw).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


_NEVER_SET = threading.Event()
"""Waited on for the poll interval between two checks (nothing ever sets it)."""


class WaitTimeout(AssertionError):
    """A condition did not hold before its deadline."""


def wait_until(
    what: str,
    check: Callable[[], T],
    timeout_s: float,
    *,
    interval_s: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``check`` until it returns something truthy, and return that.

    Exceptions of the ``ignore`` types count as "not yet" (a server not listening
    yet); anything else propagates at once. Raises ``WaitTimeout`` after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    last: object = None
    while True:
        try:
            value = check()
        except ignore as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(
                f"timed out after {timeout_s:g} s waiting for {what} (last: {last!r})"
            )
        _NEVER_SET.wait(min(interval_s, remaining))  # the poll interval, within the deadline
