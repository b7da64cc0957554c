"""The session-end check of ``tests.leftovers`` fails a session that leaves a process.

A small suite of its own, run by a real pytest (with and without xdist workers),
starts a process in a session of its own (as chromedriver's crash handlers are) and
never stops it: the session must fail naming it, and the process must be gone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from testfleet.fleet import reaper
from tests.conftest import ROOT
from tests.leftovers import GRACE_ENV
from tests.waiting import wait_until

PYTEST = [sys.executable, "-m", "pytest", "-p", "tests.leftovers", "-p", "no:cacheprovider", "-q"]
"""A real pytest session with the leftovers check (its rootdir and tests follow)."""
LEAKY = """
import subprocess

def test_leaks_a_process():
    subprocess.Popen(["sleep", "600"], start_new_session=True)

def test_cleans_up():
    p = subprocess.Popen(["sleep", "600"])
    p.kill()
    p.wait()
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_leaked_process_fails_the_session_and_is_killed(
    tmp_path: Path, workers: list[str]
) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    done = subprocess.run(
        [*PYTEST, "--rootdir", str(tmp_path), *workers, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, GRACE_ENV: "1"},
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert "leftover processes" in done.stdout
    match = re.search(r"pid (\d+): sleep 600", done.stdout)
    assert match is not None, done.stdout
    pid = int(match.group(1))
    wait_until("the leftover to be killed", lambda: not _running(pid), 30)


def test_a_clean_session_passes(tmp_path: Path) -> None:
    (tmp_path / "test_clean.py").write_text("def test_nothing():\n    pass\n")
    done = subprocess.run(
        [*PYTEST, "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "leftover" not in done.stdout


def _running(pid: int) -> bool:
    return any(p.pid == pid for p in reaper.processes())
