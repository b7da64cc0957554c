"""``assert_accessible`` and ``assert_performance`` without a browser: their short forms and
problems, how violations are judged against a baseline and approved, and their reports
(HTML, JUnit, GitLab's accessibility report)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from api.report_quality import a11y_block, gitlab_a11y_report, perf_block
from api.reports import junit_xml
from testfleet.artifacts import FileStore
from testfleet.errors import SuiteError
from testfleet.results import (
    A11yNode,
    A11yViolation,
    AccessibilityResult,
    CaseResult,
    CaseStatus,
    PerformanceResult,
    RunResult,
    StepResult,
)
from testfleet.suites.loader import dump_canonical, load_text
from testfleet.suites.schema import suite_schema
from testfleet.visual import BaselineStore
from testfleet.visual.accessibility import accepted
from testfleet.visual.approve import approve
from workers.executor.accessibility import judge, target_text
from workers.executor.performance import medians


def _suite(steps: str) -> str:
    body = "\n".join(f"      {line}" for line in steps.strip().splitlines())
    return f"name: s\nbase_url: http://app.test\ntests:\n  - name: t\n    steps:\n{body}\n"


def problems(steps: str) -> list[str]:
    with pytest.raises(SuiteError) as caught:
        load_text(_suite(steps), {}, source="s.yaml")
    return caught.value.problems


def test_short_forms_fill_the_canonical_fields_and_round_trip() -> None:
    suite = load_text(
        _suite("""
- assert_accessible
- assert_accessible: {tags: wcag2aa, exclude: "#ads", disable: [color-contrast], fail_on: critical}
- assert_performance: {budgets: {lcp_ms: 2500, cls: 0.1}, runs: 3}
  soft: true
"""),
        {},
    )
    bare, options, speed = suite.tests[0].steps
    assert (bare.step_type, bare.assertion, bare.mode) == ("assert", "accessible", None)
    assert options.tags == ["wcag2aa"]
    assert options.exclude == ["#ads"]
    assert options.disable_rules == ["color-contrast"]
    assert options.mode == "critical"
    assert speed.budgets == {"lcp_ms": 2500, "cls": 0.1}
    assert speed.times == 3
    assert speed.soft
    assert load_text(dump_canonical(suite), {}) == suite
    schema = jsonschema.Draft202012Validator(suite_schema())
    written: dict[str, Any] = {
        "name": "s",
        "base_url": "http://a",
        "tests": [{"name": "t", "steps": [{"assert_performance": {"budgets": {"fcp": 1}}}]}],
    }
    assert not schema.is_valid(written), "the schema names the metrics"
    written["tests"][0]["steps"] = [{"assert_performance": {"budgets": {"tbt_ms": 1}}}]
    assert schema.is_valid(written)


def test_problems_say_what_to_write_instead() -> None:
    found = problems("""
