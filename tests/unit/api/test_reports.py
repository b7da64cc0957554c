"""Reports: JUnit XML that CI reporters parse, a JSON result, a self-contained HTML page."""

from __future__ import annotations

import base64
import io
import json
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from api.reports import html_report, iter_html_report, json_result, junit_xml
from testfleet.artifacts import ArtifactStore, MemoryStore
from testfleet.artifacts.steplog import step_log
from testfleet.results import AiCitation, AttemptSummary, CaseResult, RunResult, StepResult

RUN_ID = "20250101-000000-abcdef"


def png(color: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def step(index: int, status: str = "passed", **extra: object) -> StepResult:
    fields: dict[str, object] = {"index": index, "label": f"step-{index}", "step_type": "click",
                                 "status": status, "duration_ms": 100 * index, **extra}  # fmt: skip
    return StepResult.model_validate(fields)


def case(n: int, suite: str, name: str, status: str, **extra: object) -> CaseResult:
    fields: dict[str, object] = {"case_id": f"{RUN_ID}-{n:04d}", "run_id": RUN_ID, "suite": suite,
                                 "name": name, "status": status, "duration_ms": 1500,
                                 "attempts": 1, **extra}  # fmt: skip
    return CaseResult.model_validate(fields)


FAILED = case(
    2, "Login", 'bad <login> & "quotes"', "failed",
    steps=[step(1), step(2, "failed", label="click #go", error="boom <b>oops</b>\x1b[31m",
                       screenshot=f"{RUN_ID}-0002-2-failure.png")],
    failed_step=2, error="boom <b>oops</b>\x1b[31m",
    artifacts=[f"{RUN_ID}-0002-2-failure.png", f"{RUN_ID}-0002-2-failure.thumb.png",
               f"{RUN_ID}-0002.log"],
    ai=[{"analysis_type": "error", "screenshot": f"{RUN_ID}-0002-2-failure.png",
         "status": "completed", "summary": "The <button> is hidden",
         "issues": [{"severity": "high", "description": "login <form> missing",
                     "location": "top"}],
         "recommendations": [{"title": "Show the button", "confidence": 0.9,
                              "implementation": "remove display:none"}],
         "scores": {"ux": 3}}],
)  # fmt: skip
RUN = RunResult(
    runId=RUN_ID,
    projectId="alpha",
    name="nightly <run>",
    status="failed",
    createdMs=1_735_689_600_000,
    finishedMs=1_735_689_660_000,
    counts={"passed": 1, "failed": 1, "error": 1, "cancelled": 1, "flaky": 1, "queued": 1},
    tests=[
        case(1, "Login", "valid login", "passed", steps=[step(1), step(2)],
             artifacts=[f"{RUN_ID}-0001-2-dashboard.png"]),
        FAILED,
        case(3, "Login", "browser died", "error", error="session lost", steps=[step(1)]),
        case(4, "Search", "finds things", "cancelled"),
        case(5, "Search", "sometimes slow", "flaky", attempts=2, retry_count=1,
             steps=[step(1)],
             history=[AttemptSummary(attempt=1, status="failed", worker="w1",
                                     error="timeout waiting for #results"),
                      AttemptSummary(attempt=2, status="passed", worker="w2")]),
        case(6, "Search", "not yet", "queued"),
    ],
)  # fmt: skip


@pytest.fixture
def store() -> ArtifactStore:
    artifacts = MemoryStore()
    artifacts.save(RUN_ID, f"{RUN_ID}-0002-2-failure.png", png("red", (400, 300)))
    artifacts.save(RUN_ID, f"{RUN_ID}-0002-2-failure.thumb.png", png("blue", (40, 30)))
    artifacts.save(RUN_ID, f"{RUN_ID}-0001-2-dashboard.png", png("green", (64, 48)))
    artifacts.save(RUN_ID, f"{RUN_ID}-0002.log", b"step 2 <click> failed")
    return artifacts


def test_junit_parses_with_the_right_counts() -> None:
    root = ET.fromstring(junit_xml(RUN).encode("utf-8"))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "6", "1", "1", "2"
    )  # fmt: skip
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"Login", "Search"}
    assert suites["Login"].get("tests") == "3"
    assert suites["Search"].get("skipped") == "2"
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert len(cases) == 6
    assert all(c.get("classname") in suites for c in cases.values())
    assert cases["valid login"].get("time") == "1.500"
    assert list(cases["valid login"]) == []


