"""A test's history in figures and its failures' labels: the rules, as pure functions.

The input is one test's attempts across runs (``Attempt``: what the history database
keeps per attempt). The rules, once:

- A test's **run** is its attempts in one run; it *ended passed* when its last attempt
  passed, *ended failed* when its last attempt failed or errored; a run whose last
  attempt was cancelled is left out of every rate.
- **Pass rate**: runs ended passed / runs ended passed or failed (a pass on a retry is a
  pass, as ``flaky`` counts as a pass everywhere).
- A run is a **flake** when the test failed in it and then passed on a retry, or when
  it ended failed on a commit on which another run of the test ended passed (the same
  code both passed and failed). **Flake rate**: flakes / runs ended passed or failed.
- **Duration** P50 / P95: over every attempt that ended passed, failed or errored,
  interpolated between ranks (as PostgreSQL's ``percentile_cont``), in ms.
- **Trend**: the median of the latest ``trend_window_attempts`` durations against the
  median of the as many before them (fewer when the history is short: half each);
  ``slower`` / ``faster`` when they differ by more than ``trend_tolerance_ratio``.

Labels of a test's failure in run R (``labels``), from the runs that started before R:

- ``new``: no attempt failed in the test's last ``new_window_runs`` runs on the
  default branch;
- ``flaky``: the flake rate up to and including R is over ``flaky_rate_threshold``;
- ``failing-on-main``: the test's latest run on the default branch ended failed;
- ``quarantined``: the test is in the project's quarantine.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Literal, NamedTuple

from testfleet.settings import HistorySettings

Label = Literal["new", "flaky", "failing-on-main", "quarantined"]
LABELS: tuple[Label, ...] = ("new", "flaky", "failing-on-main", "quarantined")
"""Every label, in the order a failure lists them."""
FAILED_STATUSES: frozenset[str] = frozenset({"failed", "error"})
"""Attempt statuses that are a failure."""
TIMED_STATUSES: frozenset[str] = frozenset({"passed", *FAILED_STATUSES})
"""Attempt statuses whose duration counts (a cancelled attempt's does not)."""
Direction = Literal["slower", "faster", "steady"]


class Identity(NamedTuple):
    """A test within its project: suite name, test name, data row ('' for none)."""

    suite: str
    test: str
    data_row: str = ""


@dataclass(frozen=True)
class Attempt:
    """One attempt at a test in a run."""

    run_id: str
    commit: str | None
    branch: str | None
    attempt: int
    """1, 2, ... within the run."""
    status: str
    """passed, failed, error or cancelled."""
    duration_ms: int
    started_at: datetime


@dataclass(frozen=True)
class RunOutcome:
    """A test's attempts in one run, and what they add up to."""

    run_id: str
    commit: str | None
    branch: str | None
    started_at: datetime
    attempts: tuple[Attempt, ...]
    """In attempt order."""

    @property
    def last_status(self) -> str:
        return self.attempts[-1].status

    @property
    def ended_passed(self) -> bool:
        return self.last_status == "passed"

    @property
    def ended_failed(self) -> bool:
        return self.last_status in FAILED_STATUSES

    @property
    def decided(self) -> bool:
        """Ended passed or failed (a run ended cancelled counts in no rate)."""
        return self.ended_passed or self.ended_failed

    @property
    def had_failure(self) -> bool:
        """Some attempt failed (a pass on a retry included)."""
        return any(a.status in FAILED_STATUSES for a in self.attempts)

    @property
    def passed_on_retry(self) -> bool:
        """An attempt failed and a later one passed."""
        failed = False
        for attempt in self.attempts:
            if attempt.status in FAILED_STATUSES:
                failed = True
            elif attempt.status == "passed" and failed:
                return True
        return False


@dataclass(frozen=True)
class Trend:
    """How the test's recent durations compare with the ones before."""

    direction: Direction
    change_ratio: float
    """recent P50 / previous P50 - 1 (0.25: a quarter slower)."""
    recent_p50_ms: float
    previous_p50_ms: float
    window_attempts: int
    """Attempts in each of the two windows compared."""


@dataclass(frozen=True)
class Stats:
    """A test's history in figures (``stats``); rates are None without a decided run."""

    runs: int
    """Runs ended passed or failed."""
    passed_runs: int
    flaky_runs: int
    pass_rate: float | None
    flake_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    trend: Trend | None
    first_seen: datetime | None
    last_failure: Attempt | None
    """The latest failed or errored attempt."""


def _order(attempt: Attempt) -> tuple[datetime, str, int]:
    return (attempt.started_at, attempt.run_id, attempt.attempt)


def outcomes(attempts: Iterable[Attempt]) -> list[RunOutcome]:
    """The test's runs, oldest first (by start, then run id)."""
    by_run: dict[str, list[Attempt]] = {}
    for attempt in sorted(attempts, key=_order):
        by_run.setdefault(attempt.run_id, []).append(attempt)
    runs = [
        RunOutcome(
            run_id=run_id,
            commit=tries[0].commit,
            branch=tries[0].branch,
            started_at=min(a.started_at for a in tries),
            attempts=tuple(sorted(tries, key=lambda a: a.attempt)),
        )
        for run_id, tries in by_run.items()
    ]
    return sorted(runs, key=lambda r: (r.started_at, r.run_id))


def flakes(runs: Sequence[RunOutcome]) -> set[str]:
    """Ids of the runs that were flakes (the module's docstring)."""
    passed_on = {r.commit for r in runs if r.commit and r.ended_passed}
    return {
        r.run_id
        for r in runs
        if r.passed_on_retry or (r.ended_failed and r.commit is not None and r.commit in passed_on)
    }


def percentile(values_ms: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` (0-1) percentile of ``values_ms``, interpolated between ranks
    (PostgreSQL's ``percentile_cont``); None when there is none."""
    if not values_ms:
        return None
    ordered = sorted(values_ms)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def trend(durations_ms: Sequence[float], settings: HistorySettings) -> Trend | None:
    """Recent durations (the last of ``durations_ms``, oldest first) against the ones
    before; None with fewer than 2 attempts per window."""
    window = min(settings.trend_window_attempts, len(durations_ms) // 2)
    if window < 2:
        return None
    recent = median(durations_ms[-window:])
    previous = median(durations_ms[-2 * window : -window])
    if previous <= 0:
        return None
    change = recent / previous - 1
    tolerance = settings.trend_tolerance_ratio
    direction: Direction = (
        "slower" if change > tolerance else "faster" if change < -tolerance else "steady"
    )
    return Trend(direction, change, float(recent), float(previous), window)


def stats(attempts: Iterable[Attempt], settings: HistorySettings) -> Stats:
    """The test's figures over ``attempts`` (the rules in the module's docstring)."""
    ordered = sorted(attempts, key=_order)
    runs = outcomes(ordered)
    decided = [r for r in runs if r.decided]
    passed = sum(1 for r in decided if r.ended_passed)
    flaky = len(flakes(decided))
    durations = [float(a.duration_ms) for a in ordered if a.status in TIMED_STATUSES]
    failures = [a for a in ordered if a.status in FAILED_STATUSES]
    return Stats(
        runs=len(decided),
        passed_runs=passed,
        flaky_runs=flaky,
        pass_rate=passed / len(decided) if decided else None,
        flake_rate=flaky / len(decided) if decided else None,
        p50_ms=percentile(durations, 0.50),
        p95_ms=percentile(durations, 0.95),
        trend=trend(durations, settings),
        first_seen=ordered[0].started_at if ordered else None,
        last_failure=failures[-1] if failures else None,
    )


def labels(
    attempts: Iterable[Attempt],
    run_id: str,
    settings: HistorySettings,
    identity: Identity | None = None,
    quarantine: Collection[Identity] = (),
) -> list[Label]:
    """The labels of the test's failure in run ``run_id`` (the module's docstring), in
    ``LABELS`` order. ``attempts``: the test's attempts, ``run_id``'s among them (later
    runs are ignored); ``identity`` is looked up in ``quarantine``.
    Raises ``ValueError`` when no attempt is of ``run_id``."""
    runs = outcomes(attempts)
    index = next((i for i, r in enumerate(runs) if r.run_id == run_id), None)
    if index is None:
        raise ValueError(f"no attempt of run {run_id} among the test's attempts: pass them in")
    before = runs[:index]
    on_main = [r for r in before if r.branch == settings.default_branch]
    window = on_main[-settings.new_window_runs :]
    upto = [r for r in runs[: index + 1] if r.decided]
    flake_rate = len(flakes(upto)) / len(upto) if upto else 0.0
    found: dict[Label, bool] = {
        "new": not any(r.had_failure for r in window),
        "flaky": flake_rate > settings.flaky_rate_threshold,
        "failing-on-main": bool(on_main) and on_main[-1].ended_failed,
        "quarantined": identity is not None and identity in quarantine,
    }
    return [label for label in LABELS if found[label]]
