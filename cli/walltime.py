"""The wall-time lines of a run's summary: what the dispatch order was expected to take,
what it took, and what no order could beat (``api.ordering``)."""

from __future__ import annotations

from api.ordering import ideal_wall_ms
from testfleet.results import RunResult


def _s(ms: int) -> str:
    return f"{ms / 1000:.1f}s"


def wall_time_lines(run: RunResult) -> list[str]:
    """The "wall time: ..." line (actual, expected, ideal lower bound) and, for a run stopped
    early, why; nothing for a run of an older server that recorded no schedule."""
    lines: list[str] = []
    schedule = run.schedule
    started = [t.started_ms for t in run.tests if t.started_ms is not None]
    finished = [t.finished_ms for t in run.tests if t.finished_ms is not None and t.started_ms]
    if schedule is not None:
        slots = schedule.worker_slots
        parts = [f"order {schedule.order}, {slots} worker slot(s)"]
        if started and finished:
            parts.append(f"actual {_s(max(finished) - min(started))}")
        if schedule.expected_wall_ms is not None:
            parts.append(f"expected {_s(schedule.expected_wall_ms)}")
        else:
            parts.append(f"expected unknown (history knew {schedule.known} of {len(run.tests)})")
        ran = [t.duration_ms for t in run.tests if t.started_ms is not None]
        if ran:
            parts.append(
                f"ideal lower bound {_s(ideal_wall_ms(ran, slots))} (from actual durations)"
            )
        lines.append("wall time: " + "; ".join(parts))
        if schedule.picked_from:
            lines.append(f"re-ran the failed tests of run {schedule.picked_from}")
    if run.stopReason:
        cancelled = run.counts.get("cancelled", 0)
        lines.append(f"{run.stopReason}: {cancelled} test(s) cancelled")
    return lines