def test_junit_failure_names_the_step_and_carries_the_step_log() -> None:
    root = ET.fromstring(junit_xml(RUN).encode("utf-8"))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    failure = cases['bad <login> & "quotes"'].find("failure")
    assert failure is not None
    message = failure.get("message", "")
    assert message.startswith("step 2 (click #go): boom <b>oops</b>")
    assert "\x1b" not in message, "control characters cannot appear in XML 1.0"
    assert "step-1" in (failure.text or "")
    error = cases["browser died"].find("error")
    assert error is not None
    assert error.get("message") == "session lost"
    skipped = cases["finds things"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "cancelled"
    queued = cases["not yet"].find("skipped")
    assert queued is not None
    assert "not finished" in queued.get("message", "")


def test_junit_flaky_counts_as_passed_with_a_note() -> None:
    root = ET.fromstring(junit_xml(RUN).encode("utf-8"))
    flaky = next(c for c in root.iter("testcase") if c.get("name") == "sometimes slow")
    assert flaky.find("failure") is None
    assert flaky.find("error") is None
    assert flaky.find("skipped") is None
    props = {p.get("name"): p.get("value") for p in flaky.iter("property")}
    assert props["flaky"] == "true"
    assert props["attempts"] == "2"
    out = flaky.find("system-out")
    assert out is not None
    assert "passed on attempt 2" in (out.text or "")
    assert "timeout waiting for #results" in (out.text or "")


def test_json_result_has_what_run_json_promises() -> None:
    result = json.loads(json.dumps(json_result(RUN)))
    assert result["runId"] == RUN_ID
    assert result["status"] == "failed"
    assert result["total"] == 6
    assert result["durationMs"] == 60_000
    failed = result["tests"][1]
    assert failed["status"] == "failed"
    assert failed["attempts"] == 1
    assert failed["failed_step"] == 2
    assert failed["failure"].startswith("step 2 (click #go)")
    assert failed["steps"][1]["screenshot"] == f"{RUN_ID}-0002-2-failure.png"
    assert failed["ai"][0]["summary"] == "The <button> is hidden"
    name = f"{RUN_ID}-0002-2-failure.png"
    assert failed["artifact_urls"][name] == f"/api/v1/runs/{RUN_ID}/artifacts/{name}"
    assert result["tests"][0]["failure"] is None


def test_html_inlines_thumbnails_and_full_size_screenshots(store: ArtifactStore) -> None:
    page = html_report(RUN, store)
    thumb = base64.b64encode(store.read(RUN_ID, f"{RUN_ID}-0002-2-failure.thumb.png")).decode()
    full = base64.b64encode(store.read(RUN_ID, f"{RUN_ID}-0002-2-failure.png")).decode()
    no_thumb = base64.b64encode(store.read(RUN_ID, f"{RUN_ID}-0001-2-dashboard.png")).decode()
    assert f'src="data:image/png;base64,{thumb}"' in page
    assert f'src="data:image/png;base64,{full}"' in page
    assert page.count(full) == 1, "the full-size image is inlined once"
    assert f'src="data:image/png;base64,{no_thumb}"' in page
    assert 'href="#shot-1"' in page
    assert 'id="shot-1"' in page


def test_html_is_self_contained(store: ArtifactStore) -> None:
    page = html_report(RUN, store)
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    assert "<link" not in page
    assert 'src="http' not in page
    assert "url(" not in page


def test_html_escapes_every_text(store: ArtifactStore) -> None:
    page = html_report(RUN, store)
    for raw in ("<login>", "<b>oops</b>", "<run>", "<button>", "<form>", "<click>"):
        assert raw not in page
    assert "bad &lt;login&gt; &amp; &quot;quotes&quot;" in page
    assert "boom &lt;b&gt;oops&lt;/b&gt;" in page
    assert "The &lt;button&gt; is hidden" in page
    assert "step 2 &lt;click&gt; failed" in page, "the step log is included, escaped"
    assert "\x1b" not in page


def test_html_shows_summary_steps_failures_flaky_and_ai(store: ArtifactStore) -> None:
    page = html_report(RUN, store)
    for status in ("passed", "failed", "error", "cancelled", "flaky", "queued"):
        assert f'<div class="tile s-{status}"><b class="st">1</b>{status}</div>' in page
    assert "step 2 (click #go): boom" in page
    assert "flaky: passed on attempt 2" in page
    assert "Show the button" in page
    assert "remove display:none" in page
    assert "200 ms" in page, "step durations are shown"


def test_html_tolerates_missing_screenshots() -> None:
    page = html_report(RUN, MemoryStore())
    assert "missing" in page
    assert "data:image/png" not in page


def test_html_renders_each_analysis_by_its_status(store: ArtifactStore) -> None:
    shot = f"{RUN_ID}-0001-2-dashboard.png"
    skipped = {"analysis_type": "ui_validation", "screenshot": shot, "step": 2,
               "status": "skipped", "reason": "no OPENAI_API_KEY: analysis <skipped>",
               "summary": "must not show"}  # fmt: skip
    cached = {"analysis_type": "general", "screenshot": shot, "status": "completed",
              "summary": "fine", "scores": {"usability": 87.5}, "model": "gpt-4o-mini",
              "cached": True}  # fmt: skip
    shown = case(1, "Login", "valid login", "passed", steps=[step(1), step(2)],
                 ai=[skipped, cached])  # fmt: skip
    run = RUN.model_copy(update={"tests": [shown]})
    page = html_report(run, store)
    assert 'ui_validation on step 2 <span class="badge">skipped</span>' in page
    assert "no OPENAI_API_KEY: analysis &lt;skipped&gt;" in page
    assert "must not show" not in page, "a skipped analysis has no findings to show"
    assert '<span class="badge">completed</span>' in page
    assert "scores: usability 87.5" in page
    assert "gpt-4o-mini: cached (no call)" in page
    failed = html_report(RUN, store)
    assert "(confidence 90%)" in failed
    assert "login &lt;form&gt; missing" in failed


def test_steps_of_a_flow_are_grouped_under_their_use_step(store: ArtifactStore) -> None:
    grouped = case(7, "Todos", "add one", "passed", steps=[
        step(1, label="use add_todo (title=milk)", step_type="group"),
        step(2, label="fill .new-todo", depth=1, parent=1),
        step(3, label="press .new-todo", depth=1, parent=1),
        step(4, label="assert count li"),
    ])  # fmt: skip
    run = RUN.model_copy(update={"tests": [grouped]})
    page = html_report(run, store)
    rows = page.split('<ol class="steps">', 1)[1].split("</ol>", 1)[0].split("<li ")[1:]
    assert ['class="d1"' in row for row in rows] == [False, True, True, False]
    assert 'class="d0">use add_todo (title=milk)' in rows[0]
    log = step_log(grouped).splitlines()
    assert [line.split(" (+")[0][21:] for line in log[1:]] == [
        "use add_todo (title=milk)",
        "  fill .new-todo",
        "  press .new-todo",
        "assert count li",
    ]
    result = json.loads(json.dumps(json_result(run)))
    assert [(s["depth"], s["parent"]) for s in result["tests"][0]["steps"]] == [
        (0, None),
        (1, 1),
        (1, 1),
        (0, None),
    ]


class _CountingStore(MemoryStore):
    """Counts the artifacts opened so far."""

    opened = 0

    def _open(self, key: str):  # type: ignore[no-untyped-def]
        self.opened += 1
        return super()._open(key)


def test_html_streams_a_test_at_a_time(store: ArtifactStore) -> None:
    counting = _CountingStore()
    for info in store.list():
        counting.put(info.key, store.get(info.key))
    pieces = iter_html_report(RUN, counting)
    head = next(pieces)
    assert head.startswith("<!doctype html>")
    assert counting.opened == 0, "the page starts before any picture is read"
    first_case = next(p for p in pieces if "valid login" in p)
    assert counting.opened == 2, "only the first test's screenshot (and its thumbnail) so far"
    assert "data:image/png" in first_case
    rest = "".join(pieces)
    assert rest.endswith("</html>")
    # The failed test's full-size view follows that test, not the whole page.
    assert rest.index('id="shot-1"') < rest.index("browser died")


def test_a_huge_log_is_cut_not_read_whole() -> None:
    store = MemoryStore()
    store.save(RUN_ID, f"{RUN_ID}-0002.log", b"x" * 2_000_000)
    page = html_report(RUN.model_copy(update={"tests": [FAILED]}), store)
    assert "(truncated)" in page
    assert len(page) < 200_000


def test_html_shows_the_evidence_a_failure_analysis_cites(store: ArtifactStore) -> None:
    [finding] = FAILED.ai
    cites = [AiCitation(kind="request", index=1, text="[step 2] POST /api/<save> -> 500")]
    cited = FAILED.model_copy(update={"ai": [finding.model_copy(update={"citations": cites})]})
    page = html_report(RUN.model_copy(update={"tests": [cited]}), store)
    assert "failed request 1: <code>[step 2] POST /api/&lt;save&gt; -&gt; 500</code>" in page
    assert "the evidence it cites" not in html_report(RUN, store)
