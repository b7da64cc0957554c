"""Throughput: the fleet against pytest-xdist and a hand-tuned runner, on the same tests.

Every configuration runs the same generated bench suites (``throughput_suites``:
44 tests of 5-10 steps on the demo site; 20 in quick mode) with 2 browsers:

- ``xdist_fresh`` (a): ``pytest -n 2``, a fresh ``webdriver.Remote`` per test, on a Grid;
- ``local_tuned`` (b): 2 processes, one long-lived driver each, on the same Grid;
- ``local_tuned_direct`` (b'): the same runner on local chromedriver (no Grid hop);
- ``playwright`` (e): Playwright's Python API, 2 processes with one browser
  (``/usr/bin/chromium``) each and a fresh browser context per test
  (``bench.playwright_runner``), no Grid;
- ``fleet_pooled`` (c) / ``fleet_unpooled`` (d): ``testfleet up --workers 2
  --browsers 2`` with ``grid.pool_size`` 1 / 0, suites submitted with
  ``testfleet run --json``, timed from submit to run_completed (the run's
  ``durationMs``); ``fleet_pooled_lend`` (c'): pooled, but each session reset
  right before it is lent (``grid.pool_reset = "lend"``) instead of in the
  background as it is given back: what moving the reset off the critical path buys;
  ``fleet_pooled_spare`` (c+): pooled with a warm spare per worker process
  (``grid.pool_spares`` 1): the same 2 workers, but 4 browsers (2N, not N + 1: the
  pool is per process), so the next test takes the spare while the returned session
  resets.

The baselines' Grid is a hub + node with 2 slots started like the fleet's
(``tests.fixtures_grid.running_grid``). Warm-up: before each timed pass, an
untimed pass of 4 short tests on the same configuration (JVM JIT, Chromium's
disk cache, Python imports); the tuned runner also opens its drivers before its
clock starts.

One pass decides nothing on a shared machine (two runs minutes apart once gave
fleet vs tuned 1.23x and 0.79x), so each configuration runs ``bench.repetitions``
(3) times, interleaved (A B C, A B C, ...), with the four fleets up throughout.
Each configuration's figures are those of its median pass; each ratio is the median
of the ratios of passes of the same repetition, with their range beside it, and a
ratio whose range straddles its target is printed "not established", not met.

Memory: during the timed passes of (b), (c) and (c+), the peak PSS of the Grid's
JVMs, its browsers and chromedrivers, and the runner's processes
(``bench.throughput_memory``); each configuration's figure is the median of its passes'
peaks. The warm spare's verdict: worth making the default only if (c+) / (c) is above
1.0 in every repetition and its memory grows by at most ``SPARE_MAX_MEMORY_GROWTH_PCT``.

Set ``TESTFLEET_BENCH__QUICK=1`` (or ``TESTFLEET_BENCH_QUICK=1``) for a quick
check (2 tests per suite).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast
from xml.etree import ElementTree

import redis

from bench import throughput_memory, throughput_pyspy
from bench.common import established, median_and_range, ratio
from bench.playwright_runner import run_playwright
from bench.throughput_figures import (
    case_phases,
    fleet_breakdown,
    mean_by_kind,
    step_kind_ms,
    throughput_per_min,
)
from bench.throughput_suites import write_suites
from bench.tuned_runner import run_tuned
from testfleet import keys
from testfleet.results import GOOD_STATUSES
from testfleet.settings import Settings
from tests.conftest import cli, fleet_env, port_env_var
from tests.fixtures_grid import grid_test_settings, running_demosite, running_grid

TITLE = "Throughput: fleet vs pytest-xdist, hand-tuned runner, Playwright (tests/min, 2 workers)"

ROOT = Path(__file__).resolve().parents[1]
PYTEST_BASELINE = ROOT / "bench" / "pytest_baseline.py"
PASS_TIMEOUT_S = 600.0
"""Upper bound on one timed pass of any configuration (it takes ~1 min in full mode)."""
WARMUP_KINDS = 4
"""Warm-up pass: the first test of this many bench suites."""
TARGET_VS_XDIST = 1.5
TARGET_VS_TUNED = 1.1
TARGET_VS_PLAYWRIGHT = 1.2
TARGET_OVERHEAD_PCT = 5.0
SPARE_MAX_MEMORY_GROWTH_PCT = 25.0
"""A warm spare becomes the default only if it costs at most this much more memory."""


def quick_mode() -> bool:
    # The bench runner's own switch, read where the runner starts (like a CLI flag).
    return os.environ.get("TESTFLEET_BENCH_QUICK", "") not in ("", "0")


FLEETS = (
    ("fleet_unpooled", 0, "giveback", 0),
    ("fleet_pooled_lend", 1, "lend", 0),
    ("fleet_pooled", 1, "giveback", 0),
    ("fleet_pooled_spare", 1, "giveback", 1),
)
"""The fleet configurations: name, ``grid.pool_size``, ``grid.pool_reset``,
``grid.pool_spares``."""
MEASURED_MEMORY = ("local_tuned", "fleet_pooled", "fleet_pooled_spare")
"""The configurations whose timed passes are sampled for memory."""
RATIOS = (
    ("fleet_vs_xdist", "fleet_pooled", "xdist_fresh", TARGET_VS_XDIST),
    ("fleet_vs_tuned", "fleet_pooled", "local_tuned", TARGET_VS_TUNED),
    ("fleet_vs_playwright", "fleet_pooled", "playwright", TARGET_VS_PLAYWRIGHT),
    ("giveback_vs_lend_reset", "fleet_pooled", "fleet_pooled_lend", None),
    ("fleet_unpooled_vs_xdist", "fleet_unpooled", "xdist_fresh", None),
    ("grid_hop_cost", "local_tuned_direct", "local_tuned", None),
    ("fleet_spare_vs_tuned", "fleet_pooled_spare", "local_tuned", TARGET_VS_TUNED),
    ("spare_vs_no_spare", "fleet_pooled_spare", "fleet_pooled", None),
)
"""Each ratio: its name, numerator and denominator configurations, and its target (>=)."""


def run(settings: Settings) -> dict[str, Any]:
    """Run every configuration ``bench.repetitions`` times, interleaved (A B C, A B C, ...),
    each pass after its warm-up, and return the medians with every repetition beside them."""
    quick = quick_mode() or settings.bench.quick
    repetitions = 1 if quick else settings.bench.repetitions
    figures: dict[str, Any] = {"quick": quick, "repetitions": repetitions}
    passes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="tf-bench-tp-") as tmp, contextlib.ExitStack() as up:
        base = Path(tmp)
        suites, warmup = base / "suites", base / "warmup"
        tests = write_suites(suites, per_template=2 if quick else None)
        write_suites(warmup, per_template=1, prefix="Warm-up ", kinds=WARMUP_KINDS)
        figures["tests"] = tests
        grid_settings = grid_test_settings(base / "grid")
        auth = grid_settings.security.grid_credentials
        demo = up.enter_context(running_demosite())
        grid_url = up.enter_context(running_grid(grid_settings))
        # Every fleet stays up through every repetition, so each pass of each configuration
        # runs beside the same idle processes: only the pass's own work differs.
        fleets = {
            name: up.enter_context(local_fleet(base / name, pool_size, reset, pool_spares=spares))
            for name, pool_size, reset, spares in FLEETS
        }
        for repetition in range(repetitions):
            passes["xdist_fresh"].append(_xdist(base, suites, warmup, demo, grid_url, tests, auth))
            passes["local_tuned"].append(
                _tuned("local_tuned", suites, warmup, demo, grid_url, auth)
            )
            passes["local_tuned_direct"].append(
                _tuned("local_tuned_direct", suites, warmup, demo, None, None)
            )
            passes["playwright"].append(_playwright(suites, warmup, demo))
            for name, env in fleets.items():
                state = base / name / f"pass-{repetition + 1}"
                passes[name].append(_fleet(name, env, state, suites, warmup))
        profiled = base / "profiled"
        write_suites(profiled, per_template=1, prefix="Profiled ")
        figures["fleet_pooled_pyspy_pct"] = pyspy_pass(
            fleets["fleet_pooled"], profiled, base / "fleet_pooled"
        )
    for name, repeated in passes.items():
        figures.update(median_pass(name, repeated))
    for name in MEASURED_MEMORY:
        peaks = [float(p[f"{name}_peak_pss_mb"]) for p in passes[name]]
        figures[f"{name}_peak_pss_mb"] = median_and_range(peaks)["median"]
        figures[f"{name}_peak_pss_mb_reps"] = peaks
    for name, numerator, denominator, _ in RATIOS:
        paired = [
            ratio(top[numerator], bottom[denominator])
            for top, bottom in zip(passes[numerator], passes[denominator], strict=True)
        ]
        spread = median_and_range(paired)
        figures[name] = spread["median"]
        figures[f"{name}_reps"] = paired
        figures[f"{name}_range"] = spread["range"]
    figures["fleet_overhead_pct"] = figures["fleet_breakdown_ms"].get("overhead_pct_of_browser")
    overheads = [
        p["fleet_breakdown_ms"].get("overhead_pct_of_browser") for p in passes["fleet_pooled"]
    ]
    figures["fleet_overhead_pct_reps"] = overheads
    figures.update(spare_memory(figures))
    return figures


def spare_memory(figures: dict[str, Any]) -> dict[str, Any]:
    """The warm spare's memory cost against the pooled fleet and the tuned runner, and the
    default it earns: a spare only when its gain is established above 1.0 and memory grows
    by at most ``SPARE_MAX_MEMORY_GROWTH_PCT``."""
    spare = float(figures["fleet_pooled_spare_peak_pss_mb"])
    pooled = float(figures["fleet_pooled_peak_pss_mb"])
    tuned = float(figures["local_tuned_peak_pss_mb"])
    growth_pct = round(100.0 * (spare / pooled - 1.0), 1) if pooled else None
    # "met" needs every repetition above 1.0: a pass that merely ties shows no gain.
    gain = established(figures.get("spare_vs_no_spare_reps") or [], 1.0 + 1e-9)
    cheap = growth_pct is not None and growth_pct <= SPARE_MAX_MEMORY_GROWTH_PCT
    return {
        "spare_memory_growth_pct": growth_pct,
        "fleet_memory_vs_tuned": ratio(pooled, tuned),
        "fleet_spare_memory_vs_tuned": ratio(spare, tuned),
        "spare_gain_established": gain,
        "spare_default": 1 if gain == "met" and cheap else 0,
    }


def median_pass(name: str, repeated: list[dict[str, Any]]) -> dict[str, Any]:
    """One configuration's figures: those of its median pass (by tests/min; for an even count
    the lower middle), with ``name`` the median tests/min and ``name_reps`` every pass's."""
    ranked = sorted(repeated, key=lambda p: float(p[name]))
    figures = dict(ranked[(len(ranked) - 1) // 2])
    throughputs = [float(p[name]) for p in repeated]
    figures[name] = median_and_range(throughputs)["median"]
    figures[f"{name}_reps"] = throughputs
    return figures


def _xdist(
    base: Path,
    suites: Path,
    warmup: Path,
    demo: str,
    grid_url: str,
    tests: int,
    auth: tuple[str, str] | None,
) -> dict[str, Any]:
    env = {
        **os.environ,
        "DEMO_URL": demo,
        "TESTFLEET_BENCH_GRID_URL": grid_url,
        "TESTFLEET_BENCH_GRID_AUTH": ":".join(auth) if auth else "",
        "PYTHONPATH": str(ROOT),
    }
    junit = base / "xdist.xml"

    def once(directory: Path) -> tuple[float, dict[str, int]]:
        command = [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-q"]
        command += [f"--junitxml={junit}", str(PYTEST_BASELINE)]
        started = time.monotonic()
        done = subprocess.run(
            command,
            cwd=ROOT,
            env={**env, "TESTFLEET_BENCH_SUITES": str(directory)},
            capture_output=True,
            text=True,
            timeout=PASS_TIMEOUT_S,
            check=False,
        )
        wall_s = time.monotonic() - started
        counts = _junit_counts(junit)
        if counts["tests"] == 0:
            output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            raise RuntimeError(f"pytest baseline ran no test:\n{output}")
        return wall_s, counts

    once(warmup)
    wall_s, counts = once(suites)
    if counts["tests"] != tests:
        raise RuntimeError(f"pytest baseline ran {counts['tests']} tests, expected {tests}")
    return {
        "xdist_fresh": throughput_per_min(tests, wall_s),
        "xdist_fresh_wall_s": round(wall_s, 1),
        "xdist_fresh_failed": counts["failed"],
    }


def _junit_counts(path: Path) -> dict[str, int]:
    """Tests and failures (failures + errors) from pytest's JUnit XML (our own file)."""
    if not path.exists():
        return {"tests": 0, "failed": 0}
    suite = ElementTree.parse(path).getroot()  # our own pytest run wrote it: trusted XML
    node = suite if suite.tag == "testsuite" else suite.find("testsuite")
    if node is None:
        return {"tests": 0, "failed": 0}
    failed = int(node.get("failures", 0)) + int(node.get("errors", 0))
    return {"tests": int(node.get("tests", 0)), "failed": failed}


def _tuned(
    name: str,
    suites: Path,
    warmup: Path,
    demo: str,
    grid_url: str | None,
    auth: tuple[str, str] | None,
) -> dict[str, Any]:
    sampling = name in MEASURED_MEMORY
    with contextlib.ExitStack() as measuring:
        sampler = throughput_memory.PeakSampler(
            throughput_memory.own_grid, throughput_memory.own_spawned
        )
        if sampling:
            measuring.enter_context(sampler)
        result = run_tuned(suites, warmup, demo, grid_url, processes=2, auth=auth)
    return {
        **(_memory(name, sampler.peak) if sampling else {}),
        name: throughput_per_min(result.tests, result.wall_s),
        f"{name}_wall_s": round(result.wall_s, 1),
        f"{name}_failed": len(result.failed),
        f"{name}_open_driver_s": [round(s, 2) for s in result.open_driver_s],
        f"{name}_step_ms": mean_by_kind(result.step_ms),
        f"{name}_steps_per_test_ms": round(sum(ms for _, ms in result.step_ms) / result.tests, 1),
        f"{name}_reset_ms": round(statistics.fmean(result.reset_ms), 1) if result.reset_ms else 0,
        **({f"{name}_failures": result.failed[:5]} if result.failed else {}),
    }


def _playwright(suites: Path, warmup: Path, demo: str) -> dict[str, Any]:
    result = run_playwright(suites, warmup, demo, processes=2)
    steps_ms = sum(ms for _, ms in result.step_ms)
    context_ms = statistics.fmean(result.reset_ms) if result.reset_ms else 0.0
    return {
        "playwright": throughput_per_min(result.tests, result.wall_s),
        "playwright_wall_s": round(result.wall_s, 1),
        "playwright_failed": len(result.failed),
        "playwright_launch_s": [round(s, 2) for s in result.open_driver_s],
        "playwright_step_ms": mean_by_kind(result.step_ms),
        "playwright_steps_per_test_ms": round(steps_ms / result.tests, 1),
        "playwright_context_ms": round(context_ms, 1),
        **({"playwright_failures": result.failed[:5]} if result.failed else {}),
    }


def _memory(name: str, peak: throughput_memory.Peak | None) -> dict[str, Any]:
    if peak is None:
        return {}
    return {f"{name}_peak_pss_mb": peak.total_mb, f"{name}_memory_at_peak": asdict(peak)}


@contextlib.contextmanager
def local_fleet(
    state_dir: Path,
    pool_size: int,
    pool_reset: str = "giveback",
    size: int = 2,
    *,
    pool_spares: int = 0,
) -> Iterator[dict[str, str]]:
    """``testfleet up --workers SIZE --browsers SIZE x (1 + POOL_SPARES)`` on free ports and
    ``state_dir``; always down."""
    env = fleet_env(
        state_dir,
        TESTFLEET_GRID__POOL_SIZE=str(pool_size),
        TESTFLEET_GRID__POOL_RESET=pool_reset,
        TESTFLEET_GRID__POOL_SPARES=str(pool_spares),
    )
    browsers = size * (1 + pool_spares)
    try:
        up = cli("up", "--workers", str(size), "--browsers", str(browsers), env=env)
        if up.returncode != 0:
            logs = "\n".join(
                f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
                for log in sorted((state_dir / "logs").glob("*.log"))
            )
            raise RuntimeError(f"testfleet up failed:\n{up.stdout}\n{up.stderr}\n{logs}")
        status = json.loads(cli("status", "--json", env=env).stdout)
        # From here on the env names the ports the fleet listens on (as start_fleet's does):
        # a port of 0 would be no demo site for the CLI's target policy.
        env.update({port_env_var(name): str(port) for name, port in status["ports"].items()})
        env["DEMO_URL"] = str(status["demo_url"])
        yield env
    finally:
        cli("down", env=env)


def _fleet(
    name: str, env: dict[str, str], state_dir: Path, suites: Path, warmup: Path
) -> dict[str, Any]:
    """One timed pass of the fleet ``env`` names (up), after its warm-up pass."""
    state_dir.mkdir(parents=True, exist_ok=True)
    submit(env, warmup, state_dir / "warmup.json")
    grid, runner = _fleet_roots(env)
    sampling = name in MEASURED_MEMORY
    with contextlib.ExitStack() as measuring:
        sampler = throughput_memory.PeakSampler(grid, runner)
        if sampling:
            measuring.enter_context(sampler)
        started = time.monotonic()
        result = submit(env, suites, state_dir / "run.json")
        cli_wall_s = time.monotonic() - started
    events = run_events(env, result["runId"])
    tests = len(result["tests"])
    failed = sum(1 for t in result["tests"] if t["status"] not in GOOD_STATUSES)
    duration_s = result["durationMs"] / 1000.0
    figures: dict[str, Any] = {
        name: throughput_per_min(tests, duration_s),
        f"{name}_wall_s": round(duration_s, 1),
        f"{name}_cli_wall_s": round(cli_wall_s, 1),
        f"{name}_tests": tests,
        f"{name}_failed": failed,
        **(_memory(name, sampler.peak) if sampling else {}),
    }
    if failed:
        figures[f"{name}_failures"] = [
            f"{t['suite']}/{t['name']}: {t.get('failure')}"
            for t in result["tests"]
            if t["status"] not in GOOD_STATUSES
        ][:5]
    key = "fleet_breakdown_ms" if name == "fleet_pooled" else f"{name}_breakdown_ms"
    figures[key] = {**fleet_breakdown(result), **case_phases(result, events)}
    figures[f"{name}_step_ms"] = step_kind_ms(result)
    return figures


def _fleet_roots(
    env: dict[str, str],
) -> tuple[throughput_memory.Roots, throughput_memory.Roots]:
    """The fleet's Grid components and its Celery worker parents, by pid."""
    status = json.loads(cli("status", "--json", env=env).stdout)
    named = [(str(p["name"]), int(p["pid"])) for p in status["processes"]]
    grid = [pid for name, pid in named if name in ("grid-hub", "grid-node")]
    workers = [pid for name, pid in named if name.startswith("worker")]
    return throughput_memory.fixed(grid), throughput_memory.fixed(workers)


def pyspy_pass(env: dict[str, str], suites: Path, state_dir: Path) -> dict[str, Any]:
    """Run ``suites`` once more with py-spy on every worker: where their time goes, by code.

    A separate pass, so that sampling (ptrace stops) never slows the timed one.
    """
    if throughput_pyspy.py_spy() is None:
        return {"skipped": "py-spy is not installed (pip install py-spy)"}
    status = json.loads(cli("status", "--json", env=env).stdout)
    pids = [int(p["pid"]) for p in status["processes"] if str(p["name"]).startswith("worker")]
    recorders = throughput_pyspy.start(pids, state_dir)
    try:
        submit(env, suites, state_dir / "profiled.json")
    finally:
        files, said = throughput_pyspy.stop(recorders)
    summary = throughput_pyspy.summarise(files)
    if not summary:
        return {"skipped": f"py-spy recorded nothing (it needs ptrace, e.g. root): {said}"}
    return summary


def submit(env: dict[str, str], suites: Path, out: Path, *options: str) -> dict[str, Any]:
    """``testfleet run SUITES --json OUT [OPTIONS]``; the run's result (failed tests too)."""
    command = ("run", str(suites), "--json", str(out), *options)
    done = cli(*command, env=env, timeout_s=PASS_TIMEOUT_S)
    if not out.exists():
        raise RuntimeError(f"testfleet run wrote no result:\n{done.stdout[-3000:]}\n{done.stderr}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_events(env: dict[str, str], run_id: str) -> list[dict[str, Any]]:
    """Every event the fleet recorded for one run, from its Redis stream (for the profile)."""
    status = json.loads(cli("status", "--json", env=env).stdout)
    client = redis.Redis.from_url(status["redis_url"], decode_responses=True)
    try:
        # decode_responses=True: ids and fields come back as str (the stubs cannot say so).
        entries = cast("list[tuple[str, dict[str, str]]]", client.xrange(keys.run_events(run_id)))
    finally:
        client.close()
    return [json.loads(fields["d"]) for _, fields in entries]


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The table: tests/min per configuration, the ratios against their targets, the profile."""

    def tpm(key: str, what: str) -> tuple[str, str, str]:
        failed = figures.get(f"{key}_failed", 0)
        note = f"{what}; {figures.get(f'{key}_wall_s')} s"
        reps = figures.get(f"{key}_reps") or []
        note += f"; passes {', '.join(str(r) for r in reps)}" if len(reps) > 1 else ""
        note += f"; {failed} FAILED" if failed else ""
        return (key, f"{figures.get(key)} t/min", note)

    def spread(key: str) -> str:
        low, high = figures.get(f"{key}_range") or (None, None)
        return f" (range {low}-{high})" if len(figures.get(f"{key}_reps") or []) > 1 else ""

    breakdown: dict[str, float] = figures.get("fleet_breakdown_ms", {})
    giveback = figures.get("giveback_vs_lend_reset")
    giveback_note = (
        f"(c) / (c'): the reset moved off the critical path{spread('giveback_vs_lend_reset')}"
    )
    overhead = figures.get("fleet_overhead_pct") or 0.0
    overheads = [o for o in figures.get("fleet_overhead_pct_reps") or [overhead] if o is not None]
    # Lower is better: established when every repetition is within the target.
    overhead_ok = established([-o for o in overheads], -TARGET_OVERHEAD_PCT)
    overhead_note = f"<= {TARGET_OVERHEAD_PCT:g} % of browser {overhead_ok}"
    if len(overheads) > 1:
        overhead_note += f" (range {min(overheads)}-{max(overheads)})"

    def at_least(key: str, target: float) -> tuple[str, str, str]:
        value = figures.get(key) or 0.0
        reps = figures.get(f"{key}_reps") or [value]
        return (key, f"{value}x", f">= {target}x {established(reps, target)}{spread(key)}")

    passes = figures.get("repetitions", 1)
    out = [
        ("tests per pass", str(figures.get("tests")), "quick" if figures.get("quick") else "full"),
        ("passes per configuration", str(passes), "interleaved; medians shown, ranges beside"),
        tpm("xdist_fresh", "(a) pytest -n 2, fresh driver, Grid"),
        tpm("local_tuned", "(b) 2 procs, 1 driver each, Grid"),
        tpm("local_tuned_direct", "(b') same, local chromedriver"),
        tpm("playwright", "(e) Playwright, 2 procs, 1 browser each, fresh context per test"),
        tpm("fleet_pooled", "(c) fleet, pool_size 1, reset at give-back"),
        tpm("fleet_pooled_lend", "(c') fleet, pool_size 1, reset at lend"),
        tpm("fleet_unpooled", "(d) fleet, pool_size 0"),
        tpm(
            "fleet_pooled_spare",
            "(c+) fleet, pool_size 1 + a warm spare per worker process: 2 workers, "
            "4 browsers (2N, not N+1)",
        ),
        at_least("fleet_vs_xdist", TARGET_VS_XDIST),
        at_least("fleet_vs_tuned", TARGET_VS_TUNED),
        at_least("fleet_vs_playwright", TARGET_VS_PLAYWRIGHT),
        at_least("fleet_spare_vs_tuned", TARGET_VS_TUNED),
        ("giveback_vs_lend_reset", f"{giveback}x", giveback_note),
        ("fleet overhead", f"{overhead} %", overhead_note),
    ]
    out += spare_rows(figures, spread("spare_vs_no_spare"))
    out += [(f"  pooled {k}", f"{v}", "mean per test") for k, v in breakdown.items()]
    lend: dict[str, float] = figures.get("fleet_pooled_lend_breakdown_ms", {})
    out += [
        (f"  (c') lend {k}", f"{lend.get(k)}", "mean per test, reset at lend")
        for k in ("session_start_ms", "finish_ms", "between_cases_ms", "overhead_pct_of_browser")
        if k in lend
    ]
    spare: dict[str, float] = figures.get("fleet_pooled_spare_breakdown_ms", {})
    out += [
        (f"  (c+) spare {k}", f"{spare.get(k)}", "mean per test, a warm spare per worker")
        for k in ("session_start_ms", "finish_ms", "between_cases_ms", "overhead_pct_of_browser")
        if k in spare
    ]
    pyspy: dict[str, Any] = figures.get("fleet_pooled_pyspy_pct", {})
    out += [(f"  pooled py-spy {k}", f"{v}", "% of pool-child samples") for k, v in pyspy.items()]
    plain_ms = figures.get("local_tuned_steps_per_test_ms")
    playwright_ms = figures.get("playwright_steps_per_test_ms")
    context_ms = figures.get("playwright_context_ms")
    same_tests = "mean per test, same tests"
    isolation = "mean per test: Playwright's isolation cost"
    out += [
        ("  (b) plain steps_ms", f"{plain_ms}", f"{same_tests}, plain Selenium executor"),
        ("  (e) Playwright steps_ms", f"{playwright_ms}", same_tests),
        ("  (e) context new + close", f"{context_ms} ms", isolation),
    ]
    return out


def spare_rows(figures: dict[str, Any], spread: str) -> list[tuple[str, str, str]]:
    """The warm spare against the pooled fleet: its gain, the memory of each measured
    configuration, and the default that follows."""
    gain = figures.get("spare_gain_established")
    growth = figures.get("spare_memory_growth_pct")
    out = [
        (
            "spare_vs_no_spare",
            f"{figures.get('spare_vs_no_spare')}x",
            f"(c+) / (c): gain above 1.0 {gain}{spread}",
        )
    ]
    for name, what in (
        ("local_tuned", "(b) tuned runner, 2 browsers"),
        ("fleet_pooled", "(c) fleet, 2 browsers"),
        ("fleet_pooled_spare", "(c+) fleet + spare, 4 browsers"),
    ):
        peak: dict[str, float] = figures.get(f"{name}_memory_at_peak") or {}
        reps = figures.get(f"{name}_peak_pss_mb_reps") or []
        note = (
            f"{what}: peak PSS of Grid JVMs + browsers + runner processes, median of passes"
            f" ({', '.join(str(r) for r in reps)}); median pass at its peak: browsers "
            f"{peak.get('browsers_mb')}, Grid {peak.get('grid_mb')}, runner "
            f"{peak.get('runner_mb')} MB, {peak.get('sessions')} sessions"
        )
        out.append((f"memory {name}", f"{figures.get(f'{name}_peak_pss_mb')} MB", note))
    out += [
        (
            "spare memory growth",
            f"{growth} %",
            f"(c+) vs (c); <= {SPARE_MAX_MEMORY_GROWTH_PCT:g} % to be the default",
        ),
        (
            "memory vs tuned",
            f"{figures.get('fleet_memory_vs_tuned')}x / "
            f"{figures.get('fleet_spare_memory_vs_tuned')}x",
            "(c) / (b) and (c+) / (b), same 2 workers",
        ),
        (
            "grid.pool_spares default",
            str(figures.get("spare_default")),
            "1 only if the gain is established above 1.0 and memory grows <= "
            f"{SPARE_MAX_MEMORY_GROWTH_PCT:g} %",
        ),
    ]
    return out
