"""Ctrl-C and SIGTERM handling of the CLI's following commands (``cli.interrupt``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from cli.interrupt import Interrupted, Interrupts, exit_code
from tests.conftest import ROOT


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_the_first_signal_raises_interrupted_with_the_shells_exit_code(sig: int, code: int) -> None:
    before = signal.getsignal(sig)
    with pytest.raises(Interrupted) as caught, Interrupts():
        os.kill(os.getpid(), sig)
    assert caught.value.exit_code == code == exit_code(sig)
    assert isinstance(caught.value, KeyboardInterrupt), "asyncio and httpx let it through"
    assert signal.getsignal(sig) is before, "the handler is restored"


def submit_then(interrupts: Interrupts, finished: list[str], error: Exception | None) -> None:
    """A submission (deferred) that is signalled while it runs, then finishes or fails."""
    with interrupts.deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        if error is not None:
            raise error
        finished.append("the submission completed")
    finished.append("never reached")


def test_a_signal_during_a_deferred_block_is_raised_as_the_block_ends() -> None:
    finished: list[str] = []
    with Interrupts() as interrupts, pytest.raises(Interrupted) as caught:
        submit_then(interrupts, finished, None)
    assert finished == ["the submission completed"]
    assert caught.value.signum == signal.SIGTERM


def test_an_error_in_a_deferred_block_wins_over_a_pending_signal() -> None:
    with Interrupts() as interrupts, pytest.raises(ValueError, match="server down"):
        submit_then(interrupts, [], ValueError("server down"))


def test_a_second_signal_exits_at_once_with_the_code() -> None:
    code = (
        "import os, signal, time\n"
        "from cli.interrupt import Interrupts\n"
        "with Interrupts() as i:\n"
        "    with i.deferred():\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        print('not reached', flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 130
    assert "interrupted again: exiting now" in done.stderr
    assert "not reached" not in done.stdout
    assert "Traceback" not in done.stderr
