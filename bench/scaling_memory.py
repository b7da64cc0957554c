"""Memory of a running fleet's browsers and workers, sampled from ``/proc`` while a pass runs.

A background thread reads, every ``interval_s`` (0.5 s), the proportional set
size (PSS, ``/proc/<pid>/smaps_rollup``) of two groups of processes:

- browser sessions: every descendant of the Grid node's ``java`` process, that
  is one ``chromedriver`` per session and its Chromium tree (browser, zygotes,
  GPU, network, storage and renderer processes); the live ``chromedriver``
  processes are the session count;
- workers: each Celery worker parent (``worker-*`` in ``testfleet status --json``)
  and its descendants (the pool child that runs the test cases).

PSS splits each shared page evenly between the processes that map it, so the
sums neither count Chromium's shared code once per process (as RSS sums do) nor
leave it out. Its one bias: pages shared with processes outside the group (for
example another Chromium on the machine) are charged to the group only in
part. RSS sums are kept beside it as the upper bound.

Reading another user's ``smaps_rollup`` needs root or ``CAP_SYS_PTRACE``; the
Chromium processes run as the node's browser user, so without it their figures
stay 0 and the summary says so.
"""

from __future__ import annotations

import os
import statistics
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

PROC = Path("/proc")
INTERVAL_S = 0.5
KB_PER_MB = 1024.0


@dataclass(frozen=True)
class Sample:
    """One reading of both groups, in kB."""

    browser_pss_kb: int
    browser_rss_kb: int
    sessions: int
    """Live ``chromedriver`` processes: one per open Grid session."""
    browser_processes: int
    worker_pss_kb: int
    worker_rss_kb: int
    worker_processes: int


def parse_rollup(text: str) -> tuple[int, int]:
    """``(pss_kb, rss_kb)`` from the text of ``/proc/<pid>/smaps_rollup`` (0 when absent)."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        value = rest.split()
        if name in ("Pss", "Rss") and value and value[0].isdigit():
            fields[name] = int(value[0])
    return fields.get("Pss", 0), fields.get("Rss", 0)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:  # gone between listing and reading, or not ours to read
        return ""


def usage_kb(pid: int) -> tuple[int, int]:
    """``(pss_kb, rss_kb)`` of one process; ``(0, 0)`` for a zombie or a vanished one."""
    return parse_rollup(_read(PROC / str(pid) / "smaps_rollup"))


def program(pid: int) -> str:
    """The base name of the process's executable, from its command line ('' if gone)."""
    argv0 = _read(PROC / str(pid) / "cmdline").split("\0", 1)[0]
    return os.path.basename(argv0)


def parent_of(stat: str) -> int | None:
    """The parent pid from the text of ``/proc/<pid>/stat`` (the name may hold spaces and ')')."""
    fields = stat.rpartition(")")[2].split()
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def children() -> dict[int, list[int]]:
    """Every live process's children, from one pass over ``/proc``."""
    tree: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            parent = parent_of(_read(entry / "stat"))
            if parent is not None:
                tree.setdefault(parent, []).append(int(entry.name))
    return tree


def descendants(root: int, tree: dict[int, list[int]]) -> list[int]:
    """Every process below ``root`` in ``tree`` (not ``root`` itself)."""
    found: list[int] = []
    pending = list(tree.get(root, []))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(tree.get(pid, []))
    return found


def node_java(node_pid: int) -> int:
    """The ``java`` process the Grid node component started (its sessions hang below it)."""
    for pid in descendants(node_pid, children()):
        if program(pid) == "java":
            return pid
    raise RuntimeError(f"no java process below the Grid node (pid {node_pid}); is the node up?")


def take_sample(java_pid: int, worker_pids: list[int]) -> Sample:
    """Read both groups once."""
    tree = children()
    browsers = descendants(java_pid, tree)
    workers = [p for w in worker_pids for p in (w, *descendants(w, tree))]
    browser = [usage_kb(p) for p in browsers]
    worker = [usage_kb(p) for p in workers]
    return Sample(
        browser_pss_kb=sum(u[0] for u in browser),
        browser_rss_kb=sum(u[1] for u in browser),
        sessions=sum(1 for p in browsers if program(p) == "chromedriver"),
        browser_processes=sum(1 for u in browser if u[1]),
        worker_pss_kb=sum(u[0] for u in worker),
        worker_rss_kb=sum(u[1] for u in worker),
        worker_processes=sum(1 for u in worker if u[1]),
    )


class Sampling:
    """A background thread that calls ``take()`` every ``interval_s`` while the ``with``
    block runs (once at its start, whatever its length)."""

    def __init__(self, interval_s: float, name: str) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def take(self) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while True:
            self.take()
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()


class MemorySampler(Sampling):
    """``with MemorySampler(node_pid, worker_pids) as sampler:`` samples until the block ends."""

    def __init__(self, node_pid: int, worker_pids: list[int], interval_s: float = INTERVAL_S):
        super().__init__(interval_s, "memory-sampler")
        self.java_pid = node_java(node_pid)
        self.worker_pids = worker_pids
        self.samples: list[Sample] = []

    def take(self) -> None:
        self.samples.append(take_sample(self.java_pid, self.worker_pids))


def _mb(kb: float) -> float:
    return round(kb / KB_PER_MB, 1)


def summarise(samples: list[Sample], workers: int) -> dict[str, float]:
    """Peaks and per-session / per-worker means in MB (PSS; ``*_rss`` the RSS sums).

    Per-session figures are means over the samples with at least one session of
    (group total / live sessions); per-worker figures are means of (group total /
    ``workers``) and of (group total / live worker processes). Empty without samples.
    """
    if not samples:
        return {}
    with_sessions = [s for s in samples if s.sessions]
    if with_sessions:
        per_session = statistics.fmean(s.browser_pss_kb / s.sessions for s in with_sessions)
        per_session_rss = statistics.fmean(s.browser_rss_kb / s.sessions for s in with_sessions)
    else:
        per_session = per_session_rss = 0.0
    with_workers = [s for s in samples if s.worker_processes]
    per_process = (
        statistics.fmean(s.worker_pss_kb / s.worker_processes for s in with_workers)
        if with_workers
        else 0.0
    )
    return {
        "peak_total_mb": _mb(max(s.browser_pss_kb + s.worker_pss_kb for s in samples)),
        "peak_browsers_mb": _mb(max(s.browser_pss_kb for s in samples)),
        "peak_workers_mb": _mb(max(s.worker_pss_kb for s in samples)),
        "mb_per_session": _mb(per_session),
        "mb_per_session_rss": _mb(per_session_rss),
        "mb_per_worker": _mb(statistics.fmean(s.worker_pss_kb for s in samples) / max(1, workers)),
        "mb_per_worker_process": _mb(per_process),
        "sessions_min": float(min(s.sessions for s in samples)),
        "sessions_max": float(max(s.sessions for s in samples)),
        "browser_processes_max": float(max(s.browser_processes for s in samples)),
        "worker_processes_max": float(max(s.worker_processes for s in samples)),
        "samples": float(len(samples)),
    }
