"""The worker's heartbeat: who it is and what it runs, every few seconds, in Redis.

Started in the worker's main process when Celery says the worker is ready, and
removed when it shuts down cleanly. With the prefork pool the main process is
the one that knows which requests are active (``celery.worker.state``), so
busy counts come from there, not from the pool children.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown
from celery.worker import state as worker_state

from testfleet.fleetstate import HEARTBEAT_INTERVAL_S, WorkerBeat, record_beat, remove_worker
from testfleet.settings import Settings

log = logging.getLogger(__name__)


class Heartbeat:
    """A daemon thread that records this worker's beat until ``stop``."""

    def __init__(self, settings: Settings, name: str, concurrency: int) -> None:
        self._client = redis.Redis.from_url(settings.redis.url, socket_timeout=5)
        self._stopped = threading.Event()
        self._beat = WorkerBeat(
            name=name,
            host=socket.gethostname(),
            pid=os.getpid(),
            concurrency=concurrency,
            busy=0,
            started_ms=int(time.time() * 1000),
            beat_ms=0,
        )
        self._thread = threading.Thread(target=self._loop, name="tf-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=HEARTBEAT_INTERVAL_S)
        try:
            remove_worker(self._client, self._beat.name)
        except redis.RedisError as exc:
            log.warning("could not remove worker %s from the fleet: %s", self._beat.name, exc)

    def beat(self) -> None:
        """Record one beat now."""
        active = [_case_id(request) for request in list(worker_state.active_requests)]
        self._beat.active = [case for case in active if case]
        self._beat.busy = len(active)
        self._beat.beat_ms = int(time.time() * 1000)
        record_beat(self._client, self._beat)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                self.beat()
            except redis.RedisError as exc:
                # Redis restarting: the next beat catches up; the worker keeps working.
                log.warning("heartbeat not recorded: %s", exc)
            self._stopped.wait(HEARTBEAT_INTERVAL_S)


def _case_id(request: Any) -> str | None:
    args: list[Any] = list(getattr(request, "args", None) or ())
    return str(args[1]) if len(args) > 1 else None


def install(settings: Settings) -> None:
    """Beat from the moment the worker is ready until it shuts down."""
    running: list[Heartbeat] = []

    def on_ready(sender: Any = None, **_: Any) -> None:
        consumer = sender
        name = getattr(consumer, "hostname", None) or f"worker-{os.getpid()}"
        pool = getattr(consumer, "pool", None)
        concurrency = int(getattr(pool, "num_processes", 0) or settings.worker.concurrency)
        heartbeat = Heartbeat(settings, name, concurrency)
        heartbeat.start()
        running.append(heartbeat)

    def on_shutdown(**_: Any) -> None:
        while running:
            running.pop().stop()

    worker_ready.connect(on_ready, weak=False)
    worker_shutdown.connect(on_shutdown, weak=False)
