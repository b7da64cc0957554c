"""Trace modes: which attempts of a case have their evidence captured, and which keep it.

``off``: none. ``on``: every attempt, each kept. ``retain-on-failure`` (the default):
every attempt is captured, and only a failed or errored attempt's trace is stored.
``on-first-retry``: only attempt 2 (the first retry) is captured, and kept.
"""

from __future__ import annotations

from testfleet.results import TraceMode

__all__ = ["captures", "keeps", "snapshots_every_step"]

_KEPT_STATUSES = frozenset({"failed", "error"})
"""Attempt statuses whose trace ``retain-on-failure`` keeps."""


def captures(mode: TraceMode, attempt: int) -> bool:
    """Whether attempt number ``attempt`` (1-based) records a trace under ``mode``."""
    if mode == "off":
        return False
    if mode == "on-first-retry":
        return attempt == 2
    return True


def keeps(mode: TraceMode, attempt: int, status: str) -> bool:
    """Whether the captured trace of an attempt that ended ``status`` is stored."""
    if not captures(mode, attempt):
        return False
    if mode == "retain-on-failure":
        return status in _KEPT_STATUSES
    return True


def snapshots_every_step(mode: TraceMode) -> bool:
    """Whether the DOM is snapshotted after every step.

    Only ``on`` (``recorder`` says what that costs). The other modes snapshot only where
    a failure needs it (at the failing step, and after the last step) and read the logs
    there, so a passing test pays nothing per step.
    """
    return mode == "on"
