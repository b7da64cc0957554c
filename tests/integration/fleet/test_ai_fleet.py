"""AI analysis and generation end to end on a real local fleet (``testfleet up``) whose
workers talk to the fake OpenAI server through the real SDK.

One worker, so the order of analyses (and so which one the budget stops) is fixed.
The budget is 1,500 tokens and every fake answer costs 1,000: per run, two calls
go out and the third analysis is skipped with a quota_warning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from testfleet import keys
from testfleet.stream import Entry
from tests.conftest import Fleet, start_fleet
from tests.fake_openai import FakeOpenAI

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

SUITE = """
name: AI demo
env: [DEMO_URL]
base_url: ${DEMO_URL}
tests:
  - name: a login page review
    steps:
      - navigate: /login
      - screenshot: {name: login, analyze: ui_validation}
  - name: b shop review
    steps:
      - navigate: /shop
      - screenshot: {name: shop, analyze: general}
  - name: c wrong heading
    steps:
      - navigate: /
      - assert_text: {selector: h1, equals: "Not the title"}
        timeout: 1
"""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ai_fleet(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[Fleet]:
    yield from start_fleet(
        tmp_path_factory.mktemp("aifleet"),
        workers=1,
        OPENAI_API_KEY="sk-fleet",
        OPENAI_BASE_URL=fake.base_url,
        TESTFLEET_AI__RUN_BUDGET_TOKENS="1500",
        TESTFLEET_AI__BACKOFF_BASE_S="0.01",
    )


def run(fleet: Fleet, tmp_path: Path, suite: Path, name: str) -> tuple[dict[str, Any], str]:
    out = tmp_path / f"{name}.json"
    done = fleet.run("run", str(suite), "--json", str(out))
    assert done.returncode == 1, done.stdout + done.stderr  # test c fails on purpose
    return json.loads(out.read_text()), done.stdout


def analyses(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {t["name"]: t["ai"] for t in result["tests"]}


def test_analyses_cache_and_budget_across_runs(
    ai_fleet: Fleet, fake: FakeOpenAI, tmp_path: Path
) -> None:
    suite = tmp_path / "ai.yaml"
    suite.write_text(SUITE)
    client = redis.Redis.from_url(str(ai_fleet.status["redis_url"]), decode_responses=True)

    first, output = run(ai_fleet, tmp_path, suite, "first")
    found = analyses(first)
    statuses = sorted(a["status"] for ai in found.values() for a in ai)
    assert statuses == ["completed", "completed", "skipped"]
    assert [a["analysis_type"] for a in found["c wrong heading"]] == ["error"]
    assert len(fake.chat_requests()) == 2
    skipped = next(a for ai in found.values() for a in ai if a["status"] == "skipped")
    assert "budget is spent" in skipped["reason"]
    run1 = first["runId"]
    types = [Entry.of(i, f).type for i, f in client.xrange(keys.run_events(run1))]
    assert types.count("quota_warning") == 1
    assert types.count("ai_analysis_completed") == 3
    assert "ai_recommendation" in types
    assert "AI › AI demo › a login page review" in output
    assert "Error banner overlaps the form" in output
    usage = client.hgetall(keys.ai_usage(run1))
    assert usage["calls"] == "2"
    assert usage["input_tokens"] == "1800"

    # The same screenshots again: what was analysed comes from the cache, only the
    # analysis the budget stopped is a new call.
    second, _ = run(ai_fleet, tmp_path, suite, "second")
    assert len(fake.chat_requests()) == 3
    cached = [a["cached"] for ai in analyses(second).values() for a in ai]
    assert sorted(cached) == [False, True, True]

    third, _ = run(ai_fleet, tmp_path, suite, "third")
    assert len(fake.chat_requests()) == 3  # every screenshot re-sent: 0 calls
    assert all(a["cached"] for ai in analyses(third).values() for a in ai)
    assert client.hget(keys.ai_usage(third["runId"]), "cached") == "3"
    client.close()


def test_generated_suite_runs_on_the_fleet(ai_fleet: Fleet, tmp_path: Path) -> None:
    out = tmp_path / "generated.yaml"
    demo = ai_fleet.env["DEMO_URL"]
    made = ai_fleet.run("generate", "the home page shows a heading", "--url", demo, "-o", str(out))
    assert made.returncode == 0, made.stderr
    result = tmp_path / "generated.json"
    done = ai_fleet.run("run", str(out), "--json", str(result))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(result.read_text())["status"] == "passed"


def test_ai_usage_reaches_the_fleet_metrics(ai_fleet: Fleet, tmp_path: Path) -> None:
    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        scraper = {"Authorization": f"Bearer {ai_fleet.admin_key}"}  # metrics:read, via admin
        text = httpx.get(f"{ai_fleet.status['api_url']}/metrics", headers=scraper, timeout=10).text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }

    suite = tmp_path / "home.yaml"
    suite.write_text(
        "name: Home\nenv: [DEMO_URL]\nbase_url: ${DEMO_URL}\n"
        "tests:\n  - name: home review\n    steps:\n"
        "      - navigate: /\n      - screenshot: {name: home, analyze: general}\n"
    )
    before = scrape()
    done = ai_fleet.run("run", str(suite))
    assert done.returncode == 0, done.stdout + done.stderr
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("testfleet_ai_analyses_total", result="called") == 1
    assert moved("testfleet_ai_tokens_total", kind="input") == 900  # the fake's usage
    assert moved("testfleet_ai_tokens_total", kind="output") == 100
    assert moved("testfleet_ai_cost_usd_total") > 0
