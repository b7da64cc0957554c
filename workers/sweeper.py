"""The retention sweep, run from every worker's main process.

Why the workers: every deployment has them (the API may be replaced or scaled to
zero behind a CI job), they already mount the artifact volume they write to, and
``retention.maybe_sweep`` takes a fleet-wide Redis lock, so however many workers
run this thread, one sweep happens per ``retention.sweep_interval_s``.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown

from testfleet.retention import maybe_sweep
from testfleet.settings import Settings

log = logging.getLogger(__name__)


class Sweeper:
    """A daemon thread calling ``maybe_sweep`` every sweep interval until ``stop``."""

    def __init__(self, settings: Settings, owner: str) -> None:
        self._settings = settings
        self._owner = owner
        self._client = redis.Redis.from_url(
            settings.redis.url, decode_responses=True, socket_timeout=30
        )
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tf-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._client.close()

    def _loop(self) -> None:
        interval_s = self._settings.retention.sweep_interval_s
        while not self._stopped.is_set():
            try:
                maybe_sweep(self._client, self._settings, self._settings.paths.artifacts,
                            self._owner)  # fmt: skip
            except (redis.RedisError, OSError) as exc:
                # Redis restarting or the volume busy: the next interval catches up.
                log.warning("retention sweep skipped: %s", exc)
            self._stopped.wait(interval_s)


def install(settings: Settings) -> None:
    """Sweep from the moment the worker is ready until it shuts down."""
    running: list[Sweeper] = []

    def on_ready(sender: Any = None, **_: Any) -> None:
        name = getattr(sender, "hostname", None) or f"worker-{os.getpid()}"
        sweeper = Sweeper(settings, str(name))
        sweeper.start()
        running.append(sweeper)

    def on_shutdown(**_: Any) -> None:
        while running:
            running.pop().stop()

    worker_ready.connect(on_ready, weak=False)
    worker_shutdown.connect(on_shutdown, weak=False)
