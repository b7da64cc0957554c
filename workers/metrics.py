"""What a worker records for the fleet metrics (``testfleet.metrics``).

Per attempt, in one Redis round trip after it: how long getting a browser took
(pooled or new), each step's duration by action, and what the session pool did
meanwhile (resets, replacements, new sessions). Per case, once its final status
is recorded: its duration by status and its AI usage.

The pool's counts come from the provider's ``stats`` when it has them (the
Grid's ``SessionPool``): the provider interface does not promise them, and the
pool lives in ``grid/``, which workers do not import.
"""

from __future__ import annotations

from typing import Any

import redis

from testfleet import metrics as fm
from testfleet.fleet.browser import BrowserProvider
from testfleet.metrics.record import Batch
from testfleet.results import CaseResult, StepResult

_POOL_FIELDS = ("opened", "lent_reused", "replaced", "recycled")


def _pool_counts(provider: BrowserProvider) -> dict[str, int]:
    stats: Any = getattr(provider, "stats", None)
    return {f: int(getattr(stats, f, 0) or 0) for f in _POOL_FIELDS}


class AttemptMetrics:
    """One attempt's observations, written by ``write`` once the attempt is over."""

    def __init__(self, provider: BrowserProvider) -> None:
        self._provider = provider
        self._before = _pool_counts(provider)
        self._pooled_provider = hasattr(provider, "stats")
        self.batch = Batch()

    def session_started(self, seconds: float) -> None:
        """A session was handed over after ``seconds``: pooled when the pool lent one."""
        lent = _pool_counts(self._provider)["lent_reused"] > self._before["lent_reused"]
        self.batch.observe(fm.SESSION_START, "pooled" if lent else "new", seconds)
        if not self._pooled_provider:
            self.batch.count(fm.SESSIONS_OPENED, 1)  # no pool: every session is a new one

    def steps(self, steps: list[StepResult]) -> None:
        for step in steps:
            if step.status != "skipped":  # a step that never ran has no duration
                self.batch.observe(fm.STEP_DURATION, step.step_type, step.duration_ms / 1000)

    def write(self, client: redis.Redis) -> None:
        after = _pool_counts(self._provider)
        delta = {f: after[f] - self._before[f] for f in _POOL_FIELDS}
        if self._pooled_provider:
            self.batch.count(fm.POOL_RESETS, delta["lent_reused"], "ok")
            self.batch.count(fm.POOL_RESETS, delta["replaced"], "failed")
            self.batch.count(fm.POOL_REPLACEMENTS, delta["replaced"], "failed_check")
            self.batch.count(fm.POOL_REPLACEMENTS, delta["recycled"], "recycled")
            self.batch.count(fm.SESSIONS_OPENED, delta["opened"])
        self.batch.write(client)


def record_final(client: redis.Redis, case: CaseResult) -> None:
    """A case's final figures: duration by status, and its analyses' calls, tokens and cost."""
    batch = Batch()
    batch.observe(fm.CASE_DURATION, case.status, case.duration_ms / 1000)
    for analysis in case.ai:
        if analysis.cached:
            result = "cached"
        elif analysis.status == "completed":
            result = "called"
        else:
            result = analysis.status  # failed or skipped
        batch.count(fm.AI_ANALYSES, 1, result)
        batch.count(fm.AI_TOKENS, analysis.input_tokens, "input")
        batch.count(fm.AI_TOKENS, analysis.output_tokens, "output")
        batch.count(fm.AI_COST_USD, float(analysis.cost_usd))
    batch.write(client)
