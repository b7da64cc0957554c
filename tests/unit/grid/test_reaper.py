"""testfleet.fleet.reaper: marked processes die with their owner, their session or a sweep.

Stand-ins for browser processes are ``sleep`` processes in sessions of their own
(as Chromium's crash handlers are), marked as the local provider marks chromedriver.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import pytest

from testfleet.fleet import reaper
from tests.waiting import wait_until

GONE_S = 30.0


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; killed and reaped after it whatever happened."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def marked_sleep(owner: str, session: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, reaper.OWNER_ENV: owner, reaper.SESSION_ENV: session}
    return subprocess.Popen(["sleep", "600"], env=env, start_new_session=True)


def alive(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


def test_owner_token_names_this_process_and_a_dead_one_is_not_alive() -> None:
    token = reaper.owner_token()
    assert token.startswith(f"{os.getpid()}.")
    assert reaper.owner_alive(token)
    pid = os.getpid()
    assert not reaper.owner_alive(f"{pid}.1"), "same pid, another start time: pid reused"
    assert not reaper.owner_alive("garbage")


def test_kill_session_kills_that_session_only(started: list[subprocess.Popen[bytes]]) -> None:
    owner = reaper.owner_token()
    mine, other = marked_sleep(owner, "s-mine"), marked_sleep(owner, "s-other")
    started += [mine, other]
    wait_until("the stand-ins to be marked", lambda: _marked({mine.pid, other.pid}), GONE_S)

    killed = reaper.kill_session("s-mine")

    assert killed == [mine.pid]
    wait_until("the session's process to end", lambda: not alive(mine), GONE_S)
    assert alive(other)


def test_sweep_kills_processes_whose_owner_is_gone(
    started: list[subprocess.Popen[bytes]],
) -> None:
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    gone = f"{dead_owner.pid}.1"  # a start time no live process has
    orphan, owned = marked_sleep(gone, "s1"), marked_sleep(reaper.owner_token(), "s2")
    started += [orphan, owned]
    wait_until("the stand-ins to be marked", lambda: _marked({orphan.pid, owned.pid}), GONE_S)

    assert orphan.pid in reaper.sweep_orphans()

    wait_until("the orphan to end", lambda: not alive(orphan), GONE_S)
    assert alive(owned), "a live owner's browser is left alone"


OWNER_SCRIPT = textwrap.dedent(
    """
    import os, signal, subprocess, sys
    from testfleet.fleet import reaper
    owner = reaper.ensure_guard()
    env = {**os.environ, reaper.OWNER_ENV: owner, reaper.SESSION_ENV: sys.argv[1]}
    child = subprocess.Popen(["sleep", "600"], env=env, start_new_session=True)
    print(child.pid, flush=True)
    if os.fork() == 0:  # a forked child must not keep its parent's guard waiting
        signal.pause()  # until the test's signal ends it
    signal.pause()
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_guard_kills_the_browsers_of_an_owner_killed_by_any_signal(sig: int) -> None:
    session = uuid.uuid4().hex
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, session],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert owner.stdout is not None
        browser_pid = int(owner.stdout.readline())
        assert _session_pids(session) == {browser_pid}

        owner.send_signal(sig)
        owner.wait(timeout=30)

        wait_until("the owner's browser to end", lambda: not _session_pids(session), GONE_S)
    finally:
        os.killpg(owner.pid, signal.SIGKILL)  # the forked child, still sleeping
        owner.wait(timeout=30)
        if owner.stdout is not None:
            owner.stdout.close()
        reaper.kill_session(session)


def _marked(pids: set[int]) -> bool:
    return pids <= {p.pid for p in reaper.processes() if reaper.OWNER_ENV in p.environ}


def _session_pids(session: str) -> set[int]:
    return {p.pid for p in reaper.processes() if p.environ.get(reaper.SESSION_ENV) == session}
