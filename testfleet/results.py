"""Runs and results: what is recorded per run, per test case and per step.

A case moves queued -> running -> passed | failed | error | cancelled | flaky
(flaky = passed on a retry after failing). Its final status is written exactly
once (``RunStore.finish_case`` enforces it in Redis), however often Celery
delivers its task.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

CaseStatus = Literal["queued", "running", "passed", "failed", "error", "cancelled", "flaky"]
FINAL_STATUSES: frozenset[str] = frozenset({"passed", "failed", "error", "cancelled", "flaky"})
GOOD_STATUSES: frozenset[str] = frozenset({"passed", "flaky"})
RunStatus = Literal["queued", "running", "passed", "failed", "cancelled"]
StepStatus = Literal["passed", "failed", "skipped", "optional_failed"]

PRIORITY_LEVELS: dict[str, int] = {"critical": 0, "high": 3, "medium": 6, "low": 9}
"""Test priority -> Celery priority (0 is taken first)."""


class StepResult(BaseModel):
    """What one step did in one attempt."""

    index: int
    """1-based position in the test."""
    label: str
    step_type: str
    status: StepStatus
    duration_ms: int = 0
    error: str | None = None
    screenshot: str | None = None
    """Artifact name of the screenshot the step took (screenshot steps, failures)."""


class AttemptSummary(BaseModel):
    """One attempt at a case (retries and redeliveries each make one)."""

    attempt: int
    status: str
    worker: str
    duration_ms: int = 0
    error: str | None = None


class CaseResult(BaseModel):
    """A test case's state and result within a run (secrets already masked)."""

    case_id: str
    run_id: str
    suite: str
    name: str
    tags: list[str] = Field(default_factory=list)
    priority: str = "medium"
    status: CaseStatus = "queued"
    attempts: int = 0
    retry_count: int = 0
    worker: str | None = None
    started_ms: int | None = None
    finished_ms: int | None = None
    duration_ms: int = 0
    steps: list[StepResult] = Field(default_factory=list)
    total_steps: int = 0
    error: str | None = None
    failed_step: int | None = None
    """1-based index of the step that failed the test."""
    artifacts: list[str] = Field(default_factory=list)
    history: list[AttemptSummary] = Field(default_factory=list)
    ai: list[dict[str, Any]] = Field(default_factory=list)
    """AI findings on this case's screenshots."""

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class RunRecord(BaseModel):
    """A run's own fields (what ``tf:run:<id>`` ``meta`` holds)."""

    run_id: str
    project_id: str
    name: str
    suites: list[str]
    created_ms: int
    submitted_by: str | None = None
    tags: list[str] = Field(default_factory=list)
    total: int


class RunResult(BaseModel):
    """A run with every case: what ``GET /runs/{id}`` and ``run --json`` give."""

    runId: str
    projectId: str
    name: str
    status: RunStatus
    createdMs: int
    finishedMs: int | None = None
    counts: dict[str, int]
    tests: list[CaseResult]


def run_status(counts: dict[str, int], total: int, cancelled: bool) -> RunStatus:
    """A run's status from its per-status case counts."""
    final = sum(counts.get(s, 0) for s in FINAL_STATUSES)
    if final < total:
        if cancelled:
            return "cancelled"
        return "running" if final or counts.get("running") else "queued"
    if counts.get("failed", 0) or counts.get("error", 0):
        return "failed"
    if counts.get("cancelled", 0):
        return "cancelled"
    return "passed"
