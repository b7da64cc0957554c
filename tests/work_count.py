"""Work counted, not timed: the Python lines a call executes (load cannot skew it)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any


def lines_run(work: Callable[[], object]) -> int:
    """Python lines executed by ``work()``: a count of work done that load cannot skew."""
    lines = 0

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal lines
        if event == "line":
            lines += 1
        return tracer

    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(None)
    return lines
