"""Scaling: how the fleet's throughput, per-test overhead and memory grow with its size.

For each size N in 1, 2 and 4: ``testfleet up --workers N --browsers N`` with
``grid.pool_size`` 1 (the default: each worker keeps its session and resets it
at give-back), the throughput bench's generated suites (``throughput_suites``:
44 tests; 20 in quick mode) submitted with ``testfleet run --json`` and timed
from submit to run_completed (the run's ``durationMs``). Before each timed
pass, an untimed warm-up of 2N short tests (at least 4) on the same fleet, so
that every worker has opened its pooled session before the clock starts.
Sizes run one after the other, each on a fleet of its own.

Per size:

- tests/min and the speed-up over 1 browser (and that speed-up as a percent
  of N, the ideal); on a machine with fewer CPUs than browsers the browsers
  compete for them, which is what this shows;
- where the time goes, per test: ``throughput_figures.fleet_breakdown`` and
  ``case_phases`` on the run's result and events (browser steps, in-case
  overhead, gaps between cases, session start), overhead as a percent of
  browser time;
- memory while the timed pass runs (``scaling_memory``: PSS from ``/proc``
  every 0.5 s): MB per browser session (its chromedriver and Chromium tree),
  per worker (the Celery parent and its pool child) and the peak total.

For the largest size only, an extra untimed pass of 10 tests under py-spy
(``bench_throughput.pyspy_pass``): the workers' pool children's samples by code.

Set ``TESTFLEET_BENCH__QUICK=1`` (or ``TESTFLEET_BENCH_QUICK=1``) for a quick
check (2 tests per suite).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_throughput import (
    WARMUP_KINDS,
    local_fleet,
    pyspy_pass,
    quick_mode,
    run_events,
    submit,
)
from bench.common import ratio
from bench.scaling_memory import MemorySampler, summarise
from bench.throughput_figures import case_phases, fleet_breakdown, throughput_per_min
from bench.throughput_suites import TEMPLATES, write_suites
from testfleet.results import GOOD_STATUSES
from testfleet.settings import Settings
from tests.conftest import cli

TITLE = "Scaling: tests/min, overhead and memory with 1, 2 and 4 browsers (one worker each)"

SIZES = (1, 2, 4)
"""Browsers, and workers, per fleet."""
WHERE_THE_TIME_GOES = ("browser_steps_ms", "in_case_overhead_ms", "between_cases_ms")


def warmup_kinds(size: int) -> int:
    """Warm-up tests for a fleet of ``size`` workers: two each (at least ``WARMUP_KINDS``),
    so that every worker most likely opens its session before the timed pass."""
    return min(len(TEMPLATES), max(WARMUP_KINDS, 2 * size))


def speedups(tests_per_min: dict[int, float]) -> dict[int, dict[str, float]]:
    """Per size: ``speedup`` over the smallest size and ``efficiency_pct``, the speed-up
    as a percent of the ideal (size / smallest size). NaN when the smallest ran nothing."""
    smallest = min(tests_per_min)
    base = tests_per_min[smallest]
    out: dict[int, dict[str, float]] = {}
    for size, tpm in sorted(tests_per_min.items()):
        speedup = ratio(tpm, base)
        out[size] = {
            "speedup": speedup,
            "efficiency_pct": round(100.0 * speedup * smallest / size, 1),
        }
    return out


def run(settings: Settings) -> dict[str, Any]:
    """Run each size once (after its warm-up) and return the figures, keyed by size."""
    quick = quick_mode() or settings.bench.quick
    figures: dict[str, Any] = {"quick": quick, "cpus": os.cpu_count()}
    by_size: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="tf-bench-scale-") as tmp:
        base = Path(tmp)
        suites, profiled = base / "suites", base / "profiled"
        figures["tests"] = write_suites(suites, per_template=2 if quick else None)
        write_suites(profiled, per_template=1, prefix="Profiled ")
        for size in SIZES:
            warmup = base / f"warmup-{size}"
            write_suites(warmup, per_template=1, prefix="Warm-up ", kinds=warmup_kinds(size))
            extra = profiled if size == max(SIZES) else None
            by_size[str(size)] = _size(size, base / f"fleet-{size}", suites, warmup, extra)
    gains = speedups({int(n): f["tests_per_min"] for n, f in by_size.items()})
    for size, gain in gains.items():
        by_size[str(size)].update(gain)
    figures["by_size"] = by_size
    return figures


def _fleet_pids(env: dict[str, str]) -> tuple[int, list[int]]:
    """The Grid node component's pid and the Celery worker parents' pids."""
    status = json.loads(cli("status", "--json", env=env).stdout)
    processes = {str(p["name"]): int(p["pid"]) for p in status["processes"]}
    if "grid-node" not in processes:
        raise RuntimeError(f"testfleet status lists no grid-node: {sorted(processes)}")
    workers = [pid for name, pid in processes.items() if name.startswith("worker")]
    return processes["grid-node"], workers


def _size(
    size: int, state_dir: Path, suites: Path, warmup: Path, profiled: Path | None
) -> dict[str, Any]:
    """One fleet of ``size`` browsers and workers: its timed pass, breakdown and memory."""
    profile: dict[str, Any] | None = None
    with local_fleet(state_dir, pool_size=1, size=size) as env:
        submit(env, warmup, state_dir / "warmup.json")
        node_pid, worker_pids = _fleet_pids(env)
        with MemorySampler(node_pid, worker_pids) as sampler:
            result = submit(env, suites, state_dir / "run.json")
        events = run_events(env, result["runId"])
        if profiled is not None:
            profile = pyspy_pass(env, profiled, state_dir)
    tests = len(result["tests"])
    bad = [t for t in result["tests"] if t["status"] not in GOOD_STATUSES]
    duration_s = result["durationMs"] / 1000.0
    figures: dict[str, Any] = {
        "tests_per_min": throughput_per_min(tests, duration_s),
        "wall_s": round(duration_s, 1),
        "tests": tests,
        "failed": len(bad),
        "workers": len(worker_pids),
        "breakdown_ms": {**fleet_breakdown(result), **case_phases(result, events)},
        "memory_mb": summarise(sampler.samples, len(worker_pids)),
    }
    if bad:
        figures["failures"] = [f"{t['suite']}/{t['name']}: {t.get('failure')}" for t in bad][:5]
    if profile is not None:
        figures["pyspy_pct"] = profile
    return figures


def _memory_note(memory: dict[str, float]) -> str:
    if memory.get("sessions_max") and not memory.get("mb_per_session"):
        return "browser memory unreadable (needs root to read the browser user's /proc)"
    per_browser, per_worker = memory.get("mb_per_session"), memory.get("mb_per_worker")
    return f"{per_browser} MB/browser, {per_worker} MB/worker (PSS)"


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    """One line per size (tests/min, speed-up, overhead, session start, memory), then
    where each size's time goes, memory peaks and (largest size) the py-spy buckets."""
    by_size: dict[str, dict[str, Any]] = figures.get("by_size", {})
    mode = "quick" if figures.get("quick") else "full"
    out = [("tests per pass", str(figures.get("tests")), f"{mode}; {figures.get('cpus')} CPUs")]
    for size, f in by_size.items():
        breakdown: dict[str, float] = f.get("breakdown_ms", {})
        failed = f.get("failed", 0)
        note = (
            f"{f.get('speedup')}x vs 1 ({f.get('efficiency_pct')} % of ideal); "
            f"overhead {breakdown.get('overhead_pct_of_browser')} % of browser; "
            f"session_start {breakdown.get('session_start_ms')} ms; "
            f"{_memory_note(f.get('memory_mb', {}))}; {f.get('wall_s')} s"
        )
        note += f"; {failed} FAILED" if failed else ""
        out.append((f"{size} browser(s) + workers", f"{f.get('tests_per_min')} t/min", note))
    for size, f in by_size.items():
        breakdown = f.get("breakdown_ms", {})
        out += [
            (f"  {size}: {k}", f"{breakdown.get(k)}", "mean per test") for k in WHERE_THE_TIME_GOES
        ]
    for size, f in by_size.items():
        memory: dict[str, float] = f.get("memory_mb", {})
        note = (
            f"PSS, browsers + workers (peaks alone: {memory.get('peak_browsers_mb')}, "
            f"{memory.get('peak_workers_mb')}); "
            f"{memory.get('mb_per_worker_process')} MB per worker process; "
            f"RSS sum {memory.get('mb_per_session_rss')} MB/browser; sessions open "
            f"{memory.get('sessions_min')}-{memory.get('sessions_max')}"
        )
        out.append((f"  {size}: peak total MB", f"{memory.get('peak_total_mb')}", note))
    for size, f in by_size.items():
        pyspy: dict[str, Any] = f.get("pyspy_pct", {})
        for k, v in pyspy.items():
            share = "pool-child samples" if k == "samples" else "% of pool-child samples"
            out.append((f"  {size}: py-spy {k}", f"{v}", share))
    return out
