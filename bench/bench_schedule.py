"""Scheduling from history: wall time of a skewed suite, longest first vs suite order,
and how fast ``--max-failures 1`` stops a run.

One fleet (``testfleet up --workers 4 --browsers 4``: 4 worker slots) runs:

1. **Skewed suite.** The datahub profile's shape (94 test files, 3,142 s in all; a few
   long files and a long tail of short ones), scaled down so the whole suite is
   ``SKEW_TOTAL_S`` of ``wait`` steps on the demo site (``QUICK_TESTS`` tests in quick
   mode). Durations follow ``skewed_durations_s`` (a Zipf-like fall-off, deterministic).
   The suite lists the tests in a fixed shuffled order with its longest test last, as a
   directory listing can (the case the issue is about: one long test starting last).
   First ``--order suite`` (which also writes the suite's history: the archiver records
   every test's real duration), then, once that run is archived, ``--order duration``,
   which dispatches from that history. Per run, the wall time (first case start to last
   case end), and for the ``duration`` run the ideal lower bound from its own actual
   durations: max(total / slots, longest). Target: ``duration`` wall <= 1.05 x ideal;
   ``suite`` is printed beside it (same fleet, same run of the bench).
2. **Max failures.** A suite whose first test fails at once and whose other tests wait,
   run with ``--order suite --max-failures 1``. From the run's events: how long after
   the failure was recorded the last queued case was cancelled, and the latest
   ``test_started`` after it (none: 0). Target: no case starts more than 2 s after the
   first failure.

``TESTFLEET_BENCH__QUICK=1`` (or ``TESTFLEET_BENCH_QUICK=1``): a shorter suite.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from bench.bench_throughput import local_fleet, quick_mode, run_events, submit
from bench.common import ratio, verdict
from testfleet.history.models import Run
from testfleet.settings import Settings

TITLE = "Scheduling from history: skewed suite longest-first vs suite order; --max-failures 1"

WORKERS = 4
DATAHUB_FILES = 94
DATAHUB_TOTAL_S = 3142.0
SKEW_TOTAL_S = 120.0
"""The skewed suite's total wait, scaled down from datahub's 3,142 s."""
QUICK_TESTS = 24
QUICK_TOTAL_S = 40.0
SKEW_EXPONENT = 1.1
"""Zipf-like fall-off of the durations: the i-th longest ~ 1 / i^SKEW_EXPONENT."""
TARGET_WALL_RATIO = 1.05
TARGET_STOP_S = 2.0
STOP_WAITERS = 12
ARCHIVE_WAIT_S = 120.0


def skewed_durations_s(count: int, total_s: float) -> list[float]:
    """``count`` durations summing to ``total_s``, longest first, Zipf-like (datahub's
    shape: a few files hold much of the time), to 0.1 s."""
    weights = [1 / (i + 1) ** SKEW_EXPONENT for i in range(count)]
    scale = total_s / sum(weights)
    return [round(max(0.1, w * scale), 1) for w in weights]


def suite_order(durations_s: list[float]) -> list[float]:
    """A fixed shuffle with the longest test last."""
    longest, rest = durations_s[0], list(durations_s[1:])
    random.Random(26).shuffle(rest)
    return [*rest, longest]


def write_skewed(path: Path, name: str, durations_s: list[float]) -> None:
    lines = [f"name: {name}", "env: [DEMO_URL]", "base_url: ${DEMO_URL}", "tests:"]
    for i, seconds in enumerate(durations_s):
        lines += [f"  - name: t{i:03d}", "    steps:", "      - navigate: /"]
        lines.append(f"      - wait: {seconds}")
    path.write_text("\n".join(lines) + "\n")


def write_doomed(path: Path, name: str) -> None:
    lines = [f"name: {name}", "env: [DEMO_URL]", "base_url: ${DEMO_URL}", "tests:"]
    lines += [
        "  - name: breaks",
        "    steps:",
        "      - navigate: /",
        "      - assert_text: {selector: h1, contains: Nowhere, timeout: 1}",
    ]
    for i in range(STOP_WAITERS):
        lines += [f"  - name: waits {i}", "    steps:", "      - navigate: /", "      - wait: 2"]
    path.write_text("\n".join(lines) + "\n")


def wall_s(result: dict[str, Any]) -> float:
    """First case start to last case end, in s."""
    tests = [t for t in result["tests"] if t.get("started_ms") and t.get("finished_ms")]
    first = min(int(t["started_ms"]) for t in tests)
    return (max(int(t["finished_ms"]) for t in tests) - first) / 1000


def ideal_s(result: dict[str, Any], slots: int) -> float:
    """max(total / slots, longest) over the run's actual case durations, in s."""
    durations = [int(t["duration_ms"]) / 1000 for t in result["tests"] if t.get("started_ms")]
    return max(sum(durations) / slots, *durations)


def wait_archived(env: dict[str, str], run_id: str) -> None:
    """Until the archiver wrote ``run_id`` (its durations are then the history)."""
    state = Path(env["TESTFLEET_PATHS__STATE_DIR"]) / "fleet.json"
    url = json.loads(state.read_text())["database_url"]
    engine = create_engine(url)
    deadline = time.monotonic() + ARCHIVE_WAIT_S
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.scalar(select(Run.run_id).where(Run.run_id == run_id)):
                    return
            time.sleep(0.5)
    finally:
        engine.dispose()
    raise RuntimeError(f"run {run_id} was not archived within {ARCHIVE_WAIT_S:.0f}s")


