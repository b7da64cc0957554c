"""Pure arithmetic of the throughput benchmark: tests/min, and where a fleet run's time went.

The breakdown is measured, not estimated: it comes from the run result the
fleet itself recorded (``testfleet run --json``), per test case:

- ``browser_steps_ms``: the sum of the case's step durations (time inside
  Selenium commands and their explicit waits: the browser's share);
- ``in_case_overhead_ms``: the case's wall time (worker started it -> final
  status written) minus its steps: opening or leasing the session, resetting
  it, publishing step events, saving screenshots, writing the result;
- ``between_cases_ms``: per worker, the gap from one case's end to the next
  case's start: Celery ack, prefetch and dispatch;
- ``queue_wait_ms``: submit -> the case started (waiting for a free worker,
  mostly other tests, so not overhead);
- ``run_start_ms`` / ``run_end_ms``: submit -> first case started, last case
  finished -> run completed.

Fleet overhead per test (SPEC: <= 5 % of browser time) is
``(in_case_overhead + between_cases) / browser_steps``.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any


def throughput_per_min(tests: int, wall_s: float) -> float:
    """Throughput of a pass that ran ``tests`` tests in ``wall_s`` seconds (0 for no time)."""
    if wall_s <= 0:
        return 0.0
    return round(tests * 60.0 / wall_s, 1)


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 1) if values else 0.0


def fleet_breakdown(run: dict[str, Any]) -> dict[str, float]:
    """Mean per-test milliseconds spent in each part of a finished fleet run (see module doc)."""
    created = int(run["createdMs"])
    cases = [c for c in run["tests"] if c.get("started_ms") and c.get("finished_ms")]
    if not cases:
        return {}
    steps_ms = [float(sum(s.get("duration_ms", 0) for s in c.get("steps", []))) for c in cases]
    wall_ms = [float(c["finished_ms"] - c["started_ms"]) for c in cases]
    in_case = [w - s for w, s in zip(wall_ms, steps_ms, strict=True)]
    by_worker: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in cases:
        by_worker[str(case.get("worker"))].append(case)
    gaps: list[float] = []
    for worker_cases in by_worker.values():
        worker_cases.sort(key=lambda c: int(c["started_ms"]))
        for before, after in itertools.pairwise(worker_cases):
            gaps.append(float(max(0, after["started_ms"] - before["finished_ms"])))
    # Every case but each worker's first has a gap before it; spread over all cases.
    between = sum(gaps) / len(cases)
    browser = _mean(steps_ms)
    overhead = _mean(in_case) + between
    finished = run.get("finishedMs") or max(c["finished_ms"] for c in cases)
    return {
        "browser_steps_ms": browser,
        "in_case_overhead_ms": _mean(in_case),
        "between_cases_ms": round(between, 1),
        "queue_wait_ms": _mean([float(c["started_ms"] - created) for c in cases]),
        "run_start_ms": float(min(c["started_ms"] for c in cases) - created),
        "run_end_ms": float(finished - max(c["finished_ms"] for c in cases)),
        "case_wall_ms": _mean(wall_ms),
        "overhead_pct_of_browser": round(100.0 * overhead / browser, 1) if browser else 0.0,
    }


def step_kind_ms(run: dict[str, Any]) -> dict[str, float]:
    """Mean milliseconds per step, by step type: which browser commands cost most."""
    return mean_by_kind(
        (str(step.get("step_type")), float(step.get("duration_ms", 0)))
        for case in run["tests"]
        for step in case.get("steps", [])
    )


def mean_by_kind(timings: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Mean milliseconds per step type from ``(step_type, ms)`` pairs."""
    durations: dict[str, list[float]] = defaultdict(list)
    for kind, ms in timings:
        durations[kind].append(ms)
    return {kind: _mean(values) for kind, values in sorted(durations.items())}


def case_phases(run: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, float]:
    """Split ``in_case_overhead_ms`` by phase, from the run's own ``test_progress`` events.

    Each progress event carries ``progress.duration`` (ms since the case started,
    taken as the step ended) and ``stepDuration``; so, per case (first attempt):

    - ``session_start_ms``: before step 1 began: opening or leasing the browser
      session, the ``test_started`` event, the executor's set-up;
    - ``between_steps_ms``: the sum of the gaps between one step's end and the
      next one's start: publishing each step's event and storing the case;
    - ``finish_ms``: after the last step: closing or returning the session,
      writing the final result and its event.

    Means over the cases that have a progress event for every step.
    """
    progress: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        payload = event.get("payload") or {}
        if event.get("type") == "test_progress" and payload.get("attempt", 1) == 1:
            progress[str(event.get("correlationId"))].append(payload)
    start: list[float] = []
    between: list[float] = []
    finish: list[float] = []
    for case in run["tests"]:
        steps = sorted(progress.get(case["case_id"], []), key=lambda p: p["progress"]["stepNumber"])
        if not steps or len(steps) != len(case.get("steps", [])) or not case.get("finished_ms"):
            continue
        ends = [float(p["progress"]["duration"]) for p in steps]
        lengths = [float(p["stepDuration"]) for p in steps]
        start.append(ends[0] - lengths[0])
        between.append(sum(ends[i] - ends[i - 1] - lengths[i] for i in range(1, len(steps))))
        finish.append(float(case["finished_ms"] - case["started_ms"]) - ends[-1])
    if not start:
        return {}
    return {
        "session_start_ms": _mean(start),
        "between_steps_ms": _mean(between),
        "finish_ms": _mean(finish),
        "cases_profiled": float(len(start)),
    }
