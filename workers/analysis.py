"""Vision analysis of a finished attempt's screenshots, in the worker, with cost control.

``analyze_attempt`` is called once per case just before its final result is
recorded. It analyses every screenshot step with ``analyze:`` (its type), the
failure screenshot of a failing test (type ``error``, with the failing step and
its error as context, and the browser's console errors and failed requests up to that
step when the attempt's trace mode captured them: ``testfleet.ai.evidence``, capped at
``ai.max_evidence_chars``; the finding may cite them) and every visual mismatch (type
``visual_diff``: the baseline, the actual screenshot and the diff, asking what changed
and whether it looks intended), and returns one ``Analysis`` per screenshot. Nothing here fails
the test: every problem becomes ``Analysis(status="failed"|"skipped",
reason=...)``.

Cost control, shared by all workers through Redis (keys in ``testfleet.keys``):

- cache: sha256 of (prepared image bytes, type, model, prompt version, detail; an
  ``error`` analysis's error and browser evidence as sent) -> the analysis, for
  ``ai.cache_ttl_s``; a hit is ``cached=True`` and no call.
  The same picture asked the same question is answered once, whichever step, test
  or run meets it: the context (test and step names) goes into the prompt, not the
  key, except an ``error`` analysis's error and evidence, which change the question. One
  worker claims a digest (``ai_pending``) while it asks; others meeting the same
  image wait for its answer, and claim it themselves only if it fails.
- budget: per run, tokens and estimated USD from each response's ``usage``
  (``ai_usage``); at ``ai.run_budget_usd`` / ``ai.run_budget_tokens`` further
  analyses are skipped and one ``quota_warning`` is published. Per project and UTC
  day the same (``project_ai_usage``, ``ai.project_daily_budget_*``), so many runs
  cannot add up to unbounded spend: past it the project's analyses are skipped until
  00:00 UTC, with one ``quota_warning`` per run saying when it resets; the runs
  themselves go on. The checks are made before each call, so concurrent calls can
  overshoot by at most their own cost.
- concurrency: at most ``ai.max_concurrent`` requests in flight (``AI_SLOTS``,
  leases that expire, so a killed worker cannot hold a slot for ever).

Events of the case (``correlationId`` = case id), each payload built as its model
of ``testfleet.payloads``, which says what it carries:

- ``ai_analysis_started`` (``AiAnalysisStarted``), per screenshot;
- ``ai_analysis_progress`` (``AiAnalysisProgress``): what the analysis waits for;
- ``ai_analysis_completed`` (``AiAnalysisCompleted``): the findings, or why none;
- ``ai_recommendation`` (``AiRecommendationEvent``), one per suggestion;
- ``quota_warning`` (``QuotaWarning``, system_events), once per run and budget.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from pydantic import ValidationError

from testfleet import keys, logs
from testfleet.ai.evidence import ShownEvidence, cited, show_evidence
from testfleet.ai.image import PreparedImage, prepare_image
from testfleet.ai.model import NO_KEY, AiModel, cost_usd, has_key
from testfleet.ai.prompts import PROMPT_VERSION
from testfleet.errors import AiError, TestfleetError
from testfleet.events import Event
from testfleet.evidence.failure import FailureEvidence
from testfleet.evidence.recorder import TraceRecorder
from testfleet.masking import Masker
from testfleet.payloads import (
    AiAnalysisCompleted,
    AiAnalysisProgress,
    AiAnalysisStarted,
    AiEvent,
    AiRecommendationEvent,
    AiStage,
    CaseEvent,
    Payload,
    QuotaWarning,
)
from testfleet.results import (
    AiIssue,
    AiRecommendation,
    Analysis,
    AnalysisType,
    DiffChange,
    DiffExplanation,
    StepResult,
    VisualResult,
)
from testfleet.settings import Settings
from testfleet.suites.model import CaseSpec

log = logs.get_logger(__name__)

PENDING_POLL_S = 0.2
"""How often a worker waiting for another's analysis of the same image looks again."""
PROJECT_DAY_TTL_S = 2 * 86_400
"""How long a project's daily AI spend is kept (past its day, so a late call still counts)."""

