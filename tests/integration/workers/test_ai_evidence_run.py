"""A failing test's analysis inside ``run_case`` carries the browser's evidence: real Redis,
real headless Chromium on a page that logs an error and gets a 500 (tests/evidence_site.py),
the fake OpenAI server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testfleet.results import CaseResult
from testfleet.settings import GridSettings, PathSettings, RedisSettings, Settings
from testfleet.store import RunStore
from tests.evidence_site import evidence_site
from tests.fake_openai import DEFAULT_ANALYSIS, FakeOpenAI, Reply
from tests.integration.workers.runcase import CountingProvider, create_run, execute

pytestmark = [pytest.mark.redis, pytest.mark.browser]

SECRET = "wonderland-7Hq2"
STEPS: list[dict[str, Any]] = [
    {"step_type": "navigate", "input_data": "/app"},
    {"step_type": "type", "selector": "#pass", "input_data": SECRET, "secret": True},
    {"step_type": "click", "selector": "#go"},
    {"step_type": "assert", "selector": "#status", "expected_result": "saved"},
]


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with evidence_site() as url:
        yield url


def run(redis_url: str, tmp_path: Path, fake: FakeOpenAI, site: str, **test: Any) -> CaseResult:
    settings = Settings(
        redis=RedisSettings(url=redis_url),
        grid=GridSettings(provider="local"),
        paths=PathSettings(state_dir=tmp_path, artifacts_dir=tmp_path / "artifacts"),
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=fake.base_url,
    )
    settings.ai = settings.ai.model_copy(update={"backoff_base_s": 0.01, "max_attempts": 2})
    document = {
        "name": "Orders",
        "base_url": site,
        "timeout_seconds": 1.5,
        "tests": [
            {
                "name": "saves an order",
                "steps": [{"order_index": i, **s} for i, s in enumerate(STEPS, 1)],
                **test,
            }
        ],
    }
    store = RunStore.connect(settings, source="test")
    store.redis.flushdb()  # no analysis cached by an earlier test
    try:
        run_id, case_id = create_run(store, document)
        result = execute(store, CountingProvider(settings), settings, run_id, case_id)
    finally:
        store.redis.close()
    assert result is not None
    return result


def evidence_sent(fake: FakeOpenAI) -> str:
    [sent] = fake.chat_requests()
    parts = sent.body["messages"][1]["content"]
    return "\n".join(p["text"] for p in parts if p["type"] == "text")


def test_the_failure_analysis_carries_the_console_error_and_the_500(
    redis_url: str, tmp_path: Path, fake: FakeOpenAI, site: str
) -> None:
    fake.then(Reply(content={**DEFAULT_ANALYSIS, "citations": [{"kind": "request", "index": 1}]}))
    result = run(redis_url, tmp_path, fake, site)  # the default mode: retain-on-failure
    assert (result.status, result.failed_step) == ("failed", 4)
    text = evidence_sent(fake)
    assert SECRET not in str(fake.chat_requests()[0].body)
    assert "Browser evidence up to the failing step 4" in text
    assert "[step 3] save failed: the backend said no" in text, text
    assert "Uncaught Error: uncaught boom" in text
    assert f"[step 3] POST {site}/api/save -> 500 Internal Server Error" in text, text
    assert f"GET {site}/missing.json -> 404" in text
    assert "/api/echo" not in text, "a request that succeeded is no evidence of a failure"
    [analysis] = result.ai
    assert analysis.analysis_type == "error"
    [citation] = analysis.citations
    assert citation.kind == "request"
    assert citation.text in text


def test_with_trace_off_the_analysis_has_no_evidence_to_add(
    redis_url: str, tmp_path: Path, fake: FakeOpenAI, site: str
) -> None:
    result = run(redis_url, tmp_path, fake, site, trace="off")
    assert result.status == "failed"
    assert "Browser evidence" not in evidence_sent(fake)
    assert [a.status for a in result.ai] == ["completed"]
