"""The worker's heartbeat: who it is and what it runs, every few seconds, in Redis.

Started in the worker's main process when Celery says the worker is ready, and
removed when it shuts down cleanly. With the prefork pool the main process is
the one that knows which requests are active (``celery.worker.state``), so
busy counts come from there, not from the pool children.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import redis
from celery.worker import state as worker_state

from testfleet import logs
from testfleet.fleet import redisconn
from testfleet.fleet.state import HEARTBEAT_INTERVAL_S, WorkerBeat, record_beat, remove_worker
from testfleet.settings import Settings
from workers.periodic import run_while_worker_lives, worker_name

log = logs.get_logger(__name__)


class Heartbeat:
    """This worker's beat: written every ``HEARTBEAT_INTERVAL_S``, removed at a clean stop."""

    interval_s = HEARTBEAT_INTERVAL_S
    what = "heartbeat not recorded"

    def __init__(self, settings: Settings, name: str, concurrency: int) -> None:
        self._client = redisconn.connect(settings.redis, decode=False)
        self._beat = WorkerBeat(
            name=name,
            host=socket.gethostname(),
            pid=os.getpid(),
            concurrency=concurrency,
            busy=0,
            started_ms=int(time.time() * 1000),
            beat_ms=0,
        )

    def tick(self) -> None:
        """Record one beat now."""
        active = [_case_id(request) for request in list(worker_state.active_requests)]
        self._beat.active = [case for case in active if case]
        self._beat.busy = len(active)
        self._beat.beat_ms = int(time.time() * 1000)
        record_beat(self._client, self._beat)

    def close(self) -> None:
        try:
            remove_worker(self._client, self._beat.name)
        except redis.RedisError as exc:
            log.warning("could not remove worker %s from the fleet: %s", self._beat.name, exc)
        self._client.close()


def _case_id(request: Any) -> str | None:
    args: list[Any] = list(getattr(request, "args", None) or ())
    return str(args[1]) if len(args) > 1 else None


def install(settings: Settings) -> None:
    """Beat from the moment the worker is ready until it shuts down."""

    def make(consumer: Any) -> Heartbeat:
        pool = getattr(consumer, "pool", None)
        concurrency = int(getattr(pool, "num_processes", 0) or settings.worker.concurrency)
        return Heartbeat(settings, worker_name(consumer), concurrency)

    run_while_worker_lives(make, "tf-heartbeat")
