"""Ctrl-C and SIGTERM in commands that follow a run: one clean stop, never a traceback.

``testfleet run`` and ``watch`` follow a run for minutes; people press Ctrl-C and
CI sends SIGTERM when a job is cancelled. Inside ``Interrupts``:

- the first SIGINT or SIGTERM raises ``Interrupted`` where the command is (or, in
  a ``deferred()`` block such as the submission itself, as the block ends, so
  that a run the server accepted is known and can be cancelled);
- a second one exits at once with the same code, whatever the command is doing
  (a cancel request hanging on a dead server, say).

Exit codes are the shell's: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    """What a shell reports for a process ended by ``signum`` (130, 143)."""
    return 128 + signum


class Interrupted(KeyboardInterrupt):
    """The user (SIGINT) or the CI runner (SIGTERM) asked the command to stop.

    A ``KeyboardInterrupt``: asyncio, httpx and the rest let that one through from
    wherever the signal lands (an ``Exception`` raised inside an asyncio callback is
    logged there with its traceback and swallowed)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = exit_code(signum)


class Interrupts:
    """SIGINT and SIGTERM handling for the ``with`` block (main thread only)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._deferring = 0
        self._pending: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """A first signal inside waits for the block to end (a second still exits)."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if self._pending is not None and not self._deferring:
            pending, self._pending = self._pending, None
            raise Interrupted(pending)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is not None:
            os.write(2, b"\ninterrupted again: exiting now\n")
            os._exit(exit_code(signum))
        self.received = signum
        if self._deferring:
            self._pending = signum
            return
        raise Interrupted(signum)
