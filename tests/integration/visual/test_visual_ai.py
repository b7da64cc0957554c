"""The vision model and visual checks inside ``run_case``: real Redis, real headless
Chromium on the demo site, the official SDK against the fake OpenAI server.

- identical screenshots are one question, whatever their steps are called;
- a visual mismatch is explained from three pictures, and the answer reaches the
  result, the events and the HTML report;
- a cosmetic verdict changes nothing unless the setting allows it;
- two workers meeting the same picture at once make one call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from api.reports import html_report
from testfleet import keys
from testfleet.artifacts import open_store
from testfleet.events import Event
from testfleet.payloads import CaseEvent, Payload
from testfleet.results import CaseResult, RunResult
from testfleet.settings import Settings
from testfleet.visual import decode
from tests.fake_openai import DEFAULT_DIFF, FakeOpenAI, Reply, fake_openai
from tests.fixtures_grid import running_demosite
from tests.integration.workers.runcase import CountingProvider, create_run, execute, suite_doc
from tests.integration.workers.test_ai_run_case import make_settings
from tests.payload_checks import checked
from workers.analysis import Analyzer, Shot, model_for

pytestmark = [pytest.mark.redis, pytest.mark.browser]

PAGE: dict[str, Any] = {
    "step_type": "assert",
    "assertion": "screenshot",
    "name": "page",
    "mask": ["#clock"],
    "timeout_seconds": 2,
}


@pytest.fixture(autouse=True)
def empty_redis(redis_url: str) -> None:
    """The session's shared Redis (``redis_url``, tests/conftest.py), empty for each test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with running_demosite() as url:
        yield url


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai() as server:
        yield server


def run_steps(
    settings: Settings, site: str, steps: list[dict[str, Any]]
) -> tuple[CaseResult, list[dict[str, Any]]]:
    """One case of ``steps`` through ``run_case``; its result and its run's events."""
    from testfleet.store import RunStore

    store = RunStore.connect(settings, source="test")
    provider = CountingProvider(settings)
    try:
        run_id, case_id = create_run(store, suite_doc(site, steps))
        result = execute(store, provider, settings, run_id, case_id)
        assert result is not None
        return result, checked(store.read_run_events(run_id))
    finally:
        store.redis.close()


