"""Retention on a real Redis: expired runs leave the indexes, their keys and artifacts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import redis

from testfleet import keys
from testfleet.artifacts import open_store
from testfleet.events import Event, now_ms
from testfleet.results import CaseResult, RunRecord
from testfleet.settings import Settings
from testfleet.store import RunStore
from testfleet.store.retention import maybe_sweep, sweep
from tests.waiting import wait_until

pytestmark = pytest.mark.redis

DAY_MS = 24 * 3600 * 1000


def make_settings(redis_url: str, tmp_path: Path, **retention: float) -> Settings:
    return Settings(
        redis={"url": redis_url},
        paths={"state_dir": tmp_path},
        retention={"run_ttl_s": 3600, "artifacts_ttl_s": 3600, "events_ttl_s": 3600,
                   **retention},
    )  # fmt: skip


def connect(settings: Settings) -> RunStore:
    store = RunStore.connect(settings, source="test@host")
    store.redis.flushdb()
    return store


def new_run(store: RunStore, run_id: str, project: str, created_ms: int) -> None:
    record = RunRecord(run_id=run_id, project_id=project, name="x", suites=["s"],
                       created_ms=created_ms, total=1)  # fmt: skip
    case = CaseResult(case_id=f"{run_id}-1", run_id=run_id, suite="s", name="t")
    started = Event("run_started", run_id, project, {"total": 1}, source="test")
    store.create_run(record, [case], {case.case_id: "{}"}, started)


def write_artifact(settings: Settings, run_id: str, age_s: float = 0) -> Path:
    """A screenshot of the run in the (local) artifact store; returns the run's folder."""
    open_store(settings).save(run_id, "shot.png", b"\x89PNG")
    folder = settings.paths.artifacts / "runs" / run_id
    if age_s:
        past = time.time() - age_s
        os.utime(folder / "shot.png", (past, past))
    return folder


def run_keys_left(client: redis.Redis, run_id: str) -> list[str]:
    candidates = [*keys.run_keys(run_id), keys.run_state(run_id)]
    return [k for k in candidates if client.exists(k)]


def test_a_sweep_removes_expired_runs_everywhere_and_keeps_the_rest(
    redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, tmp_path)
    store = connect(settings)
    now = now_ms()
    new_run(store, "old-a", "pa", now - 2 * 3600 * 1000)
    new_run(store, "old-b", "pb", now - 2 * 3600 * 1000)
    new_run(store, "fresh", "pa", now - 60 * 1000)
    old_dir, fresh_dir = write_artifact(settings, "old-a"), write_artifact(settings, "fresh")

    report = sweep(store.redis, settings, open_store(settings), now)

    assert (report.runs, report.artifact_dirs) == (2, 1)
    assert store.redis.zrange(keys.RUNS_INDEX, 0, -1) == ["fresh"]
    assert [r.run_id for r in store.list_runs("pa")] == ["fresh"]
    assert store.list_runs("pb") == []
    assert store.redis.zcard(keys.project_runs("pb")) == 0
    assert run_keys_left(store.redis, "old-a") == []
    assert store.get_run("old-b") is None
    assert store.get_run("fresh") is not None
    assert not old_dir.exists()
    assert (fresh_dir / "shot.png").exists()
    again = sweep(store.redis, settings, open_store(settings), now)
    assert (again.runs, again.artifact_dirs) == (0, 0), "a sweep is idempotent"


def test_runs_expired_by_redis_leave_the_indexes_at_the_next_sweep(
    redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, tmp_path, run_ttl_s=1)
    store = connect(settings)
    new_run(store, "short", "p", now_ms())
    assert 0 < store.redis.ttl(keys.run("short")) <= 1
    # Redis drops the run's own keys by TTL; only the indexes still name it.
    wait_until("Redis to expire the run", lambda: not run_keys_left(store.redis, "short"), 30)
    assert store.redis.zcard(keys.RUNS_INDEX) == 1
    assert [r.run_id for r in store.list_runs("p")] == [], "listing skips a vanished run"

    wait_until(
        "the run to be older than its TTL",
        lambda: sweep(store.redis, settings, open_store(settings)).runs == 1,
        30,
    )
    assert store.redis.zcard(keys.RUNS_INDEX) == 0
    assert store.redis.zcard(keys.project_runs("p")) == 0


def test_artifacts_unchanged_past_their_ttl_go_even_while_the_run_is_kept(
    redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, tmp_path, run_ttl_s=DAY_MS // 1000, artifacts_ttl_s=600)
    store = connect(settings)
    new_run(store, "kept", "p", now_ms())
    stale = write_artifact(settings, "kept", age_s=1200)
    orphan = write_artifact(settings, "unknown-run", age_s=1200)
    recent = write_artifact(settings, "recent-run", age_s=10)

    report = sweep(store.redis, settings, open_store(settings))

    assert (report.runs, report.artifact_dirs) == (0, 2)
    assert not stale.exists()
    assert not orphan.exists()
    assert recent.exists()
    assert store.get_run("kept") is not None


def test_old_global_events_are_trimmed(redis_url: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, tmp_path, events_ttl_s=3600)
    store = connect(settings)
    now = now_ms()
    for i in range(300):  # explicit ids two hours old, then current ones
        store.redis.xadd(keys.EVENTS_STREAM, {"d": "{}"}, id=f"{now - 2 * 3600 * 1000 + i}-0")
    new_run(store, "fresh", "p", now)

    report = sweep(store.redis, settings, open_store(settings), now)

    # XTRIM ~ removes whole nodes only (100 entries each by default): most, not all.
    assert report.events >= 200
    left = store.redis.xrange(keys.EVENTS_STREAM)
    assert left[-1][1]["t"] == "run_started", "current events stay"


def test_one_process_sweeps_per_interval(redis_url: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, tmp_path, sweep_interval_s=3600)
    store = connect(settings)
    first = maybe_sweep(store.redis, settings, open_store(settings), "worker-a")
    second = maybe_sweep(store.redis, settings, open_store(settings), "worker-b")
    assert first is not None
    assert second is None
    assert store.redis.get(keys.SWEEP_LOCK) == "worker-a"
    assert 0 < store.redis.pttl(keys.SWEEP_LOCK) <= 3600 * 1000
