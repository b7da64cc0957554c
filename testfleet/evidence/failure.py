"""What a failing step's analysis is told of the browser: its console errors and failed
requests, as one masked line each.

An attempt's logs are split into steps by time (``TraceRecorder``). The request or the
error that explains a failure often belongs to an earlier step than the failing one (a
click's fetch answers 500, the next step's assertion fails), so the evidence of a failing
step is every console error and failed request up to and including it, most relevant
first: the failing step's own in the order they happened, then the earlier steps',
latest first. Whoever shows it to a model decides how much of it fits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from testfleet.evidence.console import ConsoleLine, console_line, is_error
from testfleet.evidence.har import build_har, failed

__all__ = ["EvidenceItem", "EvidenceKind", "FailureEvidence", "failure_evidence"]

EvidenceKind = Literal["console", "request"]


@dataclass(frozen=True)
class EvidenceItem:
    """One console error or failed request, as a line of masked text."""

    kind: EvidenceKind
    step: int | None
    """The step whose time window it fell in (None: before the first step)."""
    time: str
    """ISO 8601 UTC with milliseconds (when it was logged, or the request started)."""
    text: str


@dataclass(frozen=True)
class FailureEvidence:
    """The browser's evidence of one failing step (see the module docstring for the order)."""

    step: int
    console: tuple[EvidenceItem, ...] = ()
    requests: tuple[EvidenceItem, ...] = ()


def _console_text(line: ConsoleLine) -> str:
    where = ""
    if "url" in line:
        where = line["url"] + (f":{line['line']}:{line['column']}" if "line" in line else "")
    return f"{line['text']} ({where})" if where else line["text"]


def _request_text(entry: dict[str, Any]) -> str:
    request, response = entry["request"], entry["response"]
    status = int(response.get("status", 0) or 0)
    outcome = f"{status} {response.get('statusText', '')}".strip() if status else "no response"
    if response.get("_error"):
        outcome += f", {response['_error']}"
    if response.get("_blockedReason"):
        outcome += f" (blocked: {response['_blockedReason']})"
    return f"{request.get('method', 'GET')} {request.get('url', '')} -> {outcome}"


def _by_relevance(items: list[EvidenceItem], step: int) -> tuple[EvidenceItem, ...]:
    own = sorted((i for i in items if i.step == step), key=lambda i: i.time)
    earlier = sorted((i for i in items if i.step != step), key=lambda i: i.time, reverse=True)
    return tuple(own + earlier)


def failure_evidence(
    console_entries: list[dict[str, Any]],
    network_entries: list[dict[str, Any]],
    mask: Callable[[str], str],
    step_of: Callable[[float], int | None],
    step: int,
) -> FailureEvidence:
    """The evidence of failing ``step`` in the attempt's raw logs (chromedriver's browser
    and performance log entries), every text passed through ``mask``; ``step_of(epoch_ms)``
    is the step an entry's time falls in. Entries of later steps are left out."""

    def up_to_step(of: int | None) -> bool:
        return of is None or of <= step

    console: list[EvidenceItem] = []
    for entry in console_entries:
        line = console_line(entry, mask)
        of = step_of(float(entry.get("timestamp", 0)))
        if is_error(line) and up_to_step(of):
            console.append(EvidenceItem("console", of, line["time"], _console_text(line)))
    requests: list[EvidenceItem] = []
    for har_entry in build_har(network_entries, mask, step_of).document["log"]["entries"]:
        of = har_entry.get("_step")
        if failed(har_entry) and up_to_step(of):
            text = _request_text(har_entry)
            requests.append(EvidenceItem("request", of, har_entry["startedDateTime"], text))
    return FailureEvidence(step, _by_relevance(console, step), _by_relevance(requests, step))
