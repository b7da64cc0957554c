"""Runs and results: what is recorded per run, per test case and per step.

A case moves queued -> running -> passed | failed | error | cancelled | flaky
(flaky = passed on a retry after failing). Its final status is written exactly
once (``RunStore.finish_case`` enforces it in Redis), however often Celery
delivers its task.

The status rules are defined here once: which case statuses are final, which
count as a pass, and how a run's status follows from its cases' (``run_status``).
The run store hands the same rules to its Lua scripts (``store.scripts``), so
Redis and Python cannot disagree.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

AttemptStatus = Literal["passed", "failed", "error", "cancelled"]
"""How one attempt at a case ended (a case's status after its last attempt, but ``flaky``)."""
FinalCaseStatus = Literal["passed", "flaky", "failed", "error", "cancelled"]
"""A case's final status: its last attempt's, or ``flaky`` (passed on a retry)."""
CaseStatus = Literal["queued", "running", FinalCaseStatus]
CASE_STATUSES: tuple[CaseStatus, ...] = get_args(CaseStatus)
"""Every case status, in order: queued, running, then the final ones."""
FINAL_STATUSES: frozenset[str] = frozenset(get_args(FinalCaseStatus))
"""Case statuses that end a case; each is recorded once."""
GOOD_STATUSES: frozenset[str] = frozenset({"passed", "flaky"})
"""Final case statuses that count as a pass (exit code 0, pass rate, JUnit)."""
SettledRunStatus = Literal["passed", "failed", "cancelled"]
"""A finished run's status (``run_completed``)."""
RunStatus = Literal["queued", "running", SettledRunStatus]
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
"""Every run status, in order."""
TraceMode = Literal["off", "on", "retain-on-failure", "on-first-retry"]
"""When an attempt's evidence (DOM snapshots, console, network) is captured and kept
(``testfleet.evidence.modes``): per suite and per test (the test's wins), or for a whole run."""
TRACE_MODES: tuple[TraceMode, ...] = get_args(TraceMode)
DEFAULT_TRACE_MODE: TraceMode = "retain-on-failure"
"""Captured for every attempt, kept only for the failed ones."""
RUN_OUTCOMES: tuple[tuple[SettledRunStatus, frozenset[str]], ...] = (
    ("failed", frozenset({"failed", "error"})),
    ("cancelled", frozenset({"cancelled"})),
)
"""A finished run's status: the first of these whose case statuses occur, in order..."""
FAILING_STATUSES: frozenset[str] = dict(RUN_OUTCOMES)["failed"]
"""Final case statuses that are a failed test (``--max-failures`` counts them)."""
RUN_OUTCOME_OTHERWISE: SettledRunStatus = "passed"
"""...else this (every case passed, flaky included)."""
SETTLED_RUN_STATUSES: frozenset[str] = frozenset(
    {RUN_OUTCOME_OTHERWISE, *(status for status, _ in RUN_OUTCOMES)}
)
"""Run statuses after which no case starts any more (a cancelled run's running cases
may still be finishing: ``finishedMs`` says when the run completed)."""
StepStatus = Literal["passed", "failed", "skipped", "optional_failed", "warning"]
"""``warning``: a visual mismatch the model judged cosmetic with high confidence, with
``ai.visual_downgrade_cosmetic`` on (``workers.visual_verdict``): it does not fail the test."""

PRIORITY_LEVELS: dict[str, int] = {"critical": 0, "high": 3, "medium": 6, "low": 9}
"""Test priority -> Celery priority (0 is taken first)."""
OrderMode = Literal["suite", "duration", "failed-first"]
"""How a run's cases are dispatched within each priority class: in the suites' order,
longest expected first (history's P50), or the branch's last failures first and then
longest first (``api.ordering``)."""
ORDER_MODES: tuple[OrderMode, ...] = get_args(OrderMode)
DEFAULT_ORDER: OrderMode = "duration"


StepAnalysisType = Literal["general", "error", "ui_validation"]
"""What a screenshot step's ``analyze:`` may ask (``error``: also what a failure's
screenshot is asked)."""
AnalysisType = Literal[StepAnalysisType, "visual_diff"]
"""What was asked: a ``StepAnalysisType``, or ``visual_diff`` (why a screenshot differs
from its baseline, from the baseline, the actual and the diff)."""
AnalysisStatus = Literal["completed", "skipped", "failed"]
Severity = Literal["critical", "high", "medium", "low", "info"]


class AiIssue(BaseModel):
    """One problem the vision model saw on a screenshot."""

    severity: Severity
    description: str
    location: str | None = None
    """Where on the page (a region, an element, a selector), when the model says."""


class AiCitation(BaseModel):
    """One entry of the browser's evidence a failure analysis cites (``testfleet.evidence``)."""

    kind: Literal["console", "request"]
    """A console error, or a failed request."""
    index: int
    """1-based, as the entries of its kind were numbered in the request (C1, R1, ...)."""
    text: str
    """The entry as the model was shown it (masked; a long one cut)."""


class AiRecommendation(BaseModel):
    """One thing the vision model suggests doing."""

    title: str
    confidence: float = Field(ge=0.0, le=1.0)
    implementation: str = ""


Verdict = Literal["regression", "intended", "uncertain"]
ChangeKind = Literal["text", "color", "layout", "content", "added", "removed", "other"]


class DiffChange(BaseModel):
    """One change the model saw between a baseline and the actual screenshot."""

    kind: ChangeKind
    description: str
    location: str | None = None
    """Where on the page (a region, an element), when the model says."""


class DiffExplanation(BaseModel):
    """The model's account of a visual difference (``visual_diff`` analyses)."""

    changes: list[DiffChange] = Field(default_factory=list)
    verdict: Verdict
    """Whether the change looks like a bug (``regression``) or on purpose (``intended``)."""
    cosmetic: bool
    """The change alters only looks (colour, spacing, fonts), not content or function."""
    confidence: float = Field(ge=0.0, le=1.0)
    """How sure the model is of ``verdict``, 0-1."""


class Analysis(BaseModel):
    """One vision analysis of one screenshot (SPEC section 7), or why there is none.

    A failed or skipped analysis never fails the test: ``status`` and ``reason``
    say what happened instead.
    """

    analysis_type: AnalysisType
    screenshot: str
    """Artifact name of the screenshot analysed."""
    step: int | None = None
    """1-based index of the step whose screenshot it is."""
    status: AnalysisStatus
    reason: str | None = None
    """Why it was skipped or failed (no API key, budget spent, the model's error)."""
    summary: str = ""
    issues: list[AiIssue] = Field(default_factory=list)
    recommendations: list[AiRecommendation] = Field(default_factory=list)
    scores: dict[str, float] = Field(default_factory=dict)
    """Named scores from 0 to 100 (e.g. ``usability``, ``visual_quality``)."""
    explanation: DiffExplanation | None = None
    """``visual_diff`` analyses: what changed, where, and whether it looks intended."""
    citations: list[AiCitation] = Field(default_factory=list)
    """``error`` analyses: the console errors and failed requests the finding rests on."""
    model: str | None = None
    cached: bool = False
    """True when an identical screenshot's earlier analysis was reused (no call made)."""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    """Estimated from the response's usage and the model's price in settings."""


VisualOutcome = Literal["match", "mismatch", "created", "missing"]


class VisualResult(BaseModel):
    """What an ``assert_screenshot`` step compared (``testfleet.visual``)."""

    outcome: VisualOutcome
    """``match``/``mismatch`` against the baseline; ``created``: there was none and this
    screenshot became it; ``missing``: there was none and the run required one (``--ci``)."""
    baseline_id: str
    """The baseline's id within the project (``testfleet baselines show ID``)."""
    baseline_version: int | None = None
    """The version compared against, or the one created."""
    suite: str
    test: str
    name: str
    """The step's name (the baseline's), ``screenshot-N`` for the Nth unnamed one."""
    viewport: str
    """``<width>x<height>`` CSS px when captured."""
    browser: str
    diff_ratio: float = 0.0
    """Changed pixels / all pixels (1.0 when the sizes differ)."""
    changed_px: int = 0
    total_px: int = 0
    region: list[int] | None = None
    """``[x, y, width, height]`` (px of the screenshot) around every changed pixel."""
    size_change: str | None = None
    """``1280x800 -> 1280x840`` when the sizes differ (nothing else is compared then)."""
    threshold: float
    """Per-pixel: a pixel counts as changed when a colour channel moved by more than this
    (0-1 of the channel's range)."""
    max_diff_ratio: float
    """The tolerance: at most this ratio of changed pixels passes."""
    actual: str | None = None
    """Artifact names in the run: the screenshot taken..."""
    baseline: str | None = None
    """...a copy of the baseline it was compared with (mismatches)..."""
    diff: str | None = None
    """...and the changed pixels highlighted over it (mismatches)."""


Impact = Literal["minor", "moderate", "serious", "critical"]
"""axe-core's impact of a violation, least to most severe."""
IMPACTS: tuple[Impact, ...] = get_args(Impact)
ViolationStatus = Literal["new", "accepted", "reported"]
"""``new``: at or above the failing impact and not in the baseline (fails the step);
``accepted``: in the baseline; ``reported``: below the failing impact (never fails)."""


class A11yNode(BaseModel):
    """One element a violation was found on."""

    target: str
    """Its selector, as axe-core gives it (frames and shadow roots joined by `` >> ``)."""
    html: str
    """The element's opening HTML (cut at 500 characters)."""
    summary: str = ""
    """What to fix on it (axe-core's failure summary)."""
    status: ViolationStatus = "new"
    screenshot: str | None = None
    """Artifact name of a screenshot with the element highlighted (the first few nodes)."""


class A11yViolation(BaseModel):
    """One axe-core rule the page breaks, and where."""

    rule: str
    """axe-core's rule id (``color-contrast``, ``image-alt``)."""
    impact: Impact
    description: str
    help: str
    help_url: str
    tags: list[str] = Field(default_factory=list)
    nodes: list[A11yNode] = Field(default_factory=list)


class AccessibilityResult(BaseModel):
    """What an ``assert_accessible`` step found (axe-core, ``workers.executor.accessibility``)."""

    baseline_id: str
    """The accepted violations' baseline within the project (``testfleet baselines``)."""
    baseline_version: int | None = None
    """The baseline compared with (None: there is none, every violation counts)."""
    suite: str
    test: str
    name: str
    """The step's name (the baseline's), ``accessibility-N`` for the Nth unnamed one."""
    browser: str
    url: str
    fail_on: Impact
    """The least impact that fails the step (unless the baseline accepts it)."""
    axe_version: str
    violations: list[A11yViolation] = Field(default_factory=list)
    fixed: list[str] = Field(default_factory=list)
    """Baseline entries (``rule target``) no longer found: fixed since it was approved."""
    new: int = 0
    """How many (rule, element) pairs are ``new``: more than none fails the step."""


PerformanceMetric = Literal[
    "ttfb_ms", "dom_content_loaded_ms", "load_ms", "lcp_ms", "cls", "tbt_ms"
]
PERFORMANCE_METRICS: tuple[PerformanceMetric, ...] = get_args(PerformanceMetric)
"""What ``assert_performance`` measures: time to first byte, DOMContentLoaded and load
(navigation timing, ms from the navigation's start), largest contentful paint (ms),
cumulative layout shift (unitless) and total blocking time (ms)."""


class PerformanceResult(BaseModel):
    """What an ``assert_performance`` step measured: each metric's median over its runs."""

    url: str
    metrics: dict[str, float] = Field(default_factory=dict)
    """Metric -> median value (a metric the browser could not measure is left out)."""
    runs: list[dict[str, float]] = Field(default_factory=list)
    """Each load's values, in order (one entry unless ``runs:`` asked for reloads)."""
    budgets: dict[str, float] = Field(default_factory=dict)
    over: list[str] = Field(default_factory=list)
    """The metrics whose median is over budget."""


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
    visual: VisualResult | None = None
    """``assert_screenshot`` steps: the comparison with the baseline."""
    depth: int = 0
    """How deep inside blocks the step ran (0: a step of the test itself)."""
    parent: int | None = None
    """The ``index`` of the block step it ran in (a ``use`` of a flow, an ``if``, ...)."""
    selector: str | None = None
    """The step's target selector as the test wrote it (``@{name}`` captures unresolved,
    secrets masked); None for a step without one. Failure signatures include it."""
    accessibility: AccessibilityResult | None = None
    """``assert_accessible`` steps: the violations found and how each was judged."""
    performance: PerformanceResult | None = None
    """``assert_performance`` steps: the page's measured speed and its budgets."""


class AttemptSummary(BaseModel):
    """One attempt at a case (retries and redeliveries each make one)."""

    attempt: int
    status: str
    worker: str
    duration_ms: int = 0
    error: str | None = None
    trace: str | None = None
    """Artifact name of this attempt's trace zip, when one was kept (its trace mode)."""


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
    ai: list[Analysis] = Field(default_factory=list)
    """AI findings on this case's screenshots, in the order they were taken."""
    dispatch_position: int | None = None
    """1-based place in which the case was sent to the workers (its run's ``order``)."""
    expected_ms: int | None = None
    """The duration history expected when the case was dispatched (None: unknown)."""

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
"""No control characters: the values are printed in terminals and shown in pages."""


class RunMetadata(BaseModel):
    """Where a run's code came from: what ``testfleet run`` reads from the CI's environment
    (``testfleet.history.ci``) or local git, or what ``--branch`` / ``--commit`` say.
    Every field is optional: a run submitted by hand may have none."""

    model_config = ConfigDict(extra="forbid")

    branch: str | None = Field(
        default=None, min_length=1, max_length=255, pattern=_PRINTABLE, examples=["main"]
    )
    """The branch built (a pull request's source branch)."""
    commit: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{7,64}$", examples=["3816a68e0c4f2b1d"]
    )
    """The commit built, hex (lower case; 7 to 64 digits)."""
    pull_request: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$", examples=["42"])
    """The pull (merge) request's number."""
    ci_provider: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9-]{0,39}$", examples=["github"]
    )
    """github, gitlab, jenkins, circleci, buildkite or azure; None outside CI."""
    build_url: str | None = Field(
        default=None, max_length=2048, pattern=r"^https?://[^\s]+$", examples=["https://ci/b/7"]
    )
    """The CI build's page (http or https only: it is shown as a link)."""
    author: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=_PRINTABLE, examples=["alice"]
    )
    """Who pushed or opened the pull request, as the CI names them."""

    @field_validator("commit", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class Schedule(BaseModel):
    """How a run's cases were dispatched, and the wall time history expected of it."""

    order: OrderMode = "suite"
    max_failures: int | None = None
    """The run stops (queued cases cancelled) at this many failed tests; None: never."""
    worker_slots: int = 1
    """Test cases the live workers could run at once when the run was queued."""
    expected_wall_ms: int | None = None
    """The dispatch order played on ``worker_slots`` with the expected durations."""
    ideal_wall_ms: int | None = None
    """The lower bound: max(expected total / worker_slots, longest expected test)."""
    known: int = 0
    """Cases whose duration history knew (their own or their suite's mean)."""
    picked_from: str | None = None
    """``--last-failed``: the run whose failed tests these are."""


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
    require_baselines: bool = False
    """``--ci``: an ``assert_screenshot`` without a baseline fails instead of creating one."""
    metadata: RunMetadata | None = None
    """Branch, commit, pull request, CI build and author, when the submission said."""
    schedule: Schedule | None = None
    """How the cases were ordered and what wall time that was expected to take."""


class RunFields(BaseModel):
    """What every view of a run says about it."""

    runId: str
    projectId: str
    name: str
    status: RunStatus
    createdMs: int
    """Submission time, Unix epoch milliseconds."""
    finishedMs: int | None = None
    """Completion time (``run_completed``), Unix epoch milliseconds."""


class RunOverview(RunFields):
    """A run without its cases: what listings show (``RunStore.overviews``)."""

    total: int
    counts: dict[str, int]
    """Final cases per status (zero counts left out)."""
    suites: list[str]
    tags: list[str] = Field(default_factory=list)
    """The tag filter the run was submitted with."""
    caseTags: list[str] = Field(default_factory=list)
    """Every tag of every case (sorted; filled only when asked for)."""


class RunHead(BaseModel):
    """Who owns a run and whether it is over: what ownership checks read."""

    runId: str
    projectId: str
    finishedMs: int | None = None


class RunResult(RunFields):
    """A run with every case: what ``GET /runs/{id}`` and ``run --json`` give."""

    counts: dict[str, int]
    tests: list[CaseResult]
    metadata: RunMetadata | None = None
    """Branch, commit, pull request, CI build and author, when the submission said."""
    schedule: Schedule | None = None
    """How the cases were ordered and the wall time expected (``RunRecord.schedule``)."""
    stopReason: str | None = None
    """Why the run stopped before its queued cases ran (``--max-failures``), if it did."""


def finished_run_status(counts: dict[str, int]) -> SettledRunStatus:
    """The status of a run whose cases are all final, from their per-status counts."""
    for status, case_statuses in RUN_OUTCOMES:
        if any(counts.get(s, 0) for s in case_statuses):
            return status
    return RUN_OUTCOME_OTHERWISE


def run_status(
    counts: dict[str, int], total: int, cancelled: bool, started: bool = False
) -> RunStatus:
    """A run's status from its per-status case counts (``total`` cases in all).

    Until every case is final: ``cancelled`` once cancel was asked, ``running``
    once a case began (``started``, a final or a ``running`` count), else
    ``queued``.
    """
    final = sum(counts.get(s, 0) for s in FINAL_STATUSES)
    if final < total:
        if cancelled:
            return "cancelled"
        return "running" if final or started or counts.get("running") else "queued"
    return finished_run_status(counts)
