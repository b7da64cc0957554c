"""``trace.json``: what one attempt's trace holds, and where in its zip (format version 1).

Field names are camelCase, like the event payloads. Times are epoch milliseconds of the
worker's clock; the console and network entries carry the browser node's, which is the
same machine's clock on a one-host fleet (see ``recorder`` for how entries are split
into steps).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CONSOLE_MEMBER",
    "HAR_MEMBER",
    "INDEX_MEMBER",
    "MANIFEST_MEMBER",
    "TRACE_FORMAT_VERSION",
    "Counts",
    "Manifest",
    "TraceStep",
    "screenshot_member",
    "snapshot_member",
]

TRACE_FORMAT_VERSION = 1
MANIFEST_MEMBER = "trace.json"
HAR_MEMBER = "trace.har"
CONSOLE_MEMBER = "console.jsonl"
INDEX_MEMBER = "index.html"
SNAPSHOTS_DIR = "snapshots/"
SCREENSHOTS_DIR = "screenshots/"


def snapshot_member(step: int, when: str) -> str:
    """A step's snapshot in the zip: ``snapshots/<iii>-before.html`` or ``-after.html``."""
    return f"{SNAPSHOTS_DIR}{step:03d}-{when}.html"


def screenshot_member(artifact: str) -> str:
    """A screenshot in the zip, by its artifact name: ``screenshots/<name>``."""
    return SCREENSHOTS_DIR + artifact


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class TraceStep(_Model):
    """One result row of the attempt (a block's row too), with its evidence."""

    index: int
    """1-based, as the step's row in the results."""
    name: str
    type: str
    status: str
    depth: int = 0
    parent: int | None = None
    startedAt: int | None = None
    endedAt: int | None = None
    """None for a step that never ran."""
    error: str | None = None
    screenshot: str | None = None
    snapshotBefore: str | None = None
    snapshotAfter: str | None = None
    consoleErrors: int = 0
    failedRequests: int = 0


class Counts(_Model):
    """Totals of the attempt."""

    console: int = 0
    consoleErrors: int = 0
    requests: int = 0
    failedRequests: int = 0


class Manifest(_Model):
    """``trace.json``."""

    version: int = TRACE_FORMAT_VERSION
    runId: str
    caseId: str
    testName: str
    attempt: int
    mode: str
    status: str
    startedAt: int
    endedAt: int
    steps: list[TraceStep] = Field(default_factory=list)
    counts: Counts = Field(default_factory=Counts)

    def dump(self) -> dict[str, Any]:
        """The JSON object ``trace.json`` holds."""
        return self.model_dump(mode="json")
