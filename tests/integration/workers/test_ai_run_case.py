"""Analysis inside ``run_case``: real Redis, real headless Chromium, the fake OpenAI server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from testfleet.settings import GridSettings, PathSettings, RedisSettings, Settings
from testfleet.store import RunStore
from tests.fake_openai import FakeOpenAI
from tests.fixtures_pages import page_server
from tests.integration.workers.runcase import CountingProvider, create_run, execute, suite_doc
from tests.payload_checks import checked

pytestmark = [pytest.mark.redis, pytest.mark.browser]

PAGE = "<!doctype html><html><body><h1>Welcome, alice</h1><p>Hello</p></body></html>"
STEPS: list[dict[str, Any]] = [
    {"step_type": "navigate", "input_data": "/home"},
    {"step_type": "screenshot", "name": "home", "analyze": "ui_validation"},
    {"step_type": "screenshot", "name": "plain"},
    {"step_type": "assert", "selector": "h1", "expected_result": "Welcome, bob",
     "timeout_seconds": 1},
]  # fmt: skip


@pytest.fixture(autouse=True)
def empty_redis(redis_url: str) -> None:
    """No analysis cached by an earlier test (the page renders the same each time)."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with page_server({"/home": PAGE}) as url:
        yield url


def make_settings(redis_url: str, tmp_path: Path, fake: FakeOpenAI | None) -> Settings:
    s = Settings(
        redis=RedisSettings(url=redis_url),
        grid=GridSettings(provider="local"),
        paths=PathSettings(state_dir=tmp_path, artifacts_dir=tmp_path / "artifacts"),
        OPENAI_API_KEY="sk-test" if fake else None,
        OPENAI_BASE_URL=fake.base_url if fake else None,
    )
    s.ai = s.ai.model_copy(update={"backoff_base_s": 0.01, "max_attempts": 2})
    return s


def run_one(settings: Settings, base_url: str) -> tuple[Any, list[dict[str, Any]]]:
    store = RunStore.connect(settings, source="test")
    provider = CountingProvider(settings)
    try:
        run_id, case_id = create_run(store, suite_doc(base_url, STEPS))
        result = execute(store, provider, settings, run_id, case_id)
        return result, checked(store.read_run_events(run_id))
    finally:
        store.redis.close()


def test_failing_case_gets_error_and_requested_analyses(
    redis_url: str, base_url: str, fake: FakeOpenAI, tmp_path: Path
) -> None:
    result, events = run_one(make_settings(redis_url, tmp_path, fake), base_url)
    assert result is not None
    assert result.status == "failed"
    assert [(a.analysis_type, a.step, a.status) for a in result.ai] == [
        ("ui_validation", 2, "completed"),
        ("error", 4, "completed"),
    ]
    assert result.ai[1].screenshot == result.steps[3].screenshot
    sent = fake.chat_requests()
    assert len(sent) == 2
    assert "Welcome, bob" in str(sent[1].body["messages"][1])
    types = [e["type"] for e in events]
    assert types.count("ai_analysis_completed") == 2
    assert types.count("ai_recommendation") == 2
    # Analyses are recorded before the final event, so a follower sees them in the result.
    assert types.index("ai_analysis_completed") < types.index("test_failed")


def test_model_failure_never_fails_the_test(
    redis_url: str, base_url: str, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.fail(500, times=10)
    steps_ok = STEPS[:3]
    settings = make_settings(redis_url, tmp_path, fake)
    store = RunStore.connect(settings, source="test")
    try:
        run_id, case_id = create_run(store, suite_doc(base_url, steps_ok))
        result = execute(store, CountingProvider(settings), settings, run_id, case_id)
    finally:
        store.redis.close()
    assert result is not None
    assert result.status == "passed"
    [a] = result.ai
    assert a.status == "failed"
    assert "HTTP 500" in (a.reason or "")


def test_without_a_key_the_run_is_unaffected(redis_url: str, base_url: str, tmp_path: Path) -> None:
    result, events = run_one(make_settings(redis_url, tmp_path, None), base_url)
    assert result is not None
    assert result.status == "failed"  # the assertion's failure, nothing else
    assert [a.status for a in result.ai] == ["skipped", "skipped"]
    assert all("OPENAI_API_KEY" in (a.reason or "") for a in result.ai)
    skipped = [e for e in events if e["type"] == "ai_analysis_completed"]
    assert [e["payload"]["status"] for e in skipped] == ["skipped", "skipped"]
