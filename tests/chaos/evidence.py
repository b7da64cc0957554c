"""What a chaos run did, read from evidence: the run's own event stream, never assumptions.

Every delivery of a case publishes ``test_started`` and ``test_progress`` with its
attempt number and its process (``metadata.source``, ``node:pid``), and the one
that finishes it publishes the final event with its last attempt. From those:

- **lost**: a submitted case with no final status once the run should be over;
- **duplicate finals**: a case's final event more than once, or ``run_completed``
  more than once;
- **run twice at once**: two deliveries of one case whose activity overlaps: the
  earlier one published something after the later one started. A delivery killed
  mid-step publishes nothing more, so a dead one never counts; a live one that
  kept going would be seen at its next step (steps here last seconds);
- **recovery**: from the fault to the affected case's final event.

``record`` keeps each fault's figures for the table ``make chaos`` prints
(``tests/chaos/conftest.py``).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass
from typing import Any

import redis

from testfleet import keys
from testfleet.events import FINAL_TYPES
from testfleet.settings import Settings

RECOVERY_MARGIN_S = 10.0
"""The goal: recovery within one lease period plus this."""

RECORDED: list[Figures] = []
"""Figures of every fault run in this session, in order."""


@dataclass
class Figures:
    """One fault's row in the table."""

    fault: str
    submitted: int
    completed: int
    lost: int
    twice_at_once: int
    duplicate_finals: int
    recovery_s: float | None
    """Max over the affected cases, from the fault to the case's final event (s)."""
    affected: int
    """Cases the fault hit (running on what was killed, interrupted, ...)."""
    note: str = ""

    def row(self) -> dict[str, Any]:
        return asdict(self)


def run_events(client: redis.Redis, run_id: str) -> list[dict[str, Any]]:
    """A run's events in stream order, with their ids."""
    entries: list[Any] = client.xrange(keys.run_events(run_id))
    events = []
    for entry_id, fields in entries:
        data = fields[b"d"] if b"d" in fields else fields["d"]
        events.append({"id": _text(entry_id), **json.loads(data)})
    return events


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class Delivery:
    """One attempt of one case by one process, as its events show it."""

    case_id: str
    attempt: int
    source: str
    first_ms: int
    last_ms: int


def deliveries(events: list[dict[str, Any]]) -> list[Delivery]:
    """Every (case, attempt) seen, with its first and last event times."""
    found: dict[tuple[str, int], Delivery] = {}
    for event in events:
        payload = event.get("payload") or {}
        if event["type"] in ("test_started", "test_progress"):
            attempt = payload.get("attempt")
        elif event["type"] in FINAL_TYPES:
            attempt = payload.get("attempts")
        else:
            continue
        case_id = event.get("correlationId")
        if not case_id or not isinstance(attempt, int) or attempt < 1:
            continue  # a case cancelled while queued: no delivery ran it
        at = int(event["timestamp"])
        source = str((event.get("metadata") or {}).get("source", "?"))
        seen = found.get((case_id, attempt))
        if seen is None:
            found[(case_id, attempt)] = Delivery(case_id, attempt, source, at, at)
        else:
            seen.first_ms, seen.last_ms = min(seen.first_ms, at), max(seen.last_ms, at)
    return sorted(found.values(), key=lambda d: (d.case_id, d.first_ms))


def overlapping_cases(events: list[dict[str, Any]]) -> list[str]:
    """Cases two of whose deliveries were active at the same time."""
    by_case: dict[str, list[Delivery]] = {}
    for delivery in deliveries(events):
        by_case.setdefault(delivery.case_id, []).append(delivery)
    twice = []
    for case_id, runs in by_case.items():
        for earlier, later in itertools.pairwise(runs):
            if earlier.source != later.source and earlier.last_ms > later.first_ms:
                twice.append(case_id)
                break
    return twice


def analyse(
    fault: str,
    events: list[dict[str, Any]],
    submitted: list[str],
    faults_ms: dict[str, int],
    note: str = "",
) -> Figures:
    """The figures of one run: ``faults_ms`` maps each affected case to its fault's time."""
    finals: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["type"] in FINAL_TYPES and event.get("correlationId"):
            finals.setdefault(event["correlationId"], []).append(event)
    completed = [case for case in submitted if finals.get(case)]
    duplicates = sum(len(f) - 1 for f in finals.values())
    duplicates += max(0, [e["type"] for e in events].count("run_completed") - 1)
    recoveries = [
        (int(finals[case][0]["timestamp"]) - at) / 1000
        for case, at in faults_ms.items()
        if finals.get(case)
    ]
    return Figures(
        fault=fault,
        submitted=len(submitted),
        completed=len(completed),
        lost=len(submitted) - len(completed),
        twice_at_once=len(overlapping_cases(events)),
        duplicate_finals=duplicates,
        recovery_s=round(max(recoveries), 1) if recoveries else None,
        affected=len(faults_ms),
        note=note,
    )


def record(figures: Figures) -> Figures:
    """Keep ``figures`` for the session's table, and return them."""
    RECORDED.append(figures)
    return figures


def assert_goals(figures: Figures, settings: Settings | None = None) -> None:
    """0 lost, 0 run twice at once, 0 duplicate finals, recovery within a lease + 10 s."""
    lease_s = (settings or Settings()).worker.lease_s
    assert figures.lost == 0, f"cases lost: {figures}"
    assert figures.twice_at_once == 0, f"cases run twice at once: {figures}"
    assert figures.duplicate_finals == 0, f"duplicate final statuses: {figures}"
    if figures.recovery_s is not None:
        limit_s = lease_s + RECOVERY_MARGIN_S
        assert figures.recovery_s <= limit_s, f"recovery over {limit_s:g} s: {figures}"
