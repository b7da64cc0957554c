"""The fleet's state as Redis holds it: worker heartbeats and queue depth (real Redis)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from testfleet.fleet.state import (
    STALE_AFTER_S,
    WorkerBeat,
    queue_lists,
    read_fleet,
    read_workers,
    record_beat,
    remove_worker,
)
from testfleet.settings import Settings
from tests.ports import held_port

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    workdir: Path = tmp_path_factory.mktemp("fleetstate")
    # Nothing listens on this Grid port: the state must say so, not raise.
    return Settings(
        redis={"url": redis_url},
        grid={"port": held_port()},
        paths={"state_dir": workdir},
    )


def beat(name: str, *, age_s: float = 0.0, busy: int = 0) -> WorkerBeat:
    now_ms = int(time.time() * 1000)
    return WorkerBeat(
        name=name,
        host="h",
        pid=1,
        concurrency=2,
        busy=busy,
        started_ms=now_ms,
        beat_ms=now_ms - int(age_s * 1000),
        active=[f"run-000{i}" for i in range(busy)],
    )


def test_live_workers_count_and_stale_ones_do_not(r: redis.Redis, settings: Settings) -> None:
    record_beat(r, beat("a@h", busy=1))
    record_beat(r, beat("b@h", busy=2))
    record_beat(r, beat("dead@h", age_s=STALE_AFTER_S + 5, busy=2))
    r.hset("tf:workers", "garbage@h", "{not json")

    state = read_fleet(r, settings, grid_timeout_s=0.5)

    assert [w.name for w in state.workers] == ["a@h", "b@h"]
    assert state.busy_workers == 3
    assert state.worker_slots == 4
    assert {w.name for w in read_workers(r)} == {"a@h", "b@h", "dead@h"}
    remove_worker(r, "a@h")
    assert [w.name for w in read_fleet(r, settings, grid_timeout_s=0.5).workers] == ["b@h"]


def test_queue_depth_counts_every_priority_list(r: redis.Redis, settings: Settings) -> None:
    lists = queue_lists(settings.worker.queue)
    assert lists[0] == settings.worker.queue
    assert lists[9] == f"{settings.worker.queue}\x06\x169", "Celery's own list names"
    r.rpush(lists[0], "m1")
    r.rpush(lists[3], "m2", "m3")
    r.rpush(lists[9], "m4")

    assert read_fleet(r, settings, grid_timeout_s=0.5).queue_depth == 4


def test_an_unreachable_grid_is_reported_not_raised(r: redis.Redis, settings: Settings) -> None:
    state = read_fleet(r, settings, grid_timeout_s=0.5)
    assert state.grid is None
    assert state.grid_error is not None
    assert str(settings.grid.port) in state.grid_error
    assert state.to_dict()["grid"]["reachable"] is False
