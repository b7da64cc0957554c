"""After the whole session: no process the suite started is left running.

``pytest_configure`` marks the session (``SESSION_ENV`` in the environment, before
xdist starts its workers), so everything the suite starts, directly or through
``testfleet up``, a worker or chromedriver, inherits the mark. ``pytest_sessionfinish``
runs last, in the controller only (after every xdist worker ended): it waits a
little for marked processes to go, then fails the session naming each one left
(chromedriver, Chromium and its crash handlers, Java, Redis, workers...) and kills
them, so one leak does not pile up run after run.

A guard of ``testfleet.fleet.reaper`` whose owner still runs (this process's: the
in-process tests' local browsers) is not a leftover: it ends with its owner.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid

import pytest

from testfleet.fleet import reaper
from tests.waiting import WaitTimeout, wait_until

SESSION_ENV = "TF_TEST_SESSION"
"""The mark; not ``TESTFLEET_*``: the product's settings read those."""

GRACE_ENV = "TF_LEFTOVERS_GRACE_S"
GONE_S = float(os.environ.get(GRACE_ENV) or 30.0)
"""How long processes ending as the session ends (killed, not yet reaped) may take
(``GRACE_ENV`` shortens it for the check's own test, whose leftover never ends)."""


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist)
        os.environ[SESSION_ENV] = uuid.uuid4().hex


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput") or not os.environ.get(SESSION_ENV):
        return
    try:
        wait_until("the suite's processes to end", lambda: not leftovers(), GONE_S)
    except WaitTimeout:
        left = leftovers()
        if not left:
            return
        lines = [
            f"  pid {p.pid}: {' '.join(p.cmdline)[:200]}"
            f" (started by {p.environ.get('PYTEST_CURRENT_TEST', 'a fixture or hook')})"
            for p in left
        ]
        message = "processes the test session started are still running:\n" + "\n".join(lines)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", "leftover processes", red=True)
            reporter.write_line(message)
        for process in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, signal.SIGKILL)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def leftovers(mark: str | None = None) -> list[reaper.Process]:
    """Running processes marked with this session's ``mark`` (not this one, not a guard
    whose owner runs)."""
    mark = mark or os.environ.get(SESSION_ENV, "")
    own = os.getpid()
    return [
        p
        for p in reaper.processes()
        if p.pid != own
        and p.environ.get(SESSION_ENV) == mark
        and not _live_guard(p)
        and not _multiprocessing_helper(p)
    ]


def _multiprocessing_helper(process: reaper.Process) -> bool:
    """A forkserver or resource tracker (the API plans in forkserver children,
    ``testfleet.suites.bounded``): it reads its parent's pipe and ends when the parent does,
    so one left by this very process is no leak."""
    return any(a.startswith("from multiprocessing.") for a in process.cmdline)


def _live_guard(process: reaper.Process) -> bool:
    args = process.cmdline
    if "--guard" not in args or not any(a.endswith("reaper.py") for a in args):
        return False
    token = args[args.index("--guard") + 1] if args.index("--guard") + 1 < len(args) else ""
    return reaper.owner_alive(token)
