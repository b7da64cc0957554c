"""The event model: what every step, test and run transition publishes.

An event travels as one Redis stream entry whose id is the event ``id`` and the
resume cursor. The entry holds the envelope as JSON *without* its id (the id is
only known once Redis assigns it); readers splice the id in front, so the wire
form is built without re-encoding the payload::

    {"id": "1732233600000-0", "type": "test_progress", "timestamp": 1732233600000,
     "correlationId": "<case id>", "runId": "...", "projectId": "...",
     "payload": {...}, "metadata": {"source": "worker@host", "priority": "normal"}}
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

Channel = Literal["test_execution", "ai_analysis", "dashboard_metrics", "system_events"]

CHANNEL_TYPES: dict[str, tuple[str, ...]] = {
    "test_execution": (
        "run_started",
        "test_started",
        "test_progress",
        "test_completed",
        "test_failed",
        "test_cancelled",
        "run_completed",
    ),
    "ai_analysis": (
        "ai_analysis_started",
        "ai_analysis_progress",
        "ai_analysis_completed",
        "ai_recommendation",
    ),
    "dashboard_metrics": ("metrics_update", "alert_triggered"),
    "system_events": ("service_status_change", "quota_warning", "system_maintenance"),
}
CHANNELS: tuple[str, ...] = tuple(CHANNEL_TYPES)
TYPE_CHANNEL: dict[str, str] = {t: c for c, types in CHANNEL_TYPES.items() for t in types}
FINAL_TYPES = frozenset({"test_completed", "test_failed", "test_cancelled"})


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Event:
    """An event before it is published (no id yet) or after it is read (with its id)."""

    type: str
    run_id: str
    project_id: str
    payload: dict[str, Any]
    correlation_id: str | None = None
    source: str = "testfleet"
    priority: str = "normal"
    timestamp_ms: int = 0
    id: str | None = None

    def __post_init__(self) -> None:
        if self.type not in TYPE_CHANNEL:
            raise ValueError(f"unknown event type {self.type!r}")

    @property
    def channel(self) -> str:
        return TYPE_CHANNEL[self.type]

    def envelope(self) -> dict[str, Any]:
        """The envelope without ``id``, as stored on the stream."""
        return {
            "type": self.type,
            "timestamp": self.timestamp_ms or now_ms(),
            "correlationId": self.correlation_id,
            "runId": self.run_id,
            "projectId": self.project_id,
            "payload": self.payload,
            "metadata": {"source": self.source, "priority": self.priority},
        }

    def body(self) -> str:
        """The stored JSON (envelope without id)."""
        return json.dumps(self.envelope(), separators=(",", ":"))

    @classmethod
    def from_wire(cls, message: dict[str, Any]) -> Event:
        """An event from its wire form (as the gateway sends it)."""
        meta = message.get("metadata") or {}
        return cls(
            type=message["type"],
            run_id=message.get("runId") or "",
            project_id=message.get("projectId") or "",
            payload=message.get("payload") or {},
            correlation_id=message.get("correlationId"),
            source=meta.get("source", ""),
            priority=meta.get("priority", "normal"),
            timestamp_ms=int(message.get("timestamp") or 0),
            id=message.get("id"),
        )


def wire_json(event_id: str, body: str) -> str:
    """The wire form of a stored entry: its body with the id spliced in first."""
    return f'{{"id":"{event_id}",{body[1:]}'


def id_tuple(event_id: str) -> tuple[int, int]:
    """A stream id as a comparable tuple (``"5-1"`` -> ``(5, 1)``)."""
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def is_stream_id(text: str) -> bool:
    """Whether ``text`` is a Redis stream id (``<ms>-<seq>`` or ``<ms>``)."""
    ms, _, seq = text.partition("-")
    return ms.isdigit() and (seq == "" or seq.isdigit()) and len(ms) <= 20 and len(seq) <= 20
