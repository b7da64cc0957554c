"""Fixtures for the API and gateway tests: uvicorn serving in a thread.

(The real redis-server they need comes from ``tests.fixtures_redis``.) ``serving``
always stops what it started; waiting is on a condition with a deadline (uvicorn
says it started), never a fixed sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0, what: str = "") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what or condition}")
        time.sleep(0.01)


@contextmanager
def serving(server: uvicorn.Server, timeout_s: float = 15.0) -> Iterator[uvicorn.Server]:
    """Run ``server`` in a thread until the block ends; yields once it accepts connections."""
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), timeout_s, "uvicorn to start")
        if not server.started:
            raise RuntimeError("uvicorn stopped before it started (see the log above)")
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=timeout_s)
        if thread.is_alive():
            raise RuntimeError("uvicorn did not stop in time")
