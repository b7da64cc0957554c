"""The fleet as Redis and the Grid see it: workers, queue depth, browser slots.

Workers announce themselves every ``HEARTBEAT_INTERVAL_S`` in ``keys.WORKERS``
(``record_beat``); a worker whose last beat is older than ``STALE_AFTER_S`` is
counted as gone (it was killed: a clean stop removes its entry). The API's
``GET /fleet``, the gateway's ``metrics_update`` and ``service_status_change``
events, and ``testfleet status`` all read the fleet through ``read_fleet``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from testfleet import keys
from testfleet.errors import InfrastructureError
from testfleet.fleet.broker import queue_lists
from testfleet.fleet.gridstatus import GridCapacity, read_capacity
from testfleet.results import PRIORITY_LEVELS
from testfleet.settings import Settings

HEARTBEAT_INTERVAL_S = 5.0
"""How often a worker rewrites its entry in ``keys.WORKERS``."""
STALE_AFTER_S = 20.0
"""A worker silent this long is counted as gone (four missed beats)."""


@dataclass
class WorkerBeat:
    """One worker's last heartbeat."""

    name: str
    """Celery node name (``tfworker-123@host``)."""
    host: str
    pid: int
    concurrency: int
    """Test cases it can run at once (pool processes)."""
    busy: int
    """Test cases it is running now."""
    started_ms: int
    beat_ms: int
    active: list[str] = field(default_factory=list)
    """Ids of the cases it is running."""

    def alive(self, now_ms: int) -> bool:
        return now_ms - self.beat_ms <= STALE_AFTER_S * 1000

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> WorkerBeat | None:
        """The beat in ``raw``, or None when it is not one (never raises)."""
        try:
            data = json.loads(raw)
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError, KeyError):
            return None


def record_beat(client: redis.Redis, beat: WorkerBeat) -> None:
    """Write (or refresh) ``beat`` in ``keys.WORKERS``."""
    client.hset(keys.WORKERS, beat.name, beat.to_json())


def remove_worker(client: redis.Redis, name: str) -> None:
    """Forget a worker that stopped cleanly."""
    client.hdel(keys.WORKERS, name)


def read_workers(client: redis.Redis) -> list[WorkerBeat]:
    """Every worker's last beat (alive or not), by name."""
    raw: dict[Any, Any] = client.hgetall(keys.WORKERS)
    beats = [WorkerBeat.from_json(value) for value in raw.values()]
    return sorted((b for b in beats if b is not None), key=lambda b: b.name)


def queue_depth(client: redis.Redis, queue: str) -> int:
    """Test cases waiting in ``queue`` (every priority), not yet taken by a worker."""
    pipe = client.pipeline(transaction=False)
    for name in queue_lists(queue):
        pipe.llen(name)
    return sum(int(n) for n in pipe.execute())


def queue_by_priority(client: redis.Redis, queue: str) -> dict[str, int]:
    """Test cases waiting in ``queue`` per priority name (``results.PRIORITY_LEVELS``):
    a list between two levels counts toward the lower priority of the two."""
    names = sorted(PRIORITY_LEVELS, key=PRIORITY_LEVELS.__getitem__)
    pipe = client.pipeline(transaction=False)
    lists = queue_lists(queue)
    for name in lists:
        pipe.llen(name)
    depths = {name: 0 for name in names}
    for step, depth in enumerate(pipe.execute()):
        name = next((n for n in names if PRIORITY_LEVELS[n] >= step), names[-1])
        depths[name] += int(depth)
    return depths


@dataclass
class FleetState:
    """What ``GET /fleet`` answers and ``metrics_update`` reports."""

    workers: list[WorkerBeat]
    """Workers seen alive within ``STALE_AFTER_S``."""
    queue_depth: int
    grid: GridCapacity | None
    grid_error: str | None = None
    """Why the Grid could not be read, when it could not."""
    silent: list[WorkerBeat] = field(default_factory=list)
    """Workers whose entry is still there but whose last beat is older than
    ``STALE_AFTER_S`` (killed, or cut off from Redis)."""
    queue_by_priority: dict[str, int] = field(default_factory=dict)
    """``queue_depth`` per priority name (``queue_by_priority``)."""

    @property
    def busy_workers(self) -> int:
        """Test cases being run now, across workers."""
        return sum(w.busy for w in self.workers)

    @property
    def worker_slots(self) -> int:
        """Test cases the live workers can run at once."""
        return sum(w.concurrency for w in self.workers)

    def to_dict(self) -> dict[str, Any]:
        grid: dict[str, Any] = {"reachable": self.grid is not None, "error": self.grid_error}
        if self.grid is not None:
            grid |= asdict(self.grid)
        return {
            "workers": [asdict(w) for w in self.workers],
            "worker_count": len(self.workers),
            "worker_slots": self.worker_slots,
            "busy_workers": self.busy_workers,
            "queue_depth": self.queue_depth,
            "grid": grid,
        }


def read_fleet(
    client: redis.Redis, settings: Settings, *, grid_timeout_s: float = 3.0
) -> FleetState:
    """The fleet now: live workers and the queue from Redis, slots from the Grid.

    An unreachable Grid is reported in ``grid_error``, not raised: the rest of
    the picture is still worth having.
    """
    now_ms = int(time.time() * 1000)
    beats = read_workers(client)
    workers = [w for w in beats if w.alive(now_ms)]
    silent = [w for w in beats if not w.alive(now_ms)]
    by_priority = queue_by_priority(client, settings.worker.queue)
    depth = sum(by_priority.values())
    try:
        grid: GridCapacity | None = read_capacity(
            settings.grid.url, timeout_s=grid_timeout_s, auth=settings.security.grid_credentials
        )
        error = None
    except InfrastructureError as exc:
        grid, error = None, str(exc)
    return FleetState(
        workers=workers,
        queue_depth=depth,
        grid=grid,
        grid_error=error,
        silent=silent,
        queue_by_priority=by_priority,
    )
