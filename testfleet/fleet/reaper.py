"""No local browser outlives the process that started it, whatever signal ends that process.

A local session is chromedriver, the Chromium it starts (with its zygotes, renderers
and GPU process, all in chromedriver's process group) and two
``chrome_crashpad_handler`` processes, which Chromium double-forks into sessions of
their own: they are reparented to pid 1 and survive even a clean ``quit()``. So
every process of a session is marked in its environment (which Chromium and its
crash handlers inherit from chromedriver):

- ``OWNER_ENV``: the starting process, as ``<pid>.<start time>`` (a pid alone may be
  reused);
- ``SESSION_ENV``: the session, so ``kill_session`` finds its crash handlers.

Three things kill marked processes:

- ``kill_session``, when the provider closes a session;
- a guard, one per owning process (``ensure_guard``): a small process in a session
  of its own that holds the read end of a pipe only its owner writes to. When the
  owner ends, by any signal, SIGKILL included, the pipe reads end-of-file and the
  guard kills everything marked with that owner, then exits;
- ``sweep_orphans`` at worker start and at ``testfleet down``: whatever a guard
  could not reach (a guard killed too, a machine that ran out of memory).

This module is run as a script for the guard (standard library only: it starts in
a few tens of milliseconds and loads nothing of the fleet).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

OWNER_ENV = "TESTFLEET_BROWSER_OWNER"
"""The process that started a browser, as ``<pid>.<start time in clock ticks>``."""
SESSION_ENV = "TESTFLEET_BROWSER_SESSION"
"""One browser session's id."""


@dataclass(frozen=True)
class Process:
    """One process as ``/proc`` shows it."""

    pid: int
    pgid: int
    environ: dict[str, str]
    cmdline: list[str]


def processes() -> Iterator[Process]:
    """Every live process (zombies excluded) whose environment this user may read."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = _stat_fields(int(entry.name))
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                raw_env = f.read()
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                raw_cmd = f.read()
        except (OSError, ValueError):
            continue  # gone meanwhile, or another user's
        if stat is None or stat[0] in ("Z", "X"):
            continue
        yield Process(
            pid=int(entry.name),
            pgid=int(stat[2]),
            environ=_parse_environ(raw_env),
            cmdline=[a.decode(errors="replace") for a in raw_cmd.split(b"\0") if a],
        )


def owner_token(pid: int | None = None) -> str:
    """``<pid>.<start time>`` of ``pid`` (this process by default); "" when it is gone."""
    pid = os.getpid() if pid is None else pid
    try:
        stat = _stat_fields(pid)
    except (OSError, ValueError):
        return ""
    # Field 22 of /proc/PID/stat (the 20th after the command's closing parenthesis).
    return f"{pid}.{stat[19]}" if stat is not None else ""


def owner_alive(token: str) -> bool:
    """Whether the process ``token`` names still runs (not a later one with its pid)."""
    pid, _, _ = token.partition(".")
    return pid.isdigit() and owner_token(int(pid)) == token


def kill_marked(match: Callable[[dict[str, str]], bool]) -> list[int]:
    """SIGKILL every process whose environment ``match``es, with its process group
    (Chromium's zygote children lose the inherited environment: their group does not);
    returns the pids that matched. Never this process or its group."""
    own_pid, own_group = os.getpid(), os.getpgrp()
    killed: list[int] = []
    for process in processes():
        if process.pid == own_pid or not match(process.environ):
            continue
        killed.append(process.pid)
        try:
            if process.pgid not in (own_group, 0, 1):
                os.killpg(process.pgid, signal.SIGKILL)
            os.kill(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # ended meanwhile, or not ours to end
    return killed


def kill_session(session_id: str) -> list[int]:
    """Kill whatever is left of one browser session (its crash handlers, mostly)."""
    return kill_marked(lambda env: env.get(SESSION_ENV) == session_id)


def kill_owned(token: str) -> list[int]:
    """Kill every browser process the process ``token`` started."""
    return kill_marked(lambda env: env.get(OWNER_ENV) == token)


def sweep_orphans() -> list[int]:
    """Kill every browser process whose owner is gone (this user's, machine-wide)."""
    return kill_marked(lambda env: OWNER_ENV in env and not owner_alive(env[OWNER_ENV]))


class _Guard:
    """This process's guard: its pid in this process, and the pipe's write end."""

    lock = threading.Lock()
    owner_pid = 0
    process: subprocess.Popen[bytes] | None = None


def ensure_guard() -> str:
    """Start this process's guard unless it runs; returns the owner token to mark
    browsers with. A forked child gets a guard of its own when it first asks."""
    with _Guard.lock:
        if _Guard.owner_pid != os.getpid() or _Guard.process is None:
            token = owner_token()
            _Guard.process = subprocess.Popen(
                [sys.executable, "-I", os.path.abspath(__file__), "--guard", token],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # Its own session: a signal to the owner's process group must not reach it.
                start_new_session=True,
            )
            _Guard.owner_pid = os.getpid()
        return owner_token()


def _forget_guard_in_child() -> None:
    # The child must not hold its parent's write end (the parent's guard would then
    # wait for the child too); reaping the guard stays the parent's business.
    process = _Guard.process
    if process is not None and process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    _Guard.process = None
    _Guard.lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_guard_in_child)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first)."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        text = f.read()
    _, paren, rest = text.rpartition(")")
    return rest.split() if paren else None


def _parse_environ(raw: bytes) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        name, eq, value = item.partition(b"=")
        if eq:
            env[name.decode(errors="replace")] = value.decode(errors="replace")
    return env


def _guard(token: str) -> int:
    """Wait for the owner to end (end-of-file on stdin), then kill what it started."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # only the owner's end ends the guard
    while sys.stdin.buffer.read(4096):
        pass
    kill_owned(token)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--guard":
        sys.exit(_guard(sys.argv[2]))
    print("usage: reaper.py --guard OWNER_TOKEN (started by grid.reaper.ensure_guard)")
    sys.exit(2)
