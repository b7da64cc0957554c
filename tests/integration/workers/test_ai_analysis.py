"""Worker-side analysis with a real Redis and the real openai SDK against the fake server:
cache, budget, concurrency slots, events, failures and the no-key path."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import redis

from testfleet import keys
from testfleet.events import Event
from testfleet.payloads import CaseEvent, Payload, unknown_fields
from testfleet.results import Analysis, StepResult
from testfleet.settings import Settings
from testfleet.suites.model import CaseSpec
from tests.fake_openai import FakeOpenAI, Reply
from tests.waiting import wait_until
from workers.analysis import Analyzer, Shot, analyze_attempt, model_for, shots_to_analyze

pytestmark = pytest.mark.redis

DATA = Path(__file__).resolve().parents[2] / "data"
PNGS = {
    "dash.png": (DATA / "demo-dashboard.png").read_bytes(),
    "login.png": (DATA / "demo-login.png").read_bytes(),
}


def make_settings(redis_url: str, fake: FakeOpenAI | None, **ai: Any) -> Settings:
    s = Settings(
        OPENAI_API_KEY="sk-test" if fake else None,
        OPENAI_BASE_URL=fake.base_url if fake else None,
    )
    s.redis = s.redis.model_copy(update={"url": redis_url})
    s.ai = s.ai.model_copy(update={"backoff_base_s": 0.01, "max_attempts": 2, **ai})
    return s


class Events:
    def __init__(self) -> None:
        self.published: list[Event] = []

    def make(self, type_: str, payload: Payload) -> Event:
        assert unknown_fields(payload) == [], "the analyzer publishes declared fields only"
        return Event(type=type_, run_id="run1", project_id="p", payload=payload.dump())

    def publish(self, event: Event) -> str:
        self.published.append(event)
        return "1-0"

    def types(self) -> list[str]:
        return [e.type for e in self.published]


def analyzer(settings: Settings, r: redis.Redis, events: Events) -> Analyzer:
    return Analyzer(settings, r, events.publish, events.make, model_for(settings), case=CASE)


CASE = CaseEvent(testId="c1", testSuiteId="s")
SHOT = Shot(step=3, screenshot="dash.png", analysis_type="ui_validation", context="Test: t")


def test_analysis_is_structured_counted_and_published(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    settings = make_settings(redis_url, fake)
    events = Events()
    [a] = analyzer(settings, r, events).analyze("run1", [SHOT], PNGS.__getitem__)
    assert a.status == "completed"
    assert not a.cached
    assert a.issues[0].severity == "high"
    assert a.issues[0].location == "#msg"
    assert a.recommendations[0].confidence == 0.8
    assert a.scores == {"usability": 70.0}
    assert (a.input_tokens, a.output_tokens) == (900, 100)
    assert a.cost_usd == pytest.approx((900 * 0.15 + 100 * 0.60) / 1e6)
    sent = fake.chat_requests()[0]
    assert len(sent.image_bytes()) * 4 <= len(PNGS["dash.png"])
    usage = r.hgetall(keys.ai_usage("run1"))
    assert (usage["calls"], usage["input_tokens"], usage["output_tokens"]) == ("1", "900", "100")
    assert events.types() == [
        "ai_analysis_started",
        "ai_analysis_progress",
        "ai_analysis_completed",
        "ai_recommendation",
    ]
    done = events.published[2].payload
    assert done["analysisType"] == "ui_validation"
    assert done["testId"] == "c1"
    assert done["confidence"] == 0.8
    assert events.published[3].payload["title"] == "Wait for the banner"


def test_identical_screenshots_are_analysed_once_across_workers_and_runs(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    settings = make_settings(redis_url, fake)
    first = analyzer(settings, r, Events()).analyze("run1", [SHOT, SHOT], PNGS.__getitem__)
    # Another worker (its own Analyzer and model client), another run, same picture.
    other = Settings.model_validate(settings.model_dump())
    again = analyzer(other, r, Events()).analyze("run2", [SHOT], PNGS.__getitem__)
    assert len(fake.chat_requests()) == 1
    assert [a.cached for a in first + again] == [False, True, True]
    assert again[0].summary == first[0].summary
    assert again[0].cost_usd == 0
    assert r.hget(keys.ai_usage("run2"), "cached") == "1"
    assert r.hget(keys.ai_usage("run2"), "calls") is None
    assert 0 < r.ttl(keys.ai_usage("run2")) <= settings.retention.run_ttl_s
    # A different picture or analysis type is a different question.
    other_type = Shot(3, "dash.png", "general", "Test: t")
    analyzer(settings, r, Events()).analyze("run2", [other_type], PNGS.__getitem__)
    assert len(fake.chat_requests()) == 2


def test_budget_stops_analysis_with_one_quota_warning(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    settings = make_settings(redis_url, fake, run_budget_tokens=1500, run_budget_usd=0)
    events = Events()
    shots = [SHOT, Shot(4, "login.png", "general", "x"), Shot(5, "login.png", "error", "y")]
    results = analyzer(settings, r, events).analyze("run1", shots, PNGS.__getitem__)
    assert [a.status for a in results] == ["completed", "completed", "skipped"]
    assert "budget is spent" in (results[2].reason or "")
    assert "TESTFLEET_AI__RUN_BUDGET" in (results[2].reason or "")
    assert len(fake.chat_requests()) == 2
    warnings = [e for e in events.published if e.type == "quota_warning"]
    assert len(warnings) == 1
    assert warnings[0].channel == "system_events"
    assert warnings[0].payload["tokens"] == 2000


def test_model_failure_is_recorded_not_raised(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    settings = make_settings(redis_url, fake)
    fake.fail(500, times=2)
    events = Events()
    [a] = analyzer(settings, r, events).analyze("run1", [SHOT], PNGS.__getitem__)
    assert a.status == "failed"
    assert "HTTP 500" in (a.reason or "")
    stages = [e.payload.get("stage") for e in events.published if e.type == "ai_analysis_progress"]
    assert stages == ["calling", "retrying"]
    assert not r.keys(keys.ai_cache("*"))  # failures are not cached


def test_no_free_slot_fails_the_analysis_with_a_reason(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    settings = make_settings(redis_url, fake, max_concurrent=1, slot_wait_s=0.3)
    r.zadd(keys.AI_SLOTS, {"another-worker": 10**15})  # held by someone else
    [a] = analyzer(settings, r, Events()).analyze("run1", [SHOT], PNGS.__getitem__)
    assert a.status == "failed"
    assert "TESTFLEET_AI__MAX_CONCURRENT" in (a.reason or "")
    assert fake.chat_requests() == []


def test_expired_slot_leases_are_reclaimed(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    settings = make_settings(redis_url, fake, max_concurrent=1)
    r.zadd(keys.AI_SLOTS, {"dead-worker": 1})  # lease long expired
    [a] = analyzer(settings, r, Events()).analyze("run1", [SHOT], PNGS.__getitem__)
    assert a.status == "completed"
    assert r.zcard(keys.AI_SLOTS) == 0


def test_without_a_key_analysis_is_skipped_with_an_event(redis_url: str, r: redis.Redis) -> None:
    settings = make_settings(redis_url, None)
    events = Events()
    [a] = analyzer(settings, r, events).analyze("run1", [SHOT], PNGS.__getitem__)
    assert a.status == "skipped"
    assert "OPENAI_API_KEY" in (a.reason or "")
    done = [e for e in events.published if e.type == "ai_analysis_completed"]
    assert done[0].payload["status"] == "skipped"
    assert "OPENAI_API_KEY" in done[0].payload["reason"]


def test_which_screenshots_are_analysed(redis_url: str, r: redis.Redis, fake: FakeOpenAI) -> None:
    spec = CaseSpec.model_validate(json.loads((DATA / "spec.json").read_text()))
    steps = [
        StepResult(index=1, label="open", step_type="navigate", status="passed"),
        StepResult(
            index=2, label="plain", step_type="screenshot", status="passed", screenshot="login.png"
        ),
        StepResult(
            index=3, label="shot", step_type="screenshot", status="passed", screenshot="dash.png"
        ),
        StepResult(
            index=4,
            label="assert h1",
            step_type="assert",
            status="failed",
            error="h1 did not contain 'Nope'",
            screenshot="login.png",
        ),
    ]
    shots = shots_to_analyze(spec, steps)
    assert [(s.step, s.analysis_type) for s in shots] == [(3, "ui_validation"), (4, "error")]
    assert "h1 did not contain 'Nope'" in shots[1].context
    events = Events()
    settings = make_settings(redis_url, fake)
    results = analyze_attempt(
        settings,
        r,
        events.publish,
        events.make,
        "run1",
        spec,
        steps,
        PNGS.__getitem__,
        "p",
        case=CASE,
    )
    assert [a.analysis_type for a in results] == ["ui_validation", "error"]
    assert fake.chat_requests()[1].system_prompt.count("FAILED") == 1
    assert "h1 did not contain" in json.dumps(fake.chat_requests()[1].body["messages"][1])


def test_concurrent_identical_screenshots_make_one_call(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    settings = make_settings(redis_url, fake)
    release = threading.Event()
    fake.then(Reply(hold=release))
    results: dict[str, list[Analysis]] = {}
    events = {"first": Events(), "second": Events()}

    def worker(name: str) -> None:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        own = Settings.model_validate(settings.model_dump())
        results[name] = analyzer(own, client, events[name]).analyze(
            "run1", [SHOT], PNGS.__getitem__
        )
        client.close()

    first = threading.Thread(target=worker, args=("first",))
    first.start()
    wait_until("the first request to reach the model", fake.chat_requests, timeout_s=30)
    second = threading.Thread(target=worker, args=("second",))
    second.start()

    def second_waits() -> bool:
        stages = [e.payload.get("stage") for e in events["second"].published]
        return "waiting_same_image" in stages

    wait_until("the second worker to wait for the first's answer", second_waits, timeout_s=30)
    release.set()
    first.join(60)
    second.join(60)
    assert len(fake.chat_requests()) == 1
    assert [results["first"][0].cached, results["second"][0].cached] == [False, True]
