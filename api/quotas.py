"""Per-project quotas the API enforces, so one project cannot take the fleet from the others.

- submissions per minute (``limits.submits_per_minute``): a fixed one-minute
  window counted in Redis, shared by every API process; 429 with Retry-After;
- cases queued or running at once (``limits.max_queued_cases``): a submission
  that would take the project past it is refused, 429 when the project's own
  earlier runs fill it (it frees as they finish), 413 when the run alone is too big;
- ``priority: critical`` needs the ``priority:critical`` scope (403 naming it);
- ``POST /generate``: requests per minute and model tokens per UTC day.

The queued count is the sum of cases not yet final over the project's open runs
(``keys.project_open_runs``; read through the run store), which drops runs once they
are over or expired:
exact at rest, and two submissions racing past the check at once can overshoot
it by one run (a run is bounded by ``max_tests_per_run``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import cast

import redis

from testfleet import keys
from testfleet.errors import ForbiddenError, LimitError, RateLimited
from testfleet.fleet.auth import ApiKey
from testfleet.results import CaseResult
from testfleet.settings import LimitSettings
from testfleet.store import RunReader
from testfleet.suites.limits import setting

CRITICAL_SCOPE = "priority:critical"
"""The scope a key needs to submit ``priority: critical`` work."""
_WINDOW_S = 60


def _window() -> tuple[int, float]:
    """The current one-minute window and the seconds left in it."""
    now = time.time()
    return int(now // _WINDOW_S), _WINDOW_S - now % _WINDOW_S


class Quotas:
    """The per-project checks of one API process (thread-safe: redis-py pools connections)."""

    def __init__(self, client: redis.Redis, limits: LimitSettings) -> None:
        self._r = client
        self._runs = RunReader(client)
        self.limits = limits

    def _count(self, key: str, by: int = 1, ttl_s: int = 2 * _WINDOW_S) -> int:
        pipe = self._r.pipeline(transaction=True)
        pipe.incrby(key, by)
        pipe.expire(key, ttl_s)
        return int(pipe.execute()[0])

    def _per_minute(self, project: str, counter: str, field: str, what: str) -> None:
        """Count one request in this minute's ``counter``; ``RateLimited`` past the limit
        named ``field`` of ``LimitSettings``."""
        limit = int(getattr(self.limits, field))
        _, left_s = _window()
        if self._count(counter) > limit:
            raise RateLimited(
                f"project {project} made more than {limit} {what} this minute; "
                f"try again in {left_s:.0f} s (or raise {setting(field)})",
                retry_after_s=left_s,
            )

    def check_rate(self, key: ApiKey) -> None:
        """Count a submission; ``RateLimited`` past ``submits_per_minute`` for the project."""
        counter = keys.project_submits(key.project, _window()[0])
        self._per_minute(key.project, counter, "submits_per_minute", "submissions")

    def check_priority(self, key: ApiKey, cases: Sequence[CaseResult]) -> None:
        """``ForbiddenError`` when critical work comes with a key lacking the scope."""
        if key.allows(CRITICAL_SCOPE) or all(c.priority != "critical" for c in cases):
            return
        raise ForbiddenError(
            f"priority critical goes ahead of every other project's work and needs the "
            f"{CRITICAL_SCOPE} scope, which this API key (id {key.id}) lacks: submit with "
            f"priority high, or ask an operator for a key with {CRITICAL_SCOPE}"
        )

    def queued(self, project: str) -> int:
        """Cases of ``project`` queued or running now (final or expired runs dropped)."""
        index = keys.project_open_runs(project)
        run_ids = cast(list[str], self._r.zrange(index, 0, -1))
        if not run_ids:
            return 0
        total, done = 0, []
        for run_id, run in zip(run_ids, self._runs.overviews(run_ids), strict=True):
            if run is None or run.finishedMs is not None:
                done.append(run_id)  # expired or over
            else:
                total += max(0, run.total - sum(run.counts.values()))
        if done:
            self._r.zrem(index, *done)
        return total

    def check_queue(self, key: ApiKey, cases: int) -> None:
        """Refuse ``cases`` more when the project would go past ``max_queued_cases``."""
        limit = self.limits.max_queued_cases
        if cases > limit:
            raise LimitError(
                f"the run has {cases} tests, more than the {limit} one project may have queued "
                f"at once; split it or raise {setting('max_queued_cases')}"
            )
        queued = self.queued(key.project)
        if queued + cases > limit:
            raise RateLimited(
                f"project {key.project} already has {queued} test cases queued or running; "
                f"{cases} more would pass its limit of {limit} ({setting('max_queued_cases')}): "
                "submit again when some have finished",
                retry_after_s=30.0,
            )

    def opened(self, project: str, run_id: str, created_ms: int) -> None:
        """Count a newly queued run against its project."""
        self._r.zadd(keys.project_open_runs(project), {run_id: created_ms})

    def check_generate(self, key: ApiKey) -> None:
        """Count a generation request; ``RateLimited`` past the project's rate or budget."""
        counter = keys.project_generate_calls(key.project, _window()[0])
        self._per_minute(key.project, counter, "generate_per_minute", "generation requests")
        budget = self.limits.generate_budget_tokens_per_day
        spent = int(cast(str | None, self._r.get(self._tokens_key(key.project))) or 0)
        if budget and spent >= budget:
            left_day_s = 86_400 - time.time() % 86_400
            raise RateLimited(
                f"project {key.project} spent its AI generation budget for today ({spent} of "
                f"{budget} tokens); try again after 00:00 UTC "
                f"(or raise {setting('generate_budget_tokens_per_day')})",
                retry_after_s=round(left_day_s),
            )

    def spent_generate(self, key: ApiKey, tokens: int) -> None:
        """Count model tokens a generation used against the project's daily budget."""
        self._count(self._tokens_key(key.project), tokens, ttl_s=2 * 86_400)

    @staticmethod
    def _tokens_key(project: str) -> str:
        return keys.project_generate_tokens(project, time.strftime("%Y%m%d", time.gmtime()))
