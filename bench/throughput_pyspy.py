"""A sampling profile of the fleet's workers during the timed pass (py-spy), summarised.

The event-based breakdown (``throughput_figures``) says *when* time passes;
this says *in what code*: py-spy samples each worker's pool child (the process
that runs test cases) 50 times a second, idle included, and each sample's stack
is put in one bucket, first match wins:

- ``celery_between_tasks``: in Celery/billiard, outside our task code: waiting
  for the next task, acking, passing results back;
- ``browser_wait``: inside Selenium's HTTP call, blocked on the socket: the
  browser (through the Grid) is working;
- ``selenium_client``: in Selenium but not blocked: encoding commands, parsing answers;
- ``redis``: publishing events, storing results;
- ``pillow``: screenshots' thumbnails;
- ``executor_other``: the rest of our task code (executor, run store, logging).

py-spy needs ptrace (root, or ``kernel.yama.ptrace_scope=0``). Without it the
profile is left out and the figures say why; the benchmark itself still runs.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

SAMPLE_RATE_HZ = 50
STOP_TIMEOUT_S = 30.0

# (bucket, substrings of which one must be in the stack; leaf substrings for waits)
_SOCKET_WAIT = ("recv_into", "readinto", "_recv", "select (", "poll (", "wait (")


def py_spy() -> str | None:
    """The py-spy executable (beside this interpreter, or on PATH), or None."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pids: list[int], out_dir: Path) -> list[tuple[subprocess.Popen[bytes], Path]]:
    """Start one ``py-spy record`` per pid (with its subprocesses); stop them with ``stop``."""
    exe = py_spy()
    if exe is None:
        return []
    recorders = []
    for pid in pids:
        out = out_dir / f"pyspy-{pid}.txt"
        command = [exe, "record", "--idle", "--subprocesses", "--nonblocking", "--format", "raw"]
        command += ["--rate", str(SAMPLE_RATE_HZ), "-o", str(out), "-p", str(pid)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        recorders.append((process, out))
    return recorders


def stop(recorders: list[tuple[subprocess.Popen[bytes], Path]]) -> tuple[list[Path], str]:
    """Interrupt the recorders (py-spy writes its output on SIGINT).

    Returns the files written and what py-spy said on stderr (why it failed, if it did).
    """
    for process, _ in recorders:
        process.send_signal(signal.SIGINT)
    written, said = [], []
    for process, out in recorders:
        try:
            _, err = process.communicate(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        said.append(err.decode(errors="replace").strip()[-300:])
        if out.exists() and out.stat().st_size:
            written.append(out)
    return written, " ".join(s for s in said if s)


def _has(frames: list[str], package: str) -> bool:
    """Whether a frame runs code of ``package`` (py-spy writes ``func (pkg/mod.py:line)``,
    relative to ``sys.path``, or an absolute path)."""
    return any(f"({package}/" in f or f"/{package}/" in f for f in frames)


def bucket(stack: str) -> str | None:
    """The bucket of one collapsed stack (``frame;frame;...;leaf``), see the module doc.

    None for stacks outside a pool child's task loop (the Celery parent's event
    loop and helper threads sleep most of the time and would drown the rest).
    """
    frames = stack.split(";")
    if not any("workloop (" in f for f in frames):
        return None
    leaf = frames[-1]
    waiting = any(w in leaf for w in _SOCKET_WAIT) or "socket.py" in leaf or "ssl.py" in leaf
    # The child was forked from workers/main.py, so only the task module marks a test.
    if not any("workers/tasks.py" in f for f in frames):
        return "celery_between_tasks"
    if _has(frames, "selenium"):
        return "browser_wait" if waiting else "selenium_client"
    if _has(frames, "redis"):
        return "redis"
    if _has(frames, "PIL"):
        return "pillow"
    return "executor_other"


def summarise(files: list[Path]) -> dict[str, float]:
    """Percent of all samples per bucket, plus ``samples``; empty when nothing was sampled."""
    counts: Counter[str] = Counter()
    for file in files:
        for line in file.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            kind = bucket(stack) if stack and count.isdigit() else None
            if kind is not None:
                counts[kind] += int(count)
    total = sum(counts.values())
    if not total:
        return {}
    summary = {f"{name}_pct": round(100.0 * n / total, 1) for name, n in counts.most_common()}
    return {**summary, "samples": float(total)}