def forget_answers(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(keys.ai_cache("*")):
        client.delete(key)
    client.close()


def test_identical_screenshots_of_two_steps_make_one_call_even_after_a_429(
    redis_url: str, site: str, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.fail(429, retry_after="0")
    steps = [
        {"step_type": "navigate", "input_data": "/"},
        {"step_type": "screenshot", "name": "first", "analyze": "ui_validation"},
        {"step_type": "screenshot", "name": "same-again", "analyze": "ui_validation"},
    ]
    result, events = run_steps(make_settings(redis_url, tmp_path, fake), site, steps)
    assert result.status == "passed"
    assert [(a.step, a.status, a.cached) for a in result.ai] == [
        (2, "completed", False),
        (3, "completed", True),
    ]
    assert result.ai[1].summary == result.ai[0].summary
    sent = fake.chat_requests()
    assert len(sent) == 2  # the 429 and its retry; the second screenshot cost nothing
    assert "first" in str(sent[1].body["messages"][1])  # the context is in the prompt
    stages = [e["payload"].get("stage") for e in events if e["type"] == "ai_analysis_progress"]
    assert "retrying" in stages
    assert "cache_hit" in stages


def test_a_mismatch_is_explained_from_baseline_actual_and_diff_and_shown_in_the_report(
    redis_url: str, site: str, fake: FakeOpenAI, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, tmp_path, fake)
    created, _ = run_steps(
        settings, site, [{"step_type": "navigate", "input_data": "/visual"}, PAGE]
    )
    assert created.status == "passed"
    assert fake.chat_requests() == []  # a baseline created is nothing to explain
    result, events = run_steps(
        settings, site, [{"step_type": "navigate", "input_data": "/visual?variant=text"}, PAGE]
    )
    assert result.status == "failed"
    visual = result.steps[1].visual
    assert visual is not None
    assert visual.outcome == "mismatch"
    [request] = fake.chat_requests()
    assert request.schema_name == "visual_diff"
    assert len(request.image_parts()) == 3
    texts = [
        p.get("text", "")
        for m in request.body["messages"]
        if isinstance(m["content"], list)
        for p in m["content"]
    ]
    assert [t for t in texts if ")" in t[:3]] == ["1) BASELINE", "2) ACTUAL", "3) DIFF"]
    assert "magenta" in request.system_prompt
    assert f"{visual.changed_px} of {visual.total_px} px differ" in texts[0]
    artifacts = open_store(settings)
    for index, name in enumerate((visual.baseline, visual.actual, visual.diff)):
        assert name is not None
        sent = decode(request.image_bytes(index))
        original = decode(artifacts.read(result.run_id, name))
        assert sent.size == (768, 480)  # downscaled like every image sent
        assert original.size == (1280, 800)
    [explained] = result.ai
    assert explained.analysis_type == "visual_diff"
    assert explained.explanation is not None
    assert explained.explanation.verdict == DEFAULT_DIFF["verdict"]
    assert explained.summary == DEFAULT_DIFF["summary"]
    done = [e for e in events if e["type"] == "ai_analysis_completed"]
    assert done[0]["payload"]["explanation"]["verdict"] == "regression"
    # The step's event carries the figures and the three pictures' URLs (the dashboard's).
    progress = [e["payload"] for e in events if e["type"] == "test_progress"]
    shown = progress[1]["visual"]
    assert shown["outcome"] == "mismatch"
    assert shown["diffRatio"] == visual.diff_ratio
    assert shown["diffUrl"].endswith(f"/artifacts/{visual.diff}")
    assert shown["baselineUrl"]
    assert shown["actualUrl"]
    run = RunResult(
        runId=result.run_id,
        projectId="proj",
        name="r",
        status="failed",
        createdMs=1,
        counts={"failed": 1},
        tests=[result],
    )
    page = html_report(run, artifacts)
    assert "The banner&#x27;s greeting changed from Alice to Bob." in page
    assert "AI: regression" in page


def test_a_cosmetic_verdict_makes_a_warning_only_when_the_setting_allows_it(
    redis_url: str, site: str, fake: FakeOpenAI, tmp_path: Path
) -> None:
    cosmetic = {**DEFAULT_DIFF, "verdict": "intended", "cosmetic": True, "confidence": 0.97}
    banner = {"step_type": "assert", "selector": "#banner", "expected_result": "Alice"}
    steps = [{"step_type": "navigate", "input_data": "/visual?variant=color"}, PAGE, banner]
    settings = make_settings(redis_url, tmp_path, fake)
    baseline, _ = run_steps(
        settings, site, [{"step_type": "navigate", "input_data": "/visual"}, PAGE]
    )
    assert baseline.status == "passed"

    fake.then(Reply(content=cosmetic))
    strict, _ = run_steps(settings, site, steps)
    assert strict.status == "failed"  # off by default: the model never decides
    assert [s.status for s in strict.steps] == ["passed", "failed", "skipped"], strict.error

    settings.ai = settings.ai.model_copy(update={"visual_downgrade_cosmetic": True})
    forget_answers(redis_url)  # the same three pictures: else the cache would answer
    fake.then(Reply(content={**cosmetic, "confidence": 0.5}))
    unsure, _ = run_steps(settings, site, steps)
    assert unsure.status == "failed"
    # A mismatch that may still be forgiven lets the test go on (as soft would).
    assert [s.status for s in unsure.steps] == ["passed", "failed", "passed"], unsure.error

    forget_answers(redis_url)
    fake.then(Reply(content=cosmetic))
    forgiven, events = run_steps(settings, site, steps)
    assert forgiven.status == "passed"
    assert [s.status for s in forgiven.steps] == ["passed", "warning", "passed"]
    assert "judged a cosmetic change" in (forgiven.steps[1].error or "")
    assert (forgiven.error, forgiven.failed_step) == (None, None)
    assert [e["type"] for e in events][-2:] == ["test_completed", "run_completed"]
    assert len(fake.chat_requests()) == 3  # one explanation per run, none for the baseline


def test_two_workers_meeting_the_same_picture_at_once_make_one_call(
    redis_url: str, fake: FakeOpenAI, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, tmp_path, fake)
    picture = (Path(__file__).parents[2] / "data" / "demo-login.png").read_bytes()
    release = threading.Event()
    fake.then(Reply(hold=release))  # the first call hangs until released
    results: dict[str, Any] = {}

    def worker(name: str) -> None:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        own = Settings.model_validate(settings.model_dump())  # its own model client

        def event(type_: str, payload: Payload) -> Event:
            return Event(type=type_, run_id=name, project_id="p", payload=payload.dump())

        try:
            case = CaseEvent(testId=f"{name}-c1", testSuiteId="s")
            analyzer = Analyzer(own, client, lambda e: None, event, model_for(own), case=case)
            shot = Shot(2, "login.png", "general", f"Test: {name}")
            results[name] = analyzer.analyze(name, [shot], lambda _: picture)[0]
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(f"run{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    probe = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        # Wait (with a deadline) until one of them has claimed the picture and is asking.
        from tests.waiting import wait_until

        wait_until("a worker to ask the model", lambda: len(fake.chat_requests()) == 1, 30)
        wait_until(
            "the other to wait for its answer", lambda: bool(probe.keys(keys.ai_pending("*"))), 30
        )
    finally:
        release.set()
        probe.close()
    for t in threads:
        t.join(60)
    assert len(fake.chat_requests()) == 1
    assert sorted(a.cached for a in results.values()) == [False, True]
    assert {a.status for a in results.values()} == {"completed"}
