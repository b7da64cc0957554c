"""The per-project daily AI budget (``ai.project_daily_budget_*``): real Redis, the real
openai SDK against the fake server, and in the last test real headless Chromium.

Every fake answer costs 1,000 tokens (900 in, 100 out). A project's spend is summed per
UTC day across all its runs; once it reaches the budget its analyses are skipped with a
``quota_warning`` saying when the budget resets, while other projects go on analysing
and the runs themselves are unaffected.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from testfleet import keys
from testfleet.settings import GridSettings, PathSettings, RedisSettings, Settings
from testfleet.store import RunStore
from tests.fake_openai import FakeOpenAI
from tests.fixtures_pages import page_server
from tests.integration.workers.runcase import CountingProvider, create_run, execute, suite_doc
from tests.integration.workers.test_ai_analysis import PNGS, Events, analyzer, make_settings
from tests.payload_checks import checked
from workers.analysis import Shot, utc_day

pytestmark = pytest.mark.redis

BUDGET_TOKENS = 1500
"""Two calls of one project go over it: the first leaves 500, the second ends at 2,000."""


def next_midnight_utc() -> str:
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return f"{tomorrow.isoformat()}T00:00:00Z"


def test_a_projects_daily_budget_stops_its_next_runs_analyses_not_another_projects(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    # No per-run cap: only the project's day can stop these analyses.
    settings = make_settings(
        redis_url, fake, run_budget_usd=0, run_budget_tokens=0,
        project_daily_budget_usd=0, project_daily_budget_tokens=BUDGET_TOKENS,
    )  # fmt: skip
    read = PNGS.__getitem__
    # Each shot a different question (image or type), so no answer comes from the cache.
    [first] = analyzer(settings, r, Events()).analyze(
        "run-a1", [Shot(1, "dash.png", "ui_validation", "a1")], read, project="alpha"
    )
    assert first.status == "completed"

    events = Events()
    second_run = [
        Shot(1, "login.png", "general", "a2"),
        Shot(2, "login.png", "ui_validation", "a2"),
        Shot(3, "dash.png", "general", "a2"),
    ]
    second = analyzer(settings, r, events).analyze("run-a2", second_run, read, project="alpha")
    assert [a.status for a in second] == ["completed", "skipped", "skipped"]
    reason = second[1].reason or ""
    assert "project alpha's daily AI budget is spent" in reason
    assert next_midnight_utc() in reason, "says when the budget resets"
    assert "TESTFLEET_AI__PROJECT_DAILY_BUDGET_TOKENS" in reason
    [warning] = [e for e in events.published if e.type == "quota_warning"]
    assert warning.channel == "system_events"
    assert warning.payload["budget"] == "project_daily"
    assert warning.payload["resetsAt"] == next_midnight_utc()
    assert (warning.payload["tokens"], warning.payload["budgetTokens"]) == (2000, BUDGET_TOKENS)
    assert "resets at" in warning.payload["message"]

    # Another project's analyses are its own budget's business.
    [other] = analyzer(settings, r, Events()).analyze(
        "run-b1", [Shot(1, "login.png", "error", "b1", error="boom")], read, project="beta"
    )
    assert other.status == "completed"
    assert len(fake.chat_requests()) == 3

    day = utc_day(datetime.now(UTC))
    alpha = r.hgetall(keys.project_ai_usage("alpha", day))
    assert (alpha["calls"], alpha["input_tokens"], alpha["output_tokens"]) == ("2", "1800", "200")
    assert r.hget(keys.project_ai_usage("beta", day), "input_tokens") == "900"
    assert 0 < r.ttl(keys.project_ai_usage("alpha", day)) <= 2 * 86_400
    # The run's own usage and budget are untouched by the project's.
    assert r.hget(keys.ai_usage("run-a2"), "calls") == "1"


def test_the_usd_budget_counts_like_the_token_budget(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    # One fake call costs (900 * 0.15 + 100 * 0.60) / 1e6 USD with gpt-4o-mini.
    one_call_usd = (900 * 0.15 + 100 * 0.60) / 1e6
    settings = make_settings(
        redis_url, fake, run_budget_usd=0, project_daily_budget_usd=one_call_usd / 2,
        project_daily_budget_tokens=0,
    )  # fmt: skip
    read = PNGS.__getitem__
    analyzer(settings, r, Events()).analyze(
        "run-1", [Shot(1, "dash.png", "general", "x")], read, project="alpha"
    )
    [skipped] = analyzer(settings, r, Events()).analyze(
        "run-2", [Shot(1, "login.png", "general", "x")], read, project="alpha"
    )
    assert skipped.status == "skipped"
    assert "TESTFLEET_AI__PROJECT_DAILY_BUDGET_USD" in (skipped.reason or "")
    assert len(fake.chat_requests()) == 1


def test_no_cap_when_both_are_zero(redis_url: str, r: redis.Redis, fake: FakeOpenAI) -> None:
    settings = make_settings(
        redis_url, fake, run_budget_usd=0, project_daily_budget_usd=0,
        project_daily_budget_tokens=0,
    )  # fmt: skip
    shots = [Shot(1, "dash.png", "general", "x"), Shot(2, "login.png", "general", "x")]
    for n in range(2):
        got = analyzer(settings, r, Events()).analyze(
            f"run-{n}", shots[n : n + 1], PNGS.__getitem__, project="alpha"
        )
        assert got[0].status == "completed"


# --- on real runs ------------------------------------------------------------------------

PAGES = {
    f"/{name}": f"<!doctype html><html><body><h1>{name} page</h1><p>{name}</p></body></html>"
    for name in ("one", "two", "three")
}


@pytest.mark.browser
def test_runs_go_on_when_their_projects_day_is_spent(
    redis_url: str, fake: FakeOpenAI, tmp_path: Path
) -> None:
    settings = Settings(
        redis=RedisSettings(url=redis_url),
        grid=GridSettings(provider="local"),
        paths=PathSettings(state_dir=tmp_path, artifacts_dir=tmp_path / "artifacts"),
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=fake.base_url,
    )
    # 500 tokens: the project's first analysis of the day spends it all (1,000).
    settings.ai = settings.ai.model_copy(
        update={"backoff_base_s": 0.01, "max_attempts": 2, "run_budget_usd": 0,
                "project_daily_budget_usd": 0, "project_daily_budget_tokens": 500}
    )  # fmt: skip
    store = RunStore.connect(settings, source="test")
    store.redis.flushdb()
    provider = CountingProvider(settings)
    steps = [
        {"step_type": "navigate", "input_data": "/"},
        {"step_type": "screenshot", "name": "page", "analyze": "general"},
    ]
    results: list[tuple[Any, list[dict[str, Any]]]] = []
    try:
        # A page per run, each different: no analysis is answered from the cache.
        for project, page in (("alpha", "/one"), ("alpha", "/two"), ("beta", "/three")):
            steps[0]["input_data"] = page
            with page_server(PAGES) as base_url:
                run_id, case_id = create_run(store, suite_doc(base_url, steps), project=project)
                result = execute(store, provider, settings, run_id, case_id)
            results.append((result, checked(store.read_run_events(run_id))))
    finally:
        store.redis.close()
    (first, _), (second, second_events), (other, _) = results
    assert provider.closed == provider.opened
    assert all(result is not None for result, _ in results), "every case was run"
    assert [a.status for a in first.ai] == ["completed"]
    assert second.status == "passed", "the run itself is unaffected"
    [skipped] = second.ai
    assert skipped.status == "skipped"
    assert "project alpha's daily AI budget is spent" in (skipped.reason or "")
    [warning] = [e for e in second_events if e["type"] == "quota_warning"]
    assert warning["payload"]["budget"] == "project_daily"
    assert warning["payload"]["resetsAt"] == next_midnight_utc()
    assert [a.status for a in other.ai] == ["completed"], "another project is unaffected"
    assert len(fake.chat_requests()) == 2
