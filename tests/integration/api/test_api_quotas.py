"""Per-run limits and per-project quotas on a real API and Redis: refused with a status
and a message naming the setting, nothing stored; one project's load never holds up
another's reads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis

from api.routes import runs as routes_runs
from testfleet import keys
from testfleet.fleet.auth import KeyStore
from testfleet.settings import (
    ApiSettings,
    GridSettings,
    LimitSettings,
    PathSettings,
    RedisSettings,
    Settings,
    WorkerSettings,
)
from tests.integration.api.helpers import (
    QUEUE,
    case,
    error_of,
    suite,
)
from tests.ports import held_port
from tests.waiting import wait_until

pytestmark = pytest.mark.redis

LIMITS = LimitSettings(
    max_tests_per_run=40, submits_per_minute=5, max_queued_cases=30, max_yaml_aliases=5
)


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        redis=RedisSettings(url=redis_url),
        api=ApiSettings(port=held_port()),
        grid=GridSettings(url=f"http://127.0.0.1:{held_port()}"),
        worker=WorkerSettings(queue=QUEUE),
        paths=PathSettings(state_dir=tmp_path_factory.mktemp("quotas")),
        limits=LIMITS,
    )


def _tests(n: int, name: str = "S", **fields: Any) -> dict[str, Any]:
    return suite(name, *[case(f"t{i}") for i in range(n)], **fields)


def _nothing_stored(r: redis.Redis, project: str = "alpha") -> bool:
    return r.zcard(keys.project_runs(project)) == 0 and r.llen(QUEUE) == 0


def test_a_run_over_the_test_limit_is_413_naming_the_setting(
    alpha: httpx.Client, r: redis.Redis
) -> None:
    answer = alpha.post("/api/v1/runs", json={"suites": [_tests(25), _tests(25, name="T")]})
    assert answer.status_code == 413, answer.text
    error = error_of(answer)
    assert error["code"] == "limit_exceeded"
    assert "more than 40 tests" in error["message"]
    assert "TESTFLEET_LIMITS__MAX_TESTS_PER_RUN" in error["message"]
    assert _nothing_stored(r)


def test_yaml_aliases_past_the_limit_are_422_naming_the_setting(
    alpha: httpx.Client, r: redis.Redis
) -> None:
    text = "name: A\ntests:\n  - name: t\n    steps: &s [{navigate: /}]\n" + "".join(
        f"  - name: t{i}\n    steps: *s\n" for i in range(6)
    )
    answer = alpha.post("/api/v1/runs", content=text, headers={"Content-Type": "text/yaml"})
    assert answer.status_code == 422, answer.text
    assert "TESTFLEET_LIMITS__MAX_YAML_ALIASES" in error_of(answer)["problems"][0]
    assert _nothing_stored(r)


def test_submissions_past_the_rate_are_429_with_retry_after(
    alpha: httpx.Client, beta: httpx.Client
) -> None:
    # Two one-minute windows at most are crossed: 2 x limit + 1 submissions overflow one.
    statuses = []
    for _ in range(2 * LIMITS.submits_per_minute + 1):
        answer = alpha.post("/api/v1/runs", json={"suites": [_tests(1)]})
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert 1 <= int(answer.headers["Retry-After"]) <= 60
            error = error_of(answer)
            assert error["code"] == "rate_limited"
            assert "TESTFLEET_LIMITS__SUBMITS_PER_MINUTE" in error["message"]
            break
    assert statuses[-1] == 429, statuses
    assert beta.post("/api/v1/runs", json={"suites": [_tests(1)]}).status_code == 202


def test_a_project_cannot_queue_past_its_quota_and_it_frees_as_runs_end(
    alpha: httpx.Client, beta: httpx.Client, r: redis.Redis
) -> None:
    first = alpha.post("/api/v1/runs", json={"suites": [_tests(20)]})
    assert first.status_code == 202, first.text
    answer = alpha.post("/api/v1/runs", json={"suites": [_tests(20)]})
    assert answer.status_code == 429, answer.text
    assert "already has 20 test cases queued" in error_of(answer)["message"]
    assert "TESTFLEET_LIMITS__MAX_QUEUED_CASES" in error_of(answer)["message"]
    assert answer.headers["Retry-After"]
    assert beta.post("/api/v1/runs", json={"suites": [_tests(20)]}).status_code == 202

    alpha.post(f"/api/v1/runs/{first.json()['runId']}/cancel").raise_for_status()
    assert alpha.post("/api/v1/runs", json={"suites": [_tests(20)]}).status_code == 202


def test_critical_priority_needs_the_scope_an_operator_grants(
    alpha: httpx.Client, api_url: str, r: redis.Redis
) -> None:
    urgent = _tests(1, priority="critical")
    answer = alpha.post("/api/v1/runs", json={"suites": [urgent]})
    assert answer.status_code == 403, answer.text
    assert "priority:critical" in error_of(answer)["message"]
    assert _nothing_stored(r)

    _, granted = KeyStore(r).create("alpha", ["test:write", "priority:critical"])
    with httpx.Client(base_url=api_url, headers={"X-API-Key": granted}) as client:
        assert client.post("/api/v1/runs", json={"suites": [urgent]}).status_code == 202


def test_reads_and_authentication_never_wait_behind_submissions(
    alpha: httpx.Client, beta: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    planning: list[int] = []
    real_submit = routes_runs.submit

    def slow_submit(*args: Any) -> Any:
        planning.append(1)
        release.wait(60)  # a submission that takes (CPU) time to plan
        return real_submit(*args)

    monkeypatch.setattr(routes_runs, "submit", slow_submit)
    # More submissions at once than the server has threads (anyio's default: 40).
    many = 45
    with ThreadPoolExecutor(many) as pool:
        pending = [
            pool.submit(alpha.post, "/api/v1/runs", json={"suites": [_tests(1, f"S{i}")]})
            for i in range(many)
        ]
        try:
            wait_until("submissions to be planning", lambda: len(planning) >= 2, 30)
            # Every planning thread is busy and more submissions wait: reads still answer.
            for _ in range(5):
                assert beta.get("/api/v1/runs", timeout=20).status_code == 200
            assert not any(p.done() for p in pending)
        finally:
            release.set()
        statuses = [p.result().status_code for p in pending]
    assert set(statuses) <= {202, 429}, statuses  # 429: the project's submit rate