_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Spend:
    """AI use counted in a Redis hash (a run's, or a project's day)."""

    tokens: int
    cost_usd: float

    @classmethod
    def of(cls, usage: Mapping[str, str]) -> Spend:
        tokens = int(usage.get("input_tokens", 0) or 0) + int(usage.get("output_tokens", 0) or 0)
        return cls(tokens, float(usage.get("cost_usd", 0) or 0))

    def reaches(self, budget_usd: float, budget_tokens: int) -> bool:
        """Whether this spend is at a budget (0 = no cap on that measure)."""
        return (budget_usd > 0 and self.cost_usd >= budget_usd) or (
            budget_tokens > 0 and self.tokens >= budget_tokens
        )


def utc_day(now: datetime) -> str:
    """The UTC day ``now`` falls in (``YYYYMMDD``): the key of a project's daily spend."""
    return now.astimezone(UTC).strftime("%Y%m%d")


def next_utc_midnight(now: datetime) -> datetime:
    """When the project's daily budget of ``now``'s UTC day resets."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)


@dataclass(frozen=True)
class Shot:
    """One screenshot to analyse."""

    step: int
    screenshot: str
    analysis_type: AnalysisType
    context: str
    """Said to the model with the image (test, step); not part of the cache key."""
    error: str | None = None
    """``error`` analyses: the step's error, which is part of the question (and the key)."""
    images: tuple[str, ...] = ()
    """The artifacts sent, in order, when not just ``screenshot`` (``visual_diff``:
    baseline, actual, diff)."""
    evidence: ShownEvidence | None = None
    """``error`` analyses: the browser's evidence of the failure as sent (part of the key)."""

    @property
    def sent(self) -> tuple[str, ...]:
        return self.images or (self.screenshot,)


def shots_to_analyze(
    spec: CaseSpec,
    steps: list[StepResult],
    evidence: Mapping[int, FailureEvidence] | None = None,
    max_evidence_chars: int = 0,
) -> list[Shot]:
    """Screenshots of ``steps`` that ask for analysis, and the failure screenshot (error)
    with its step's ``evidence`` (by step index; none when the attempt captured none)
    shown in at most ``max_evidence_chars``."""
    shots: list[Shot] = []
    mask = Masker(spec.secrets)  # labels and errors are masked already; the name may not be
    by_index = {i: s for i, s in enumerate(spec.test.steps, 1)}
    for result in steps:
        step = by_index.get(result.index)
        if result.screenshot is None or step is None:
            continue
        visual = result.visual
        if result.status == "failed" and visual is not None:
            if visual.outcome == "mismatch" and visual.baseline and visual.diff:
                shots.append(_diff_shot(spec, result, visual, mask))
            continue  # a missing baseline, or not: true, has nothing for the model to explain
        if result.status == "failed":
            context = (
                f"Test: {spec.test.name}\nFailing step {result.index}: {result.label} "
                f"({result.step_type})\nError: {result.error}"
            )
            error = mask(result.error or "")
            found = (evidence or {}).get(result.index)
            shown = show_evidence(found, max_evidence_chars) if found is not None else None
            shots.append(
                Shot(
                    result.index,
                    result.screenshot,
                    "error",
                    mask(context),
                    error=error,
                    evidence=shown,
                )
            )
        elif step.analyze is not None:
            context = f"Test: {spec.test.name}\nStep {result.index}: {result.label}"
            shots.append(Shot(result.index, result.screenshot, step.analyze, mask(context)))
    return shots


def _diff_shot(spec: CaseSpec, result: StepResult, visual: VisualResult, mask: Masker) -> Shot:
    region = visual.region or [0, 0, 0, 0]
    context = (
        f"Test: {spec.test.name}\nStep {result.index}: {result.label} (baseline "
        f'"{visual.name}", viewport {visual.viewport})\n{visual.changed_px} of '
        f"{visual.total_px} px differ ({visual.diff_ratio:.2%}), within x={region[0]} "
        f"y={region[1]} {region[2]}x{region[3]}"
        + (f"; size changed {visual.size_change}" if visual.size_change else "")
    )
    assert visual.baseline is not None
    assert visual.diff is not None
    assert visual.actual is not None
    images = (visual.baseline, visual.actual, visual.diff)
    return Shot(result.index, visual.actual, "visual_diff", mask(context), images=images)


