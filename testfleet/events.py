"""The event model: what every step, test and run transition publishes.

The event types and their channels, and ``Event``: one event before it is
published or after it is read. How an event is written on the stream and what
clients receive is ``testfleet.stream``'s; each type's payload is a model of
``testfleet.payloads``.
"""

from __future__ import annotations

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
        "run_labels",
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
