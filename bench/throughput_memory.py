"""Memory of one throughput configuration while its timed pass runs: the peak PSS sum.

What is summed (PSS, ``/proc/<pid>/smaps_rollup``, read through ``bench.scaling_memory``)
is what running the tests on N browsers costs, the same processes for each runner:

- the Selenium Grid's JVMs (hub and node; a standalone's one) and everything below
  them: one chromedriver per session and its Chromium tree;
- the runner's own processes: a fleet's Celery workers (parent and pool children),
  the hand-tuned runner's spawned processes.

Left out, for every configuration alike: the demo site, the browsers' egress proxy and
the fleet's services that no browser count changes (Redis, PostgreSQL, API, gateway,
archiver, notifier). PSS splits each shared page between the processes mapping it, so
Chromium's shared code is counted once in all, not once per process.

A sampler thread reads the group every ``INTERVAL_S`` and keeps the sample with the
largest sum (the busiest point: every session open, each test's page loaded); the
process set is listed again at every sample, so sessions opened meanwhile count.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from bench.scaling_memory import (
    KB_PER_MB,
    Sampling,
    children,
    descendants,
    program,
    usage_kb,
)

INTERVAL_S = 1.0
"""Between two samples: often enough for a pass of tens of seconds, rare enough that
reading every Chromium process's page tables takes little from the pass it measures."""

Roots = Callable[[dict[int, list[int]]], list[int]]
"""The group's root processes, from the process tree (``children()``); their
descendants belong to the group too."""


@dataclass(frozen=True)
class Peak:
    """The busiest sample, in MB of PSS."""

    total_mb: float
    browsers_mb: float
    """Chromium trees and chromedrivers (everything below a Grid JVM)."""
    grid_mb: float
    """The Grid's JVMs themselves."""
    runner_mb: float
    """The workers' or the runner's processes."""
    sessions: int
    """Live chromedrivers at that moment: one per open browser session."""


def _mb(kb: int) -> float:
    return round(kb / KB_PER_MB, 1)


def sample(grid_roots: Roots, runner_roots: Roots) -> Peak:
    """Read the group once: the Grid's JVMs (found among ``grid_roots`` and their
    descendants) with their browsers, and the runner's processes."""
    tree = children()
    jvms = [
        pid
        for root in grid_roots(tree)
        for pid in (root, *descendants(root, tree))
        if program(pid) == "java"
    ]
    browsers = [pid for jvm in jvms for pid in descendants(jvm, tree)]
    runner = [pid for root in runner_roots(tree) for pid in (root, *descendants(root, tree))]
    grid_kb = sum(usage_kb(pid)[0] for pid in set(jvms))
    browsers_kb = sum(usage_kb(pid)[0] for pid in set(browsers))
    runner_kb = sum(usage_kb(pid)[0] for pid in set(runner) - set(browsers) - set(jvms))
    return Peak(
        total_mb=_mb(grid_kb + browsers_kb + runner_kb),
        browsers_mb=_mb(browsers_kb),
        grid_mb=_mb(grid_kb),
        runner_mb=_mb(runner_kb),
        sessions=sum(1 for pid in browsers if program(pid) == "chromedriver"),
    )


class PeakSampler(Sampling):
    """``with PeakSampler(grid_roots, runner_roots) as sampler:`` samples until the block
    ends; ``sampler.peak`` is then the busiest sample (None if none was taken)."""

    def __init__(self, grid_roots: Roots, runner_roots: Roots, interval_s: float = INTERVAL_S):
        super().__init__(interval_s, "memory-peak")
        self._grid_roots = grid_roots
        self._runner_roots = runner_roots
        self.peak: Peak | None = None

    def take(self) -> None:
        now = sample(self._grid_roots, self._runner_roots)
        if self.peak is None or now.total_mb > self.peak.total_mb:
            self.peak = now


def fixed(pids: list[int]) -> Roots:
    """Roots known by pid (a fleet's components, from ``testfleet status --json``)."""
    return lambda _tree: pids


def own_grid(tree: dict[int, list[int]]) -> list[int]:
    """This process's own Grid (``tests.fixtures_grid.running_grid``): its children's JVMs."""
    return [pid for pid in tree.get(os.getpid(), []) if program(pid) == "java"]


def own_spawned(tree: dict[int, list[int]]) -> list[int]:
    """This process's ``multiprocessing`` spawn children (the hand-tuned runner's)."""
    return [pid for pid in tree.get(os.getpid(), []) if _spawned(pid)]


def _spawned(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"spawn_main" in cmdline.read()
    except OSError:  # gone between listing and reading
        return False