def stop_latency(events: list[dict[str, Any]]) -> dict[str, float]:
    """From a ``--max-failures 1`` run's events: s from the first failure to the last
    cancel, and to the latest case start after it (0: none started after)."""
    failed_at = min(e["timestamp"] for e in events if e["type"] == "test_failed")
    cancels = [e["timestamp"] for e in events if e["type"] == "test_cancelled"]
    starts = [e["timestamp"] for e in events if e["type"] == "test_started"]
    late = [s - failed_at for s in starts if s > failed_at]
    return {
        "cancel_s": round((max(cancels) - failed_at) / 1000, 3) if cancels else math.nan,
        "late_start_s": round(max(late) / 1000, 3) if late else 0.0,
        "cancelled": float(len(cancels)),
    }


def run(settings: Settings) -> dict[str, Any]:
    quick = quick_mode() or settings.bench.quick
    count, total = (QUICK_TESTS, QUICK_TOTAL_S) if quick else (DATAHUB_FILES, SKEW_TOTAL_S)
    durations = suite_order(skewed_durations_s(count, total))
    figures: dict[str, Any] = {
        "quick": quick,
        "tests": count,
        "planned_total_s": round(sum(durations), 1),
        "planned_longest_s": max(durations),
        "workers": WORKERS,
    }
    with tempfile.TemporaryDirectory(prefix="tf-bench-sched-") as tmp:
        base = Path(tmp)
        skewed, doomed = base / "skewed.yaml", base / "doomed.yaml"
        name = f"Skewed {int(time.time())}"
        write_skewed(skewed, name, durations)
        write_doomed(doomed, f"Doomed {int(time.time())}")
        with local_fleet(base / "fleet", pool_size=0, size=WORKERS) as env:
            branch = ("--branch", "bench-schedule")
            by_suite = submit(env, skewed, base / "suite.json", "--order", "suite", *branch)
            wait_archived(env, by_suite["runId"])
            by_duration = submit(
                env, skewed, base / "duration.json", "--order", "duration", *branch
            )
            slots = by_duration["schedule"]["worker_slots"]
            stopped = submit(
                env, doomed, base / "doomed.json", "--order", "suite", "--max-failures", "1"
            )
            stop = stop_latency(run_events(env, stopped["runId"]))
    ideal = ideal_s(by_duration, slots)
    figures |= {
        "slots": slots,
        "suite_wall_s": round(wall_s(by_suite), 2),
        "duration_wall_s": round(wall_s(by_duration), 2),
        "ideal_s": round(ideal, 2),
        "suite_ideal_s": round(ideal_s(by_suite, slots), 2),
        "expected_wall_s": (by_duration["schedule"]["expected_wall_ms"] or 0) / 1000,
        "failed": sum(1 for t in by_duration["tests"] if t["status"] != "passed"),
        "stop_status": stopped["status"],
        "stop_reason": stopped.get("stopReason"),
        **{f"stop_{k}": v for k, v in stop.items()},
    }
    figures["duration_vs_ideal"] = ratio(figures["duration_wall_s"], ideal)
    figures["suite_vs_ideal"] = ratio(figures["suite_wall_s"], figures["suite_ideal_s"])
    figures["duration_vs_suite"] = ratio(figures["duration_wall_s"], figures["suite_wall_s"])
    return figures


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    mode = "quick" if figures.get("quick") else "full"
    shape = (
        f"{figures['tests']} tests, {figures['planned_total_s']} s of waits, longest "
        f"{figures['planned_longest_s']} s; {figures['slots']} slots ({mode})"
    )
    wall_met = figures["duration_vs_ideal"] <= TARGET_WALL_RATIO
    stop_met = figures["stop_late_start_s"] <= TARGET_STOP_S
    return [
        ("skewed suite", shape, ""),
        ("wall, --order suite", f"{figures['suite_wall_s']} s", "baseline, same fleet"),
        (
            "wall, --order duration",
            f"{figures['duration_wall_s']} s",
            f"expected {figures['expected_wall_s']} s",
        ),
        ("ideal lower bound", f"{figures['ideal_s']} s", "max(total / slots, longest)"),
        (
            "duration / ideal",
            f"{figures['duration_vs_ideal']}x",
            f"<= {TARGET_WALL_RATIO}x: {verdict(wall_met)}",
        ),
        ("suite / ideal", f"{figures['suite_vs_ideal']}x", "for comparison"),
        ("duration / suite", f"{figures['duration_vs_suite']}x", "wall time ratio"),
        (
            "max-failures 1: late start",
            f"{figures['stop_late_start_s']} s",
            f"<= {TARGET_STOP_S} s after the failure: {verdict(stop_met)}",
        ),
        (
            "max-failures 1: last cancel",
            f"{figures['stop_cancel_s']} s",
            f"{figures['stop_cancelled']:g} cancelled; run {figures['stop_status']}",
        ),
    ]
