"""A test case's step log: its attempts and steps as plain text, one line per step.

Written by the worker as the artifact ``<case id>.log`` when the case ends, and
embedded by the reports (JUnit ``<failure>`` text, HTML ``<details>``). Lines
carry each step's offset from the start of the attempt and its duration, so the
log reads as a timeline. Every text goes through the case's ``Masker``: secrets
never reach the file.
"""

from __future__ import annotations

from collections.abc import Callable

from testfleet.artifacts import safe_name
from testfleet.results import CaseResult


def step_log_name(case_id: str) -> str:
    """The artifact name of a case's step log: ``<case id>.log``."""
    return f"{safe_name(case_id)}.log"


def _keep(text: str) -> str:
    return text


def step_log(case: CaseResult, mask: Callable[[str], str] = _keep) -> str:
    """The case's attempts, then its last attempt's steps (``+offset`` and duration in ms)."""
    took = f" in {case.duration_ms} ms" if case.duration_ms else ""
    lines = [
        mask(f"{case.suite} > {case.name}: {case.status} after {case.attempts} attempt(s){took}")
    ]
    for attempt in case.history:
        error = f": {attempt.error}" if attempt.error else ""
        lines.append(
            mask(
                f"attempt {attempt.attempt} on {attempt.worker}: {attempt.status} "
                f"({attempt.duration_ms} ms){error}"
            )
        )
    offset_ms = 0
    for step in case.steps:
        # Steps inside a block (a flow's use:, an if, a repeat) are indented under it.
        line = (
            f"{step.index:>3}. {step.status:<15} {'  ' * step.depth}{step.label} "
            f"(+{offset_ms} ms, {step.duration_ms} ms)"
        )
        offset_ms += step.duration_ms
        if step.error:
            line += f"\n       {step.error}"
        if step.screenshot:
            line += f"\n       screenshot: {step.screenshot}"
        lines.append(mask(line))
    if case.error and not any(s.error == case.error for s in case.steps):
        lines.append(mask(f"error: {case.error}"))
    return "\n".join(lines) + "\n"
