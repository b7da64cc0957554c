"""``GET /api/v1/runs``: status, tag and time filters, cursor paging, bad parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis

from testfleet import keys
from tests.integration.api.helpers import (
    case,
    error_of,
    submit,
    suite,
)

pytestmark = pytest.mark.redis


def ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [r["runId"] for r in answer.json()["runs"]]


def backdate(r: redis.Redis, run_id: str, created_ms: int) -> None:
    """Move a run's place in the project index (what listing by time reads)."""
    r.zadd(keys.project_runs("alpha"), {run_id: created_ms})


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def test_pages_follow_the_cursor_without_gaps_or_repeats(
    alpha: httpx.Client, r: redis.Redis
) -> None:
    runs = [submit(alpha, suite(f"S{i}", case("t")))["runId"] for i in range(7)]
    for run_id in runs[2:5]:
        backdate(r, run_id, 1_700_000_000_000)  # same time: ties are broken by run id
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = alpha.get("/api/v1/runs", params=params).json()
        seen += [r["runId"] for r in page["runs"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
        # A run submitted meanwhile is newer than the cursor: it does not shift the pages.
        submit(alpha, suite("late", case("t")))
    assert sorted(seen) == sorted(runs), "every run once"
    assert len(seen) == len(set(seen))
    index = r.zrange(keys.project_runs("alpha"), 0, -1, withscores=True)
    created = {run_id: score for run_id, score in index}
    assert seen == sorted(runs, key=lambda i: (created[i], i), reverse=True)


def test_status_tag_and_time_filters(alpha: httpx.Client, r: redis.Redis) -> None:
    old = submit(alpha, suite("Old", case("t", tags=["smoke"])))["runId"]
    mid = submit(alpha, suite("Mid", case("t"), tags=["web"]))["runId"]
    new = submit(alpha, suite("New", case("t", tags=["smoke"]), case("u")))["runId"]
    backdate(r, old, 1_700_000_000_000)
    backdate(r, mid, 1_700_000_100_000)
    assert alpha.post(f"/api/v1/runs/{new}/cancel").status_code == 202
    assert ids(alpha.get("/api/v1/runs?tag=smoke")) == [new, old]
    assert ids(alpha.get("/api/v1/runs?tag=web")) == [mid], "a suite's tags count"
    assert ids(alpha.get("/api/v1/runs?tag=nightly")) == []
    assert ids(alpha.get("/api/v1/runs?status=cancelled")) == [new]
    assert ids(alpha.get("/api/v1/runs?status=queued&tag=smoke")) == [old]
    assert ids(alpha.get("/api/v1/runs", params={"since": iso(1_700_000_050_000)})) == [new, mid]
    assert ids(alpha.get("/api/v1/runs", params={"until": iso(1_700_000_050_000)})) == [old]
    window = {"since": iso(1_700_000_000_000), "until": iso(1_700_000_100_000)}
    assert ids(alpha.get("/api/v1/runs", params=window)) == [mid, old], "both ends included"
    assert ids(alpha.get("/api/v1/runs", params={"since": "1700000050"})) == [new, mid], (
        "Unix seconds work too"
    )
    assert ids(alpha.get("/api/v1/runs", params={"since": "2026-01-01T00:00:00"})) == [new]


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("cursor=not-a-cursor", 400, "nextCursor"),
        ("cursor=%00%ff", 400, "nextCursor"),
        ("cursor=" + "A" * 401, 422, "query.cursor"),
        ("limit=0", 422, "query.limit"),
        ("limit=99999999999999999999999", 422, "query.limit"),
        ("limit=ten", 422, "query.limit"),
        ("since=yesterday", 422, "query.since"),
        ("until=99999-01-01", 422, "query.until"),
        ("since=1e400", 422, "query.since"),
        ("status=sideways", 422, "query.status"),
        ("tag=" + "x" * 201, 422, "query.tag"),
    ],
)
def test_bad_parameters_are_4xx_saying_which_and_why(
    alpha: httpx.Client, query: str, status: int, says: str
) -> None:
    answer = alpha.get(f"/api/v1/runs?{query}")
    assert answer.status_code == status, answer.text
    assert says in error_of(answer)["message"]
