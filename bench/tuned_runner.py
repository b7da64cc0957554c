"""Baselines (b) and (b'): a hand-tuned runner, one long-lived driver per process.

What a performance-minded engineer writes instead of pytest: N processes
(``multiprocessing``, spawn), each opens ONE browser and keeps it, pulls tests
from a shared queue, and resets cookies and storage between tests. Drivers are
opened and warmed (one untimed warm-up test each) before the clock starts, so
the figure is the runner's steady state, like a pooled fleet after its warm-up.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from bench.plain_selenium import PlainStepFailed, open_driver, reset_browser, run_test
from bench.throughput_suites import load_suites

READY_TIMEOUT_S = 180.0
"""How long the runner waits for every process to open its browser (a busy 2-core box)."""
RESULT_TIMEOUT_S = 120.0
"""Longest a single bench test may take before the runner gives up on the whole run."""


@dataclass(frozen=True)
class TunedResult:
    """One timed pass: how many tests ran, how many failed, and the wall time in seconds."""

    tests: int
    failed: list[str]
    wall_s: float
    open_driver_s: list[float]
    """Per process: how long opening its browser took (not in ``wall_s``)."""
    step_ms: list[tuple[str, float]]
    """``(step_type, milliseconds)`` of every step that passed, from every process."""
    reset_ms: list[float]
    """How long each reset between two tests took."""


def _worker(
    suites_dir: str,
    warmup_dir: str,
    demo_url: str,
    grid_url: str | None,
    auth: tuple[str, str] | None,
    tasks: multiprocessing.Queue[tuple[int, int] | None],
    results: multiprocessing.Queue[tuple[str, Any]],
    start: EventType,
) -> None:
    suites = load_suites(Path(suites_dir), demo_url)
    warmup = load_suites(Path(warmup_dir), demo_url)
    opened = time.monotonic()
    driver = open_driver(grid_url, auth=auth)
    try:
        results.put(("opened", time.monotonic() - opened))
        run_test(driver, warmup[0], warmup[0].tests[0])
        reset_browser(driver)
        results.put(("ready", None))
        start.wait()
        while (task := tasks.get()) is not None:
            suite = suites[task[0]]
            test = suite.tests[task[1]]
            step_ms: list[tuple[str, float]] = []
            try:
                run_test(driver, suite, test, step_ms=step_ms)
                outcome: tuple[str, Any] = ("passed", f"{suite.name}/{test.name}")
            except PlainStepFailed as exc:
                outcome = ("failed", str(exc))
            reset_started = time.perf_counter()
            reset_browser(driver)
            results.put(("timings", (step_ms, (time.perf_counter() - reset_started) * 1000.0)))
            results.put(outcome)
    finally:
        driver.quit()


def run_tuned(
    suites_dir: Path,
    warmup_dir: str | Path,
    demo_url: str,
    grid_url: str | None,
    processes: int = 2,
    auth: tuple[str, str] | None = None,
    worker: Callable[..., None] | None = None,
) -> TunedResult:
    """Run every test in ``suites_dir`` on ``processes`` long-lived browsers; time the pass.

    ``grid_url`` None drives local chromedriver directly (baseline b'); ``auth`` is the
    Grid router's (user, password). ``worker``: another process body with the same
    arguments and messages (``bench.playwright_runner``'s); default, the Selenium one.
    """
    ctx = multiprocessing.get_context("spawn")
    tasks: multiprocessing.Queue[tuple[int, int] | None] = ctx.Queue()
    results: multiprocessing.Queue[tuple[str, Any]] = ctx.Queue()
    start = ctx.Event()
    suites = load_suites(suites_dir, demo_url)
    for si, suite in enumerate(suites):
        for ti in range(len(suite.tests)):
            tasks.put((si, ti))
    for _ in range(processes):
        tasks.put(None)
    total = sum(len(s.tests) for s in suites)
    workers = [
        ctx.Process(
            target=worker or _worker,
            args=(
                str(suites_dir),
                str(warmup_dir),
                demo_url,
                grid_url,
                auth,
                tasks,
                results,
                start,
            ),
        )
        for _ in range(processes)
    ]
    for process in workers:
        process.start()
    try:
        opened: list[float] = []
        ready = 0
        while ready < processes:
            kind, value = _next(results, workers, READY_TIMEOUT_S)
            if kind == "opened":
                opened.append(float(value))
            elif kind == "ready":
                ready += 1
            else:
                raise RuntimeError(f"tuned runner warm-up failed: {value}")
        started = time.monotonic()
        start.set()
        failed: list[str] = []
        step_ms: list[tuple[str, float]] = []
        reset_ms: list[float] = []
        done = 0
        while done < total:
            kind, value = _next(results, workers, RESULT_TIMEOUT_S)
            if kind == "timings":
                step_ms += [(str(k), float(ms)) for k, ms in value[0]]
                reset_ms.append(float(value[1]))
                continue
            done += 1
            if kind == "failed":
                failed.append(str(value))
        wall_s = time.monotonic() - started
    finally:
        start.set()
        for process in workers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
    return TunedResult(total, failed, wall_s, opened, step_ms, reset_ms)


def _next(
    results: multiprocessing.Queue[tuple[str, Any]],
    workers: Sequence[multiprocessing.process.BaseProcess],
    timeout_s: float,
) -> tuple[str, Any]:
    """The next message from a worker; fails fast when a worker died instead of hanging."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return results.get(timeout=0.5)
        except queue.Empty:
            dead = [p for p in workers if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(
                    f"tuned runner process exited with {dead[0].exitcode}; see its traceback above"
                ) from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"tuned runner: no result within {timeout_s:g} s") from None
