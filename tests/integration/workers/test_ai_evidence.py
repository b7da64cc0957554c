"""A failure analysis sees the browser's evidence: real Redis, the real openai SDK against the
fake server. The failing step's console errors and failed requests go into the request
masked and capped, the finding cites them, the cache tells different evidence apart and
the budget still stops calls."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from testfleet import keys
from testfleet.evidence.failure import FailureEvidence, failure_evidence
from testfleet.masking import Masker
from testfleet.results import AiCitation, Analysis, StepResult
from testfleet.settings import Settings
from testfleet.suites.model import CaseSpec
from tests.fake_openai import DEFAULT_ANALYSIS, FakeOpenAI, Recorded, Reply
from tests.integration.workers.test_ai_analysis import CASE, PNGS, Events, make_settings
from workers.analysis import Analyzer, Shot, analyze_attempt, model_for, shots_to_analyze

pytestmark = pytest.mark.redis

DATA = Path(__file__).resolve().parents[2] / "data"
SECRET = "wonderland-7Hq2"
SITE = "http://127.0.0.1:8123"
STEP_MS = 1000
"""Step ``n`` of these logs runs from ``n * STEP_MS`` to ``(n + 1) * STEP_MS`` (epoch ms)."""


def step_of(epoch_ms: float) -> int | None:
    return int(epoch_ms // STEP_MS) or None


def console(step: int, text: str, level: str = "SEVERE", at_ms: int = 100) -> dict[str, Any]:
    """A chromedriver browser-log entry of a page's console call during ``step``."""
    message = f"{SITE}/app 16:10 {json.dumps(text)}"
    stamp = step * STEP_MS + at_ms
    return {"level": level, "message": message, "source": "console-api", "timestamp": stamp}


def request(
    step: int,
    request_id: str,
    method: str,
    url: str,
    status: int | None,
    error: str = "",
    at_ms: int = 200,
) -> list[dict[str, Any]]:
    """The performance-log entries of one request started ``at_ms`` into ``step``: answered
    ``status``, or failed with ``error`` (a ``net::ERR_*``)."""
    wall_s = (step * STEP_MS + at_ms) / 1000
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "Network.requestWillBeSent",
            {
                "requestId": request_id,
                "request": {"method": method, "url": url, "headers": {}},
                "timestamp": 10.0,
                "wallTime": wall_s,
                "type": "Fetch",
                "frameId": "F",
            },
        )
    ]
    if status is not None:
        response = {"status": status, "statusText": "Status", "headers": {}, "mimeType": "x"}
        events.append(("Network.responseReceived", {"requestId": request_id, "response": response}))
        done = {"requestId": request_id, "timestamp": 10.1, "encodedDataLength": 10}
        events.append(("Network.loadingFinished", done))
    else:
        failed = {"requestId": request_id, "timestamp": 10.1, "errorText": error}
        events.append(("Network.loadingFailed", failed))
    return [
        {
            "level": "INFO",
            "message": json.dumps({"message": {"method": m, "params": p}, "webview": "W"}),
            "timestamp": int(wall_s * 1000),
        }
        for m, p in events
    ]


def failing_steps() -> list[StepResult]:
    return [
        StepResult(index=1, label="open", step_type="navigate", status="passed"),
        StepResult(index=2, label="click #go", step_type="click", status="passed"),
        StepResult(
            index=3,
            label="assert #status",
            step_type="assert",
            status="failed",
            error="#status did not contain 'saved'",
            screenshot="login.png",
        ),
    ]


def evidence_of_the_save() -> FailureEvidence:
    """Step 2's click logged errors and its requests failed; step 3 (failing) fetched a
    missing file; step 4's error came after the failure."""
    logs = [
        console(1, "page loaded", level="INFO"),
        console(2, f"save failed for token {SECRET}"),
        console(2, "token is set", level="INFO"),
        console(3, "still waiting for the save", at_ms=300),
        console(4, "after the failure"),
    ]
    network = [
        *request(1, "1", "GET", f"{SITE}/app", 200),
        *request(2, "2", "POST", f"{SITE}/api/save?token={SECRET}", 500),
        *request(
            2, "3", "GET", "http://127.0.0.1:9/down", None, "net::ERR_CONNECTION_REFUSED", 300
        ),
        *request(3, "4", "GET", f"{SITE}/missing.json", 404),
    ]
    return failure_evidence(logs, network, Masker([SECRET]), step_of, 3)


def analyze(
    settings: Settings, r: redis.Redis, evidence: dict[int, FailureEvidence], events: Events
) -> list[Analysis]:
    spec = CaseSpec.model_validate(json.loads((DATA / "spec.json").read_text()))
    return analyze_attempt(
        settings,
        r,
        events.publish,
        events.make,
        "run1",
        spec,
        failing_steps(),
        PNGS.__getitem__,
        "p",
        case=CASE,
        evidence=evidence,
    )


def user_text(sent: Recorded) -> str:
    parts = sent.body["messages"][1]["content"]
    return "\n".join(p["text"] for p in parts if p["type"] == "text")


