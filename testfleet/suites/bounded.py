"""Planning one submission in a child process with CPU and memory limits.

Reading a submission (YAML, recordings), composing it and planning its cases is
CPU and memory work whose cost depends on what was sent, not on how big it is:
a few KB can ask for a great deal. The limits counted as it goes
(``testfleet.suites.limits``, ``testfleet.suites.recordings.budget``) stop what we know of; this
bounds the rest. ``run_bounded`` runs a function in a fresh child (forked from a
``forkserver`` that has the loader imported, so a child starts in milliseconds)
whose ``RLIMIT_CPU`` and ``RLIMIT_AS`` are the ``max_plan_cpu_s`` and
``max_plan_memory_bytes`` limits: past them the child is stopped by the kernel and
the caller gets a ``LimitError`` (413) naming the limit and its setting. The
child holds nothing but its input, so stopping it harms no other request, and
the API's own memory and threads never see the work.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import resource
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from testfleet.errors import LimitError, SuiteError
from testfleet.settings import LimitSettings
from testfleet.suites.limits import setting

T = TypeVar("T")

_PRELOAD = ["__main__", "api.submit", "cli.importer"]
"""Imported once in the fork server, so that children start with them (not import them);
``__main__`` too, or multiprocessing would run the main script again in every child."""
_WALL_FACTOR = 3
_WALL_SLACK_S = 5.0
"""A child is killed after ``cpu * _WALL_FACTOR + _WALL_SLACK_S`` seconds of wall time
(a busy machine gives it less than a CPU; a child that sleeps uses none)."""

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(_PRELOAD)


def warm() -> None:
    """Start the fork server now (it imports the loader: about a second), so that the
    first submission does not wait for it. Idempotent."""
    forkserver.ensure_running()


@dataclass(frozen=True)
class Bounds:
    """What one child may use."""

    cpu_s: int
    memory_bytes: int

    @classmethod
    def of(cls, limits: LimitSettings) -> Bounds:
        return cls(limits.max_plan_cpu_s, limits.max_plan_memory_bytes)

    @property
    def wall_s(self) -> float:
        return self.cpu_s * _WALL_FACTOR + _WALL_SLACK_S


@dataclass(frozen=True)
class _Raised:
    """An exception of the child's, in a form that crosses the pipe intact."""

    error: BaseException | None
    problems: list[str] | None
    text: str


def run_bounded(bounds: Bounds, what: str, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` run in a child process within ``bounds``; what it returns or
    raises is returned or raised here. ``what`` says what it does (``planning the
    submission``) in the ``LimitError`` raised when the child goes past a bound.
    ``function`` and ``args`` must pickle (``function`` a module-level function)."""
    receive, send = _context.Pipe(duplex=False)
    child = _context.Process(
        target=_child, args=(send, bounds, function, args), name="testfleet-plan", daemon=True
    )
    child.start()
    send.close()
    outcome = None
    try:
        outcome = _receive(receive, bounds.wall_s)
    finally:
        receive.close()
        if outcome is None:
            child.kill()  # past the wall time (or dead already: then this does nothing)
            child.join()
        # Else it is exiting by itself: not waited for here (multiprocessing reaps it
        # when the next child starts), which saves the answer a few milliseconds.
    if outcome is None:
        raise _stopped(child.exitcode, bounds, what)
    kind, value = outcome
    if kind == "ok":
        return value  # type: ignore[no-any-return]
    if kind == "memory":
        raise _over_memory(bounds, what)
    raised: _Raised = value
    if raised.problems is not None:
        raise SuiteError(raised.problems)
    if raised.error is not None:
        raise raised.error
    raise RuntimeError(f"{what} failed in its child process:\n{raised.text}")


def _receive(receive: Connection, wall_s: float) -> tuple[str, Any] | None:
    """The child's outcome, or None when it died or ran out of wall time."""
    if not receive.poll(wall_s):
        return None
    try:
        outcome: tuple[str, Any] = receive.recv()
    except (EOFError, OSError):
        return None  # it died without a word: the exit code says how
    return outcome


def _stopped(exitcode: int | None, bounds: Bounds, what: str) -> LimitError:
    if exitcode in (-signal.SIGXCPU, -signal.SIGKILL, None):
        # SIGXCPU at the soft CPU limit; SIGKILL at the hard one, or ours at the wall time.
        return LimitError(
            f"{what} took more than {bounds.cpu_s} s of CPU (or {bounds.wall_s:.0f} s in all) "
            "and was stopped: send less (fewer tests, flows used fewer times, smaller "
            f"recordings) or raise {setting('max_plan_cpu_s')}"
        )
    if exitcode == -signal.SIGSEGV:
        # Out of address space inside C code (a parser, the allocator) crashes this way.
        return _over_memory(bounds, what)
    return LimitError(
        f"{what} stopped with exit code {exitcode} before it finished; this is likely a "
        f"limit ({setting('max_plan_memory_bytes')}, {setting('max_plan_cpu_s')}): send less"
    )


def _over_memory(bounds: Bounds, what: str) -> LimitError:
    mib = bounds.memory_bytes // (1024 * 1024)
    return LimitError(
        f"{what} needed more than {mib} MiB of memory and was stopped: send less (fewer "
        f"tests, flows used fewer times, smaller recordings) or raise "
        f"{setting('max_plan_memory_bytes')}"
    )


# -- in the child ----------------------------------------------------------------------------


def _child(
    send: Connection, bounds: Bounds, function: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    _limit(bounds)
    try:
        outcome: tuple[str, Any] = ("ok", function(*args))
        payload = pickle.dumps(outcome)
    except MemoryError:
        payload = pickle.dumps(("memory", None))
    except BaseException as exc:  # every outcome goes back to the caller
        payload = pickle.dumps(("raised", _portable(exc)))
    send.send_bytes(payload)
    send.close()


def _limit(bounds: Bounds) -> None:
    """Bound this process: CPU seconds from now, address space beyond what it holds now."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = math.ceil(used.ru_utime + used.ru_stime) + bounds.cpu_s
    # The soft limit sends SIGXCPU; one second later the hard limit kills for sure.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    with open("/proc/self/statm", encoding="ascii") as statm:
        mapped_bytes = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = mapped_bytes + bounds.memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _portable(exc: BaseException) -> _Raised:
    text = "".join(traceback.format_exception(exc))
    if isinstance(exc, SuiteError):
        return _Raised(None, list(exc.problems), text)
    try:
        copy = pickle.loads(pickle.dumps(exc))
    except Exception:  # an exception that does not pickle: sent as text
        return _Raised(None, None, text)
    if type(copy) is not type(exc) or str(copy) != str(exc):
        return _Raised(None, None, text)
    copy.__traceback__ = None
    return _Raised(copy, None, text)
