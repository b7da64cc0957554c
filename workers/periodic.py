"""Background chores of a worker's main process: one thread each, from ready to shutdown.

The heartbeat and the retention sweep both run on an interval in the worker's
main process (where Celery knows the active requests, and never forked again),
start when Celery says the worker is ready and stop when it shuts down. This
module is that lifecycle, written once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, Protocol

import redis
from celery.signals import worker_ready, worker_shutdown

from testfleet import logs

log = logs.get_logger(__name__)


class Chore(Protocol):
    """What runs periodically: ``tick`` every ``interval_s``, ``close`` once at stop."""

    interval_s: float
    what: str
    """For the log line when a tick fails (``"heartbeat not recorded"``)."""

    def tick(self) -> None: ...

    def close(self) -> None: ...


class Periodic:
    """A daemon thread calling ``chore.tick()`` every ``chore.interval_s`` until ``stop``.

    A Redis or file-system error in one tick is logged and the next tick retries
    (Redis restarting, a volume busy); the worker keeps working meanwhile.
    """

    def __init__(self, chore: Chore, name: str) -> None:
        self.chore = chore
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        # A tick in progress gets a moment to finish; shutdown is not held longer.
        self._thread.join(timeout=min(self.chore.interval_s, 5.0))
        self.chore.close()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                self.chore.tick()
            except (redis.RedisError, OSError) as exc:
                log.warning("%s: %s", self.chore.what, exc)
            except Exception:
                # Never let one bad tick end the thread: a renewer that stopped quietly
                # would let another worker run this worker's cases at the same time.
                log.exception("%s (unexpected error; retrying next tick)", self.chore.what)
            self._stopped.wait(self.chore.interval_s)


def worker_name(consumer: Any) -> str:
    """The Celery node name of the worker ``worker_ready`` was sent for."""
    return str(getattr(consumer, "hostname", None) or f"worker-{os.getpid()}")


def run_while_worker_lives(make: Callable[[Any], Chore], thread_name: str) -> None:
    """Start ``make(consumer)``'s chore when the worker is ready; stop it at shutdown."""
    running: list[Periodic] = []

    def on_ready(sender: Any = None, **_: Any) -> None:
        periodic = Periodic(make(sender), thread_name)
        periodic.start()
        running.append(periodic)

    def on_shutdown(**_: Any) -> None:
        while running:
            running.pop().stop()

    worker_ready.connect(on_ready, weak=False)
    worker_shutdown.connect(on_shutdown, weak=False)
