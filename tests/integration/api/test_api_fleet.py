"""``GET /api/v1/fleet``: live workers, queue depth, Grid slots (here: a Grid that is down)."""

from __future__ import annotations

import time

import httpx
import pytest
import redis

from testfleet.fleet.state import STALE_AFTER_S, WorkerBeat, record_beat
from tests.integration.api.helpers import (
    Keys,
    case,
    client_for,
    submit,
    suite,
)

pytestmark = pytest.mark.redis


def beat(name: str, busy: int, active: list[str], age_s: float = 0.0) -> WorkerBeat:
    now_ms = int((time.time() - age_s) * 1000)
    return WorkerBeat(
        name=name,
        host="h",
        pid=1,
        concurrency=2,
        busy=busy,
        started_ms=now_ms - 60_000,
        beat_ms=now_ms,
        active=active,
    )


def test_fleet_shows_live_workers_queue_depth_and_an_unreachable_grid(
    alpha: httpx.Client, beta: httpx.Client, api_url: str, api_keys: Keys, r: redis.Redis
) -> None:
    ours = submit(alpha, suite("A", case("a"), case("b")))["runId"]
    theirs = submit(beta, suite("B", case("c")))["runId"]
    record_beat(r, beat("w1@h", 2, [f"{ours}-0001", f"{theirs}-0001"]))
    record_beat(r, beat("w2@h", 0, []))
    record_beat(r, beat("dead@h", 1, [f"{ours}-0002"], age_s=STALE_AFTER_S + 5))

    with client_for(api_url, api_keys.alpha_dashboard) as dashboard:
        answer = dashboard.get("/api/v1/fleet")
    assert answer.status_code == 200, answer.text
    fleet = answer.json()
    assert [w["name"] for w in fleet["workers"]] == ["w1@h", "w2@h"], "the dead one is gone"
    assert (fleet["worker_count"], fleet["worker_slots"], fleet["busy_workers"]) == (2, 4, 2)
    assert fleet["queue_depth"] == 3, "every queued case of every project"
    assert fleet["workers"][0]["active"] == [f"{ours}-0001"], "beta's case ids stay hidden"
    grid = fleet["grid"]
    assert grid["reachable"] is False
    assert grid["error"]
    assert grid["free_slots"] is None

    with client_for(api_url, api_keys.beta_dashboard) as other:
        assert other.get("/api/v1/fleet").json()["workers"][0]["active"] == [f"{theirs}-0001"]
    with client_for(api_url, api_keys.alpha_admin) as admin:
        everything = admin.get("/api/v1/fleet").json()["workers"][0]["active"]
        assert everything == [f"{ours}-0001", f"{theirs}-0001"]