- assert_accessible: {tags: [wcag9], fail_on: worst}
- assert_accessible: {include: "text=Buy", disable: 3}
- assert_performance: {budgets: {fcp_ms: 1}}
- assert_performance: {budgets: {lcp_ms: -1}, runs: 50}
- assert_performance: {budgets: 3}
""")
    said = "\n".join(found)
    assert "fail_on: must be one of minor, moderate, serious, critical, not 'worst'" in said
    assert "steps[1].assert_accessible.disable: takes a name or a list of names" in said
    assert "steps[2].assert_performance: budgets has unknown metrics ['fcp_ms']" in said
    assert "budgets must not be negative (lcp_ms)" in said
    assert "runs must be at most 20" in said
    assert "steps[4].assert_performance.budgets: takes {metric: number, ...}" in said
    found = problems('- assert_accessible: {include: "text=Buy", tags: [wcag9]}')
    assert any("is not CSS" in p for p in found), found
    assert any("unknown tags ['wcag9']" in p for p in found), found


RAW: list[dict[str, Any]] = [
    {
        "id": "image-alt",
        "impact": "critical",
        "description": "Ensure <img> elements have alternative text",
        "help": "Images must have alternative text",
        "helpUrl": "https://dequeuniversity.com/rules/axe/4.14/image-alt",
        "tags": ["wcag2a"],
        "nodes": [
            {"target": ["#hero"], "html": '<img id="hero">', "summary": "add alt", "impact": None},
            {"target": [["brand-logo", "img"]], "html": "<img>", "summary": "add alt"},
        ],
    },
    {
        "id": "heading-order",
        "impact": "moderate",
        "description": "Heading levels should only increase by one",
        "help": "Heading levels should only increase by one",
        "helpUrl": "https://dequeuniversity.com/rules/axe/4.14/heading-order",
        "nodes": [{"target": ["iframe#card", "h4"], "html": "<h4>", "summary": "fix"}],
    },
]


def test_elements_are_new_accepted_or_reported_and_gone_ones_are_fixed() -> None:
    baseline = {"image-alt #hero", "color-contrast #note"}
    violations, fixed, new = judge(RAW, baseline, "serious", str)
    statuses = {(v.rule, n.target): n.status for v in violations for n in v.nodes}
    assert statuses == {
        ("image-alt", "#hero"): "accepted",
        ("image-alt", "brand-logo >> img"): "new",
        ("heading-order", "iframe#card >> h4"): "reported",
    }
    assert fixed == ["color-contrast #note"]
    assert new == 1
    assert [v.rule for v in violations] == ["image-alt", "heading-order"], "most severe first"
    _, _, counted = judge(RAW, set(), "moderate", str)
    assert counted == 3
    assert target_text(["iframe#a", ["host", "span"]]) == "iframe#a >> host >> span"


def _result(**extra: Any) -> AccessibilityResult:
    violations, fixed, new = judge(RAW, set(), "serious", str)
    fields: dict[str, Any] = {
        "baseline_id": "t-page-0123456789abcdef",
        "suite": "s",
        "test": "t",
        "name": "page",
        "browser": "chrome",
        "url": "http://app.test/a11y",
        "fail_on": "serious",
        "axe_version": "4.14.1",
        "violations": violations,
        "fixed": fixed,
        "new": new,
        **extra,
    }
    return AccessibilityResult(**fields)


def _run(steps: list[StepResult], status: CaseStatus = "failed") -> RunResult:
    case = CaseResult(case_id="r-0001", run_id="r", suite="s", name="t", status=status, steps=steps)
    return RunResult(
        runId="r",
        projectId="alpha",
        name="r",
        status="failed",
        createdMs=1,
        counts={status: 1},
        tests=[case],
    )


def test_approving_a_failed_check_accepts_everything_it_found(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    found = _result()
    step = StepResult(
        index=2, label="assert accessible", step_type="assert", status="failed", accessibility=found
    )
    passed = step.model_copy(update={"status": "passed", "index": 3})
    [approved] = approve(_run([step, passed]), store, "key-1")
    assert (approved.kind, approved.version, approved.step) == ("accessibility", 1, 2)
    version, entries = accepted(BaselineStore(store, "alpha"), found.baseline_id)
    assert version == 1
    assert entries == {
        "image-alt #hero",
        "image-alt brand-logo >> img",
        "heading-order iframe#card >> h4",
    }
    listed = BaselineStore(store, "alpha").all()
    assert [(b.name, b.viewport) for b in listed] == [("page", "accessibility")]


def test_reports_show_rules_elements_and_budgets() -> None:
    found = _result()
    speed = PerformanceResult(
        url="http://app.test/",
        metrics={"lcp_ms": 900.0, "cls": 0.2},
        runs=[{"lcp_ms": 900.0, "cls": 0.2}],
        budgets={"cls": 0.1, "tbt_ms": 100},
        over=["cls", "tbt_ms"],
    )
    step = StepResult(
        index=2,
        label="assert accessible",
        step_type="assert",
        status="failed",
        accessibility=found,
        performance=speed,
    )
    html = a11y_block(found, lambda name, caption: f"<img {name}>")
    assert "image-alt" in html
    assert "&lt;img id=&quot;hero&quot;&gt;" in html, "element HTML escaped"
    assert 'href="https://dequeuniversity.com/rules/axe/4.14/image-alt"' in html
    perf = perf_block(speed)
    assert '<tr class="over"><td>cls</td><td>0.2</td><td>0.1</td></tr>' in perf
    assert "not measured: tbt_ms" in perf
    xml = ET.fromstring(junit_xml(_run([step])))
    props = {p.get("name"): p.get("value") for p in xml.iter("property")}
    assert props["a11y.step2.new"] == "2"
    assert props["a11y.step2.rules"] == "image-alt:critical heading-order:moderate"
    assert props["performance.step2.cls"] == "0.2"
    assert props["performance.step2.over"] == "cls tbt_ms"
    report = gitlab_a11y_report(_run([step]))
    assert (report["total"], report["errors"], report["passes"]) == (3, 3, 0)
    [issue, *_] = report["results"]["http://app.test/a11y"]
    assert issue["code"] == "image-alt"
    assert issue["type"] == "error"
    assert issue["typeCode"] == 1
    assert issue["selector"] == "#hero"
    assert issue["context"] == '<img id="hero">'
    assert issue["runnerExtras"]["impact"] == "critical"
    json.dumps(report)
    clean = step.model_copy(update={"accessibility": _result(violations=[], new=0)})
    assert gitlab_a11y_report(_run([clean]))["passes"] == 1


def test_medians_per_metric_over_the_loads_that_measured_it() -> None:
    runs = [{"lcp_ms": 3.0, "cls": 0.1}, {"lcp_ms": 1.0}, {"lcp_ms": 2.0, "cls": 0.3}]
    assert medians(runs) == {"lcp_ms": 2.0, "cls": 0.2}


def test_a_node_judged_alone_keeps_its_fields() -> None:
    node = A11yNode(target="#a", html="<a>", status="reported")
    violation = A11yViolation(
        rule="link-name", impact="serious", description="d", help="h", help_url="u", nodes=[node]
    )
    assert violation.nodes[0].screenshot is None