def test_the_failure_analysis_sees_the_failing_steps_evidence_masked_and_cites_it(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    citations = [
        {"kind": "request", "index": 2},
        {"kind": "console", "index": 1},
        {"kind": "console", "index": 9},  # never shown: dropped
    ]
    fake.then(Reply(content={**DEFAULT_ANALYSIS, "citations": citations}))
    events = Events()
    [a] = analyze(make_settings(redis_url, fake), r, {3: evidence_of_the_save()}, events)

    [sent] = fake.chat_requests()
    assert SECRET not in json.dumps(sent.body), "the masker ran over every line sent"
    text = user_text(sent)
    assert "#status did not contain 'saved'" in text
    lines = text.splitlines()
    console_lines = [line for line in lines if line[:1] == "C" and line[1:2].isdigit()]
    request_lines = [line for line in lines if line[:1] == "R" and line[1:2].isdigit()]
    # The failing step's own first, then the earlier steps', latest first; nothing later.
    assert console_lines == [
        f"C1 [step 3] still waiting for the save ({SITE}/app:16:10)",
        f"C2 [step 2] save failed for token *** ({SITE}/app:16:10)",
    ]
    assert request_lines == [
        f"R1 [step 3] GET {SITE}/missing.json -> 404 Status",
        "R2 [step 2] GET http://127.0.0.1:9/down -> no response, net::ERR_CONNECTION_REFUSED",
        f"R3 [step 2] POST {SITE}/api/save?token=*** -> 500 Status",
    ]
    assert "after the failure" not in text
    assert "page loaded" not in text, "only errors"
    assert "Left out" not in text
    schema = sent.body["response_format"]["json_schema"]["schema"]
    assert "citations" in schema["required"]

    assert a.status == "completed"
    assert a.citations == [
        AiCitation(kind="request", index=2, text=request_lines[1].removeprefix("R2 ")),
        AiCitation(kind="console", index=1, text=console_lines[0].removeprefix("C1 ")),
    ]
    [done] = [e for e in events.published if e.type == "ai_analysis_completed"]
    assert [c["kind"] for c in done.payload["citations"]] == ["request", "console"]
    calling = next(e.payload for e in events.published if e.type == "ai_analysis_progress")
    assert "evidence tokens" in (calling["detail"] or "")


def test_the_evidence_is_capped_and_the_request_says_what_was_cut(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    noisy = [console(3, f"error number {n}: " + "x" * 80, at_ms=n) for n in range(60)]
    huge = [*request(3, "big", "GET", f"{SITE}/q?" + "a=1&" * 500, 500)]
    evidence = failure_evidence(noisy, huge, Masker([]), step_of, 3)
    settings = make_settings(redis_url, fake, max_evidence_chars=1200)
    analyze(settings, r, {3: evidence}, Events())
    text = user_text(fake.chat_requests()[0])
    block = text[text.index("Browser evidence") :]
    assert len(block) <= 1200
    assert "C1 [step 3] error number 0:" in block
    assert "R1 [step 3] GET" in block, "requests are not crowded out by console lines"
    assert "[cut, " in block, "a long entry is cut"
    shown = len(re.findall(r"^C\d+ ", block, re.MULTILINE))
    assert f"Left out to keep this under 1200 characters: {60 - shown} console errors" in block


def test_no_evidence_is_sent_without_capture_or_with_a_zero_cap(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    analyze(make_settings(redis_url, fake), r, {}, Events())  # trace: off captured nothing
    r.flushdb()
    off = make_settings(redis_url, fake, max_evidence_chars=0)
    analyze(off, r, {3: evidence_of_the_save()}, Events())
    for sent in fake.chat_requests():
        assert "Browser evidence" not in user_text(sent)
    # Captured, and nothing went wrong in the browser: that is said too.
    r.flushdb()
    quiet = failure_evidence([], [], Masker([]), step_of, 3)
    analyze(make_settings(redis_url, fake), r, {3: quiet}, Events())
    assert "no console error was logged and no request failed" in user_text(
        fake.chat_requests()[-1]
    )


def error_shot(spec: CaseSpec, evidence: FailureEvidence, max_chars: int = 2000) -> Shot:
    [shot] = shots_to_analyze(spec, failing_steps(), {3: evidence}, max_chars)
    return shot


def test_the_cache_tells_different_evidence_apart(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    settings = make_settings(redis_url, fake)
    spec = CaseSpec.model_validate(json.loads((DATA / "spec.json").read_text()))
    mask = Masker([])
    one = failure_evidence([console(3, "TypeError: a is undefined")], [], mask, step_of, 3)
    other = failure_evidence([console(3, "TypeError: b is undefined")], [], mask, step_of, 3)
    analyzer = Analyzer(
        settings, r, Events().publish, Events().make, model_for(settings), case=CASE
    )
    first, second, again = analyzer.analyze(
        "run1", [error_shot(spec, one), error_shot(spec, other), error_shot(spec, one)], read
    )
    assert (first.cached, second.cached, again.cached) == (False, False, True)
    assert len(fake.chat_requests()) == 2
    assert "a is undefined" in user_text(fake.chat_requests()[0])
    assert "b is undefined" in user_text(fake.chat_requests()[1])


def read(name: str) -> bytes:
    return PNGS["login.png"]


def test_the_budget_still_stops_calls_that_carry_evidence(
    redis_url: str, r: redis.Redis, fake: FakeOpenAI
) -> None:
    settings = make_settings(redis_url, fake, run_budget_tokens=1500, run_budget_usd=0)
    spec = CaseSpec.model_validate(json.loads((DATA / "spec.json").read_text()))
    mask = Masker([])
    make: Callable[[str], Shot] = lambda text: error_shot(  # noqa: E731
        spec, failure_evidence([console(3, text)], [], mask, step_of, 3)
    )
    events = Events()
    analyzer = Analyzer(settings, r, events.publish, events.make, model_for(settings), case=CASE)
    results = analyzer.analyze("run1", [make("one"), make("two"), make("three")], read)
    assert [a.status for a in results] == ["completed", "completed", "skipped"]
    assert "budget is spent" in (results[2].reason or "")
    assert len(fake.chat_requests()) == 2
    assert r.hget(keys.ai_usage("run1"), "input_tokens") == "1800"
    assert [e.type for e in events.published].count("quota_warning") == 1