class Analyzer:
    """Analyses screenshots for one case, publishing its progress as events."""

    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        publish: Callable[[Event], object],
        event: Callable[[str, Payload], Event],
        model: AiModel | None = None,
        *,
        case: CaseEvent,
    ) -> None:
        """``event(type, payload)`` makes an event of the case (ids and source filled in);
        ``case``: the ids every payload about the case carries."""
        self.settings = settings
        self.r = client
        self.publish = publish
        self.event = event
        self.model = model
        self.case = case
        self._acquire = client.register_script(_ACQUIRE)

    def analyze(
        self,
        run_id: str,
        shots: list[Shot],
        read: Callable[[str], bytes],
        project: str | None = None,
    ) -> list[Analysis]:
        """One ``Analysis`` per shot, in order; never raises for the model's failures.

        ``project``: whose daily budget the spend counts against and is checked with
        (None: only the run's budget, for tools that analyse outside any project)."""
        return [self._one(run_id, project, shot, read) for shot in shots]

    def _about(self, shot: Shot) -> dict[str, Any]:
        """The fields every payload about ``shot``'s analysis starts with (``AiEvent``'s)."""
        about = AiEvent(
            **self.case.dump(),
            analysisType=shot.analysis_type,
            screenshot=shot.screenshot,
            step=shot.step,
        )
        return about.dump()

    def _emit(self, type_: str, payload: Payload) -> None:
        self.publish(self.event(type_, payload))

    def _progress(self, shot: Shot, stage: AiStage, detail: str | None = None) -> None:
        progress = AiAnalysisProgress(**self._about(shot), stage=stage, detail=detail)
        self._emit("ai_analysis_progress", progress)

    def _one(
        self, run_id: str, project: str | None, shot: Shot, read: Callable[[str], bytes]
    ) -> Analysis:
        self._emit("ai_analysis_started", AiAnalysisStarted(**self._about(shot)))
        base = Analysis(
            analysis_type=shot.analysis_type,
            screenshot=shot.screenshot,
            step=shot.step,
            status="skipped",
            model=self.settings.ai.model,
        )
        try:
            result = self._analysis(run_id, project, shot, read, base)
        except (TestfleetError, OSError) as exc:
            result = base.model_copy(update={"status": "failed", "reason": str(exc)})
        except Exception as exc:  # the test must not fail because its analysis did
            log.exception("analysis of %s failed", shot.screenshot)
            reason = f"analysis failed inside the worker: {type(exc).__name__}: {exc}"
            result = base.model_copy(update={"status": "failed", "reason": reason})
        self._completed(shot, result)
        return result

    def _completed(self, shot: Shot, a: Analysis) -> None:
        top = max((r.confidence for r in a.recommendations), default=None)
        about = self._about(shot)
        completed = AiAnalysisCompleted(
            **about,
            status=a.status,
            reason=a.reason,
            summary=a.summary,
            issues=a.issues,
            cached=a.cached,
            model=a.model,
            inputTokens=a.input_tokens,
            outputTokens=a.output_tokens,
            costUsd=a.cost_usd,
            confidence=a.explanation.confidence if a.explanation else top,
            explanation=a.explanation,
            citations=a.citations,
        )
        self._emit("ai_analysis_completed", completed)
        for rec in a.recommendations:
            recommended = AiRecommendationEvent(
                **about,
                title=rec.title,
                confidence=rec.confidence,
                implementation=rec.implementation,
            )
            self._emit("ai_recommendation", recommended)

    def _analysis(
        self,
        run_id: str,
        project: str | None,
        shot: Shot,
        read: Callable[[str], bytes],
        base: Analysis,
    ) -> Analysis:
        if self.model is None or not has_key(self.settings):
            return base.model_copy(update={"reason": NO_KEY})
        ai = self.settings.ai
        images = [
            prepare_image(
                read(name), ai.image_max_side_px, ai.image_format, ai.image_quality, ai.image_detail
            )
            for name in shot.sent
        ]
        digest = cache_digest(images, shot, ai.model)
        lease_s = int(ai.request_timeout_s * ai.max_attempts + ai.backoff_max_s * ai.max_attempts)
        deadline = time.monotonic() + ai.slot_wait_s
        while True:
            cached = self._cached(digest, shot, deadline)
            if cached is not None:
                return self._hit(run_id, shot, digest, cached)
            # Claim the digest so other workers wait for this answer instead of paying again;
            # lost the race for it: wait for the winner's answer (or its failure) instead.
            claimed = bool(self.r.set(keys.ai_pending(digest), "1", nx=True, ex=max(1, lease_s)))
            if claimed or time.monotonic() >= deadline:
                break
        try:
            over = self._over_budget(run_id, project)
            if over is not None:
                return base.model_copy(update={"reason": over})
            result = self._call(run_id, project, shot, images, base)
            if result.status == "completed":
                self.r.set(keys.ai_cache(digest), result.model_dump_json(), ex=ai.cache_ttl_s)
        finally:
            if claimed:  # never release another worker's claim
                self.r.delete(keys.ai_pending(digest))
        return result

    def _hit(self, run_id: str, shot: Shot, digest: str, cached: Analysis) -> Analysis:
        pipe = self.r.pipeline()
        pipe.hincrby(keys.ai_usage(run_id), "cached", 1)
        pipe.expire(keys.ai_usage(run_id), self.settings.retention.run_ttl_s)
        pipe.execute()
        self._progress(shot, "cache_hit", digest[:12])
        hit = {"screenshot": shot.screenshot, "step": shot.step, "cached": True}
        return cached.model_copy(
            update={**hit, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
        )

    def _cached(self, digest: str, shot: Shot, deadline: float) -> Analysis | None:
        """The cached analysis of ``digest``; while another worker is analysing the same
        image, its answer is awaited (until ``deadline``) instead of paying twice. None when
        nothing is cached and nobody is asking (or the deadline passed)."""
        waiting = False
        while True:
            raw = self.r.get(keys.ai_cache(digest))
            if raw is not None:
                try:
                    return Analysis.model_validate_json(raw)
                except ValidationError:
                    return None  # written by an incompatible version: analyse again
            if not self.r.exists(keys.ai_pending(digest)) or time.monotonic() >= deadline:
                return None
            if not waiting:
                self._progress(shot, "waiting_same_image")
                waiting = True
            time.sleep(PENDING_POLL_S)

    def _over_budget(self, run_id: str, project: str | None) -> str | None:
        """Why no further call may be made (the run's or the project's day's budget is
        spent, said once per run in a ``quota_warning``); None while both allow one."""
        ai = self.settings.ai
        now = datetime.now(UTC)
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(keys.ai_usage(run_id))
        if project is not None:
            pipe.hgetall(keys.project_ai_usage(project, utc_day(now)))
        replies = pipe.execute()
        run = Spend.of(replies[0])
        if run.reaches(ai.run_budget_usd, ai.run_budget_tokens):
            message = (
                f"this run's AI budget is spent ({run.tokens} tokens, ~${run.cost_usd:.4f}; "
                f"budget ${ai.run_budget_usd} / {ai.run_budget_tokens or 'no'} tokens): further "
                "analyses are skipped; raise TESTFLEET_AI__RUN_BUDGET_USD or "
                "TESTFLEET_AI__RUN_BUDGET_TOKENS"
            )
            warning = QuotaWarning(
                testId=self.case.testId,
                testSuiteId=self.case.testSuiteId,
                budget="run",
                budgetUsd=ai.run_budget_usd,
                budgetTokens=ai.run_budget_tokens,
                costUsd=run.cost_usd,
                tokens=run.tokens,
                message=message,
            )
            self._warn_once(run_id, "quota_warned", warning)
            return message
        if project is None:
            return None
        today = Spend.of(replies[1])
        usd, tokens = ai.project_daily_budget_usd, ai.project_daily_budget_tokens
        if not today.reaches(usd, tokens):
            return None
        resets = next_utc_midnight(now).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = (
            f"project {project}'s daily AI budget is spent ({today.tokens} tokens, "
            f"~${today.cost_usd:.4f} today; budget {f'${usd:g}' if usd else 'no USD cap'} / "
            f"{tokens or 'no'} tokens per UTC day): its analyses are skipped until the budget "
            f"resets at {resets}; "
            "the tests themselves still run. Raise TESTFLEET_AI__PROJECT_DAILY_BUDGET_USD or "
            "TESTFLEET_AI__PROJECT_DAILY_BUDGET_TOKENS"
        )
        warning = QuotaWarning(
            testId=self.case.testId,
            testSuiteId=self.case.testSuiteId,
            budget="project_daily",
            resetsAt=resets,
            budgetUsd=usd,
            budgetTokens=tokens,
            costUsd=today.cost_usd,
            tokens=today.tokens,
            message=message,
        )
        self._warn_once(run_id, "project_quota_warned", warning)
        return message

    def _warn_once(self, run_id: str, flag: str, warning: QuotaWarning) -> None:
        """Publish a ``quota_warning`` unless this run already had one for this budget."""
        usage_key = keys.ai_usage(run_id)
        pipe = self.r.pipeline()
        pipe.hsetnx(usage_key, flag, 1)
        # The flag may be the hash's first field (a project spent before this run began).
        pipe.expire(usage_key, self.settings.retention.run_ttl_s)
        first, _ = pipe.execute()
        if first:
            self._emit("quota_warning", warning)

    def _call(
        self,
        run_id: str,
        project: str | None,
        shot: Shot,
        images: list[PreparedImage],
        base: Analysis,
    ) -> Analysis:
        assert self.model is not None
        ai = self.settings.ai
        token = uuid.uuid4().hex
        lease_ms = int((ai.request_timeout_s * ai.max_attempts + ai.backoff_max_s) * 1000)
        deadline = time.monotonic() + ai.slot_wait_s
        waited = False
        while not self._acquire(
            keys=[keys.AI_SLOTS], args=[int(time.time() * 1000), ai.max_concurrent, lease_ms, token]
        ):
            if not waited:
                self._progress(shot, "waiting_slot")
                waited = True
            if time.monotonic() >= deadline:
                reason = (
                    f"no free AI request slot within {ai.slot_wait_s} s "
                    f"({ai.max_concurrent} in flight); raise TESTFLEET_AI__MAX_CONCURRENT"
                )
                return base.model_copy(update={"status": "failed", "reason": reason})
            time.sleep(PENDING_POLL_S)
        sizes = ", ".join(f"{i.width_px}x{i.height_px}" for i in images)
        size_bytes = sum(len(i.data) for i in images)
        tokens = sum(i.estimated_tokens for i in images)
        detail = f"{size_bytes} bytes, {sizes}, ~{tokens} image tokens"
        if shot.evidence is not None:
            detail += f", ~{shot.evidence.approx_tokens} evidence tokens"
        self._progress(shot, "calling", detail)

        def retrying(attempt: int, wait_s: float, why: str) -> None:
            self._progress(shot, "retrying", f"{why}; attempt {attempt + 1} in {wait_s:.1f} s")

        try:
            if shot.analysis_type == "visual_diff":
                answer = self.model.explain_diff(images, shot.context, retrying)
            else:
                evidence = shot.evidence.text if shot.evidence else None
                answer = self.model.analyze(
                    images[0], shot.analysis_type, shot.context, retrying, evidence
                )
        finally:
            self.r.zrem(keys.AI_SLOTS, token)
        cost = cost_usd(self.settings, answer.model, answer.usage)
        pipe = self.r.pipeline()
        counted = [(keys.ai_usage(run_id), self.settings.retention.run_ttl_s)]
        if project is not None:  # on the day the call ended: the day it is paid for
            day = utc_day(datetime.now(UTC))
            counted.append((keys.project_ai_usage(project, day), PROJECT_DAY_TTL_S))
        for usage_key, ttl_s in counted:
            pipe.hincrby(usage_key, "calls", 1)
            pipe.hincrby(usage_key, "input_tokens", answer.usage.input_tokens)
            pipe.hincrby(usage_key, "output_tokens", answer.usage.output_tokens)
            pipe.hincrbyfloat(usage_key, "cost_usd", cost)
            pipe.expire(usage_key, ttl_s)
        pipe.execute()
        if shot.analysis_type == "visual_diff":
            parsed = to_explained(answer.data, base)
        else:
            parsed = to_analysis(answer.data, base, shot.evidence)
        usage = answer.usage
        return parsed.model_copy(
            update={
                "status": "completed",
                "model": answer.model,
                "cost_usd": cost,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
            }
        )


def cache_digest(images: list[PreparedImage], shot: Shot, model: str) -> str:
    """The cache key's hash: the image bytes sent and the question asked of them (type,
    model, prompt version, detail; an ``error`` analysis's error and browser evidence). Not
    the context: the same picture met by another step, test or run is the same question."""
    h = hashlib.sha256()
    for image in images:
        h.update(hashlib.sha256(image.data).digest())
    parts = [shot.analysis_type, model, PROMPT_VERSION, images[0].detail if images else ""]
    if shot.analysis_type == "error":
        parts.append(shot.error or "")
        parts.append(shot.evidence.text if shot.evidence else "")
    for part in parts:
        h.update(b"\0" + part.encode())
    return h.hexdigest()


def to_analysis(
    data: dict[str, Any], base: Analysis, evidence: ShownEvidence | None = None
) -> Analysis:
    """The model's JSON (``analysis_schema``) as an ``Analysis``; bad fields are dropped, not
    fatal (the schema is strict, but an OpenAI-compatible server may not enforce it).
    ``evidence``: what an ``error`` analysis was shown, which its citations must name."""
    issues = []
    for item in data.get("issues") or []:
        try:
            issues.append(AiIssue.model_validate(item))
        except ValidationError:
            continue
    recs = []
    for raw in data.get("recommendations") or []:
        item = raw
        if isinstance(raw, dict) and isinstance(raw.get("confidence"), int | float):
            item = {**raw, "confidence": min(1.0, max(0.0, float(raw["confidence"])))}
        try:
            recs.append(AiRecommendation.model_validate(item))
        except ValidationError:
            continue
    scores: dict[str, float] = {}
    for item in data.get("scores") or []:
        if isinstance(item, dict) and isinstance(item.get("value"), int | float):
            scores[str(item.get("name"))] = float(item["value"])
    summary = str(data.get("summary") or "")
    return base.model_copy(
        update={
            "summary": summary,
            "issues": issues,
            "recommendations": recs,
            "scores": scores,
            "citations": cited(evidence, data.get("citations")),
        }
    )


def to_explained(data: dict[str, Any], base: Analysis) -> Analysis:
    """The model's JSON (``VISUAL_DIFF_SCHEMA``) as an ``Analysis`` with its
    ``explanation``; an answer that does not fit is a failed analysis, said so."""
    changes = []
    for item in data.get("changes") or []:
        try:
            changes.append(DiffChange.model_validate(item))
        except ValidationError:
            continue
    confidence = data.get("confidence")
    if isinstance(confidence, int | float):
        confidence = min(1.0, max(0.0, float(confidence)))
    try:
        explanation = DiffExplanation.model_validate(
            {
                "changes": changes,
                "verdict": data.get("verdict"),
                "cosmetic": data.get("cosmetic"),
                "confidence": confidence,
            }
        )
    except ValidationError as exc:
        raise AiError(f"the AI model's diff explanation does not fit its schema ({exc})") from exc
    return base.model_copy(
        update={"summary": str(data.get("summary") or ""), "explanation": explanation}
    )


def evidence_of(recorder: TraceRecorder, steps: list[StepResult]) -> dict[int, FailureEvidence]:
    """The browser's evidence of each failed step of an attempt, by step index, from its
    recorder (empty when it cannot be had: evidence never changes a result)."""
    try:
        return {r.index: recorder.failure_evidence(r.index) for r in steps if r.status == "failed"}
    except Exception:
        log.exception("the failing steps' browser evidence could not be read")
        return {}


_models: dict[str, AiModel] = {}


def model_for(settings: Settings) -> AiModel | None:
    """This process's model client for ``settings`` (None without an API key); one per
    distinct AI configuration, so its HTTP connections are reused across cases."""
    if not has_key(settings):
        return None
    config = f"{settings.openai_api_key}|{settings.openai_base_url}|{settings.ai.model_dump_json()}"
    model = _models.get(config)
    if model is None:
        model = _models[config] = AiModel(settings)
    return model


def analyze_attempt(
    settings: Settings,
    client: redis.Redis,
    publish: Callable[[Event], object],
    event: Callable[[str, Payload], Event],
    run_id: str,
    spec: CaseSpec,
    steps: list[StepResult],
    read: Callable[[str], bytes],
    project: str,
    *,
    case: CaseEvent,
    evidence: Mapping[int, FailureEvidence] | None = None,
) -> list[Analysis]:
    """Analyse an attempt's screenshots (what ``workers.tasks`` calls before finishing a
    case); the spend counts against the run's and ``project``'s daily budget; ``case``:
    the ids every payload about the case carries; ``evidence``: the browser's evidence of
    each failing step, by step index (from the attempt's ``TraceRecorder``)."""
    shots = shots_to_analyze(spec, steps, evidence, settings.ai.max_evidence_chars)
    if not shots:
        return []
    analyzer = Analyzer(settings, client, publish, event, model_for(settings), case=case)
    return analyzer.analyze(run_id, shots, read, project)
