"""The shapes of the API's requests and answers (what the OpenAPI documents)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from testfleet.results import OrderMode, RunMetadata, RunResult, TraceMode


class TestRef(BaseModel):
    """A test by suite and test name, as its run reports it."""

    model_config = ConfigDict(extra="forbid")

    suite: str = Field(min_length=1)
    test: str = Field(min_length=1)


class LastFailed(BaseModel):
    """The tests that failed in a branch's latest run of some suites."""

    runId: str | None = Field(description="The run they come from; null: no such run")
    branch: str
    tests: list[TestRef] = Field(default_factory=list)


class RunRequest(BaseModel):
    """``POST /api/v1/runs`` as JSON; a raw YAML/JSON suite body is the other way."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "suites": [
                        {
                            "name": "Login",
                            "base_url": "http://localhost:8000",
                            "tests": [
                                {
                                    "name": "valid login",
                                    "tags": ["smoke"],
                                    "steps": [
                                        {"navigate": "/login"},
                                        {"type": {"selector": "#user", "text": "alice"}},
                                        {"click": "button[type=submit]"},
                                    ],
                                }
                            ],
                        }
                    ],
                    "name": "nightly",
                    "tags": ["smoke"],
                    "variables": {"LOGIN_PASSWORD": "s3cret"},
                    "metadata": {
                        "branch": "feature/login",
                        "commit": "3816a68e0c4f2b1d9a7c5e3f1b2d4c6e8a0f1e2d",
                        "pull_request": "42",
                        "ci_provider": "github",
                        "build_url": "https://github.com/acme/shop/actions/runs/7",
                        "author": "alice",
                    },
                }
            ]
        },
    )

    suites: list[dict[str, Any] | str] = Field(
        min_length=1,
        description="Suite documents (canonical or short form), or suite files' text (YAML/JSON)",
    )
    name: str | None = Field(default=None, max_length=200, description="The run's name")
    tags: list[str] = Field(
        default_factory=list, description="Run only tests carrying one of these tags (all if empty)"
    )
    variables: dict[str, str] = Field(
        default_factory=dict, description="Values for ${VAR} in the suites (nothing else is read)"
    )
    sources: list[str] | None = Field(
        default=None, description="One file name per suite, for error messages"
    )
    require_baselines: bool = Field(
        default=False,
        description="CI mode (`testfleet run --ci`): an assert_screenshot without a baseline "
        "fails instead of recording one",
    )
    trace: TraceMode | None = Field(
        default=None,
        description="Trace mode of every test of the run (`testfleet run --trace`); unset: "
        "each test's own `trace`, else its suite's, else retain-on-failure",
    )
    metadata: RunMetadata | None = Field(
        default=None,
        description="Where the code under test came from (branch, commit, pull request, CI "
        "provider, build URL, author): kept with the run for its history; `testfleet run` "
        "reads it from the CI's environment or local git",
    )
    order: OrderMode | None = Field(
        default=None,
        description="How cases are dispatched within each priority class: `suite`, "
        "`duration` (longest expected first, from history) or `failed-first` (the branch's "
        "last failures first); unset: the suites' `order`, else `duration`",
    )
    max_failures: int | None = Field(
        default=None,
        ge=1,
        description="Stop the run at this many failed tests (flaky ones do not count): "
        "queued cases are cancelled, running ones stop at their next step; unset: the "
        "suites' `max_failures`, else never",
    )
    only: list[TestRef] | None = Field(
        default=None,
        description="Run just these tests of the suites (`testfleet run --last-failed`)",
    )
    picked_from: str | None = Field(
        default=None,
        max_length=64,
        description="The run `only` was taken from (kept in the run's schedule)",
    )


class RunLinks(BaseModel):
    """Where to follow and fetch a run."""

    self: str = Field(examples=["/api/v1/runs/20261122-020000-a1b2c3"])
    events: str = Field(description="SSE stream of the run's events (gateway)")
    websocket: str = Field(description="WebSocket stream of the run's events (gateway)")
    report: str
    junit: str
    dashboard: str | None = Field(default=None, description="The run's live dashboard page")


class RunSubmitted(BaseModel):
    """A run was accepted and every case queued."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "runId": "20261122-020000-a1b2c3",
                    "status": "queued",
                    "total": 12,
                    "links": {
                        "self": "/api/v1/runs/20261122-020000-a1b2c3",
                        "events": "http://127.0.0.1:8701/sse/events?runId=20261122-020000-a1b2c3",
                        "websocket": "ws://127.0.0.1:8701/ws/events/20261122-020000-a1b2c3",
                        "report": "/api/v1/runs/20261122-020000-a1b2c3/report.html",
                        "junit": "/api/v1/runs/20261122-020000-a1b2c3/junit.xml",
                    },
                }
            ]
        }
    )

    runId: str = Field(examples=["20261122-020000-a1b2c3"])
    status: Literal["queued"]
    total: int = Field(description="Test cases queued")
    links: RunLinks


class RunSummary(BaseModel):
    """One run in a listing (no per-case detail: GET the run for that)."""

    runId: str
    name: str
    status: str = Field(examples=["running"])
    createdMs: int = Field(description="Submission time, Unix epoch milliseconds")
    finishedMs: int | None = Field(description="Completion time, Unix epoch milliseconds")
    total: int
    counts: dict[str, int] = Field(description="Cases per status (zero counts left out)")
    suites: list[str]
    tags: list[str] = Field(description="The tag filter the run was submitted with")
    links: dict[str, str]


class RunList(BaseModel):
    """A page of the project's runs, newest first."""

    runs: list[RunSummary]
    nextCursor: str | None = Field(
        default=None, description="Pass as ?cursor= for the next page; null on the last page"
    )


class RunDetail(RunResult):
    """A run with every case: status, attempts, per-step timings, errors, artifacts, AI findings."""

    links: RunLinks


class Cancelled(BaseModel):
    """What a cancel did."""

    runId: str
    cancelled: int = Field(
        description="Queued cases cancelled now (running ones stop at their next step)"
    )
    status: str
    counts: dict[str, int]


class WorkerInfo(BaseModel):
    """One live worker (from its last heartbeat)."""

    name: str = Field(examples=["tfworker-123@host"])
    host: str
    pid: int
    concurrency: int = Field(description="Test cases it can run at once")
    busy: int = Field(description="Test cases it is running now")
    started_ms: int = Field(description="When it started, Unix epoch milliseconds")
    beat_ms: int = Field(description="Its last heartbeat, Unix epoch milliseconds")
    active: list[str] = Field(description="Ids of the cases it is running")


class GridInfo(BaseModel):
    """The Selenium Grid's browser slots (null figures when it cannot be reached)."""

    reachable: bool
    error: str | None = Field(description="Why the Grid could not be read")
    total_slots: int | None = None
    free_slots: int | None = None
    queue_size: int | None = Field(default=None, description="New-session requests waiting")
    nodes_up: int | None = None


class FleetAnswer(BaseModel):
    """The fleet now: workers, Grid slots, queue depth."""

    workers: list[WorkerInfo]
    worker_count: int
    worker_slots: int = Field(description="Cases the live workers can run at once")
    busy_workers: int = Field(description="Cases being run now")
    queue_depth: int = Field(description="Cases queued, not yet taken by a worker (all projects)")
    grid: GridInfo
