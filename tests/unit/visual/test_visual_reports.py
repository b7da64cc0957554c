"""What reports, the CLI summary and the AI side make of visual checks: the diff view in
the HTML report (no script), the diff ratio in JUnit, one 'no OPENAI_API_KEY' line per
run, which screenshots are asked about, the cache key, and the cosmetic downgrade."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image
from rich.console import Console

from api.reports import html_report, junit_xml
from cli import runner
from testfleet.ai.image import prepare_image
from testfleet.artifacts import MemoryStore, thumbnail_name
from testfleet.constants import AI_NO_KEY
from testfleet.results import (
    Analysis,
    CaseResult,
    DiffChange,
    DiffExplanation,
    RunResult,
    StepResult,
    VisualResult,
)
from testfleet.settings import Settings
from testfleet.suites.model import CaseSpec
from workers.analysis import Shot, cache_digest, shots_to_analyze
from workers.visual_verdict import cosmetic_warnings

RUN = "20260101-000000-abcdef"


def png(color: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def visual(outcome: str = "mismatch", **extra: object) -> VisualResult:
    fields: dict[str, object] = {
        "outcome": outcome, "baseline_id": "home-hero-0123456789abcdef", "baseline_version": 3,
        "suite": "Shop", "test": "home", "name": "hero", "viewport": "1280x800",
        "browser": "chrome", "diff_ratio": 0.0269, "changed_px": 27518, "total_px": 1024000,
        "region": [32, 135, 512, 56], "threshold": 0.1, "max_diff_ratio": 0.0,
        "actual": "c1-a1-step02-hero-actual.png", "baseline": "c1-a1-step02-hero-baseline.png",
        "diff": "c1-a1-step02-hero-diff.png", **extra,
    }  # fmt: skip
    return VisualResult.model_validate(fields)


def diff_analysis(**extra: object) -> Analysis:
    fields: dict[str, object] = {
        "analysis_type": "visual_diff", "screenshot": "c1-a1-step02-hero-actual.png", "step": 2,
        "status": "completed", "summary": "The <banner> turned green.", "model": "gpt-4o-mini",
        "explanation": DiffExplanation(
            changes=[DiffChange(kind="color", description="blue became green",
                                location="#banner")],
            verdict="intended", cosmetic=True, confidence=0.95),
        **extra,
    }  # fmt: skip
    return Analysis.model_validate(fields)


def failed_case(ai: list[Analysis] | None = None) -> CaseResult:
    step = StepResult(index=2, label="hero", step_type="assert", status="failed",
                      error='screenshot "hero" differs', screenshot=visual().actual,
                      visual=visual())  # fmt: skip
    opened = StepResult(index=1, label="navigate /", step_type="navigate", status="passed")
    return CaseResult(case_id=f"{RUN}-0001", run_id=RUN, suite="Shop", name="home",
                      status="failed", steps=[opened, step], failed_step=2, error=step.error,
                      ai=ai or [])  # fmt: skip


def run_of(*cases: CaseResult) -> RunResult:
    return RunResult(runId=RUN, projectId="alpha", name="r", status="failed", createdMs=1,
                     counts={"failed": len(cases)}, tests=list(cases))  # fmt: skip


def store_with_pictures() -> MemoryStore:
    store = MemoryStore()
    v = visual()
    for name, color in ((v.actual, "green"), (v.baseline, "blue"), (v.diff, "red")):
        assert name is not None
        store.save(RUN, name, png(color))
        store.save(RUN, thumbnail_name(name), png(color, (8, 6)))
    return store


def test_the_html_report_shows_baseline_actual_and_diff_with_a_script_free_compare_view() -> None:
    page = html_report(run_of(failed_case([diff_analysis()])), store_with_pictures())
    assert "<script" not in page.lower()
    assert "differs from baseline v3: 2.69% (27518 px) changed" in page
    assert "changed region: x=32 y=135, 512x56 px" in page
    for label in ("baseline", "actual", "diff"):
        assert f"<figcaption>{label}</figcaption>" in page
    # Thumbnails side by side, each full picture once in the compare view.
    radios = re.findall(r'<input type="radio" class="(m-[a-z]+)" name="vcmp1"', page)
    assert radios == ["m-slide", "m-base", "m-act", "m-diff"]
    assert 'class="vtop"' in page
    assert "resize:horizontal" in page
    assert "container-type:inline-size" in page
    # The explanation sits with the diff, escaped, and says it does not decide.
    assert "AI: intended</span> (cosmetic, confidence 95%) The &lt;banner&gt; turned green." in page
    assert "<b>color</b>: blue became green (#banner)" in page
    assert "not the model" in page
    assert page.count("The &lt;banner&gt; turned green.") == 1  # not again in the AI list


def test_a_created_baseline_and_a_missing_picture_are_said_so() -> None:
    step = StepResult(index=1, label="hero", step_type="assert", status="passed",
                      screenshot="x.png", visual=visual("created", baseline_version=1,
                      baseline=None, diff=None, actual="x.png"))  # fmt: skip
    case = CaseResult(case_id="c", run_id=RUN, suite="s", name="t", status="passed",
                      steps=[step])  # fmt: skip
    page = html_report(run_of(case), MemoryStore())
    assert "&quot;hero&quot; (1280x800): baseline created (v1)" in page
    assert "screenshot: x.png missing" in page


def test_junit_carries_each_visual_checks_outcome_and_diff_ratio() -> None:
    root = ET.fromstring(junit_xml(run_of(failed_case())))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["visual.step2.name"] == "hero"
    assert props["visual.step2.outcome"] == "mismatch"
    assert props["visual.step2.diff_ratio"] == "0.026900"
    assert root.find(".//failure") is not None


def test_the_cli_says_no_openai_key_once_per_run_and_lists_visual_results() -> None:
    skipped = [Analysis(analysis_type="error", screenshot=f"s{i}.png", status="skipped",
                        reason=AI_NO_KEY) for i in range(3)]  # fmt: skip
    cases = [failed_case(skipped[:2]), failed_case(skipped[2:])]
    console = Console(file=io.StringIO(), width=300, highlight=False)
    runner._summary(console, run_of(*cases))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert out.count("no OPENAI_API_KEY is set") == 1
    assert "AI analysis skipped for 3 screenshot(s) of this run" in out
    assert "AI › " not in out  # nothing else to say under the tests
    assert 'visual › Shop › home › step 2 "hero": 2.69% of pixels differ' in out
    assert f"/api/v1/runs/{RUN}/artifacts/c1-a1-step02-hero-diff.png" in out


def test_the_cli_prints_a_diff_explanation() -> None:
    console = Console(file=io.StringIO(), width=300, highlight=False)
    runner._summary(console, run_of(failed_case([diff_analysis()])))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "visual_diff (step 2 c1-a1-step02-hero-actual.png): The <banner> turned green." in out
    assert "= intended (cosmetic, confidence 95%)" in out
    assert "- color: blue became green at #banner" in out


SPEC = CaseSpec.model_validate({
    "suite": "Shop", "test": {"name": "home", "steps": [
        {"order_index": 1, "step_type": "navigate", "input_data": "/"},
        {"order_index": 2, "step_type": "assert", "assertion": "screenshot", "name": "hero"},
        {"order_index": 3, "step_type": "assert", "assertion": "screenshot", "name": "ci"},
    ]}})  # fmt: skip


def test_a_mismatch_is_explained_from_three_pictures_and_a_missing_baseline_is_not() -> None:
    gone = visual("missing", baseline=None, diff=None, actual="m.png")
    missing = StepResult(index=3, label="ci", step_type="assert", status="failed",
                         screenshot="m.png", error="no baseline", visual=gone)  # fmt: skip
    [shot] = shots_to_analyze(SPEC, [*failed_case().steps, missing])
    assert shot.analysis_type == "visual_diff"
    assert shot.sent == (visual().baseline, visual().actual, visual().diff)
    assert "27518 of 1024000 px differ (2.69%), within x=32 y=135 512x56" in shot.context


def test_the_cache_key_is_the_picture_and_the_question_not_the_context() -> None:
    image = prepare_image(png("green"))
    other = prepare_image(png("blue"))

    def key(shot: Shot, images: list[object] | None = None) -> str:
        return cache_digest(images or [image], shot, "gpt-4o-mini")  # type: ignore[arg-type]

    first = key(Shot(2, "a.png", "ui_validation", "Test: t1\nStep 2: first"))
    same_again = key(Shot(5, "b.png", "ui_validation", "Test: t2\nStep 5: same-again"))
    assert first == same_again
    assert first != key(Shot(2, "a.png", "general", "Test: t1"))
    assert first != key(Shot(2, "a.png", "ui_validation", "x"), [other])
    assert first != cache_digest([image], Shot(2, "a", "ui_validation", ""), "gpt-4o")
    # An error analysis asks about its error: another error is another question.
    boom = key(Shot(2, "a.png", "error", "Test: t1", error="boom"))
    assert boom == key(Shot(9, "z.png", "error", "Test: t9", error="boom"))
    assert boom != key(Shot(2, "a.png", "error", "Test: t1", error="bang"))
    # Three pictures are one question; their order is part of it.
    assert key(Shot(2, "a", "visual_diff", ""), [image, other, image]) != key(
        Shot(2, "a", "visual_diff", ""), [other, image, image])  # fmt: skip


def downgrade_settings(**ai: object) -> Settings:
    s = Settings()
    s.ai = s.ai.model_copy(update={"visual_downgrade_cosmetic": True, **ai})
    return s


def test_a_cosmetic_confident_verdict_downgrades_only_when_allowed() -> None:
    steps = failed_case().steps
    analyses = [diff_analysis()]
    assert cosmetic_warnings(Settings(), "failed", steps, analyses) is None  # off by default
    warned = cosmetic_warnings(downgrade_settings(), "failed", steps, analyses)
    assert warned is not None
    assert [s.status for s in warned] == ["passed", "warning"]
    assert "judged a cosmetic change by gpt-4o-mini (confidence 95%)" in (warned[1].error or "")


@pytest.mark.parametrize(
    "why",
    ["regression-not-cosmetic", "unsure", "no-explanation", "other-failure", "skipped"],
)
def test_anything_short_of_a_confident_cosmetic_verdict_keeps_the_failure(why: str) -> None:
    steps = failed_case().steps
    explanation = diff_analysis().explanation
    assert explanation is not None
    analyses = [diff_analysis()]
    if why == "regression-not-cosmetic":
        analyses = [diff_analysis(explanation=explanation.model_copy(update={"cosmetic": False}))]
    elif why == "unsure":
        analyses = [diff_analysis(explanation=explanation.model_copy(update={"confidence": 0.6}))]
    elif why == "no-explanation":
        analyses = []
    elif why == "skipped":
        analyses = [diff_analysis(status="skipped", reason=AI_NO_KEY)]
    elif why == "other-failure":
        steps = [*steps, StepResult(index=3, label="click", step_type="click", status="failed")]
    assert cosmetic_warnings(downgrade_settings(), "failed", steps, analyses) is None
