"""Reports of a run: JUnit XML for CI test tabs, a JSON result, a self-contained HTML page.

All three read a ``RunResult`` (secrets are masked before results are stored,
so nothing here needs to mask). Statuses map to JUnit as CI reporters
(Jenkins, GitLab, GitHub test-reporter actions) expect them:

    passed     <testcase/>
    flaky      <testcase/> + property flaky=true + a <system-out> note (it passed)
    (screenshots written beside the report) + a <system-out> line [[ATTACHMENT|path]] each
    (any)      + properties visual.step<N>.name / .outcome / .diff_ratio per assert_screenshot,
               a11y.step<N>.name / .new / .rules per assert_accessible and
               performance.step<N>.<metric> (/ .over) per assert_performance
    (a failure) + a property testfleet.label per label its history gave it (new, flaky,
               failing-on-main, quarantined) and testfleet.signature, once known
    failed     <failure message="step N (label): error">step log</failure>
    error      <error message="...">step log</error>
    cancelled  <skipped message="cancelled"/>
    queued, running   <skipped message="not finished (...)"/> (a report of a live run)
"""

from __future__ import annotations

import base64
import html
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from api.report_quality import QUALITY_CSS, a11y_block, junit_properties, perf_block
from api.report_trace import TRACE_CSS, trace_block
from api.report_visual import VISUAL_CSS, VisualBlocks
from testfleet.artifacts import ArtifactStore, artifact_url, media_type, names
from testfleet.artifacts.steplog import step_log
from testfleet.errors import TestfleetError
from testfleet.payloads import FailureCluster, LabelledTest, RunLabels
from testfleet.results import (
    GOOD_STATUSES,
    Analysis,
    CaseResult,
    CaseStatus,
    RunResult,
    StepResult,
)

_XML_INVALID = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MAX_LOG_CHARS = 100_000
_MAX_LOG_BYTES = 4 * _MAX_LOG_CHARS
"""Bytes of a step log read for the report (UTF-8 is at most 4 bytes a character)."""


# --- JUnit XML ---------------------------------------------------------------------------


def _x(text: object) -> str:
    """Text made valid in XML 1.0 (control characters cannot be escaped, only dropped)."""
    return _XML_INVALID.sub("\ufffd", str(text))


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def _iso(ms: int | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((ms or 0) / 1000))


def _failed_step(case: CaseResult) -> StepResult | None:
    if case.failed_step is None:
        return None
    return next((s for s in case.steps if s.index == case.failed_step), None)


def failure_message(case: CaseResult) -> str:
    """``step N (label): error`` when the failing step is known, else the error alone."""
    error = case.error or case.status
    step = _failed_step(case)
    if step is not None:
        return f"step {step.index} ({step.label}): {error}"
    if case.failed_step is not None:
        return f"step {case.failed_step}: {error}"
    return error


def _count(cases: Iterable[CaseResult], *statuses: CaseStatus) -> int:
    return sum(1 for c in cases if c.status in statuses)


def _suite_totals(element: ET.Element, cases: list[CaseResult]) -> None:
    element.set("tests", str(len(cases)))
    element.set("failures", str(_count(cases, "failed")))
    element.set("errors", str(_count(cases, "error")))
    element.set("skipped", str(_count(cases, "cancelled", "queued", "running")))
    element.set("time", _seconds(sum(c.duration_ms for c in cases)))


def _by_test(labels: RunLabels | None) -> dict[str, LabelledTest]:
    """The labelled tests by ``case_id``."""
    return {t.testId: t for t in labels.tests} if labels is not None else {}


def _attachment_lines(paths: Sequence[str]) -> str:
    """One ``[[ATTACHMENT|path]]`` line per file: the form Jenkins' junit-attachments
    plugin and GitLab's unit test report read from ``<system-out>`` (GitLab shows the
    first one, so the failure's screenshot comes first)."""
    return "".join(f"[[ATTACHMENT|{path}]]\n" for path in paths)


def _testcase(
    parent: ET.Element,
    case: CaseResult,
    labelled: LabelledTest | None,
    attachments: Sequence[str] = (),
) -> None:
    tc = ET.SubElement(parent, "testcase", classname=_x(case.suite), name=_x(case.name))
    tc.set("time", _seconds(case.duration_ms))
    properties: list[tuple[str, str]] = []
    if case.status == "flaky":
        properties += [("flaky", "true"), ("attempts", str(case.attempts))]
    if labelled is not None:
        properties += [("testfleet.label", label) for label in labelled.labels]
        if labelled.signature:
            properties.append(("testfleet.signature", labelled.signature))
    for step in case.steps:
        if step.visual is not None:
            key = f"visual.step{step.index}"
            properties += [
                (f"{key}.name", step.visual.name),
                (f"{key}.outcome", step.visual.outcome),
                (f"{key}.diff_ratio", f"{step.visual.diff_ratio:.6f}"),
            ]
        properties += junit_properties(step)
    if properties:
        props = ET.SubElement(tc, "properties")
        for name, value in properties:
            ET.SubElement(props, "property", name=_x(name), value=_x(value))
    if case.status == "failed":
        failure = ET.SubElement(tc, "failure", message=_x(failure_message(case)), type="failure")
        failure.text = _x(step_log(case))
    elif case.status == "error":
        error = ET.SubElement(tc, "error", message=_x(failure_message(case)), type="error")
        error.text = _x(step_log(case))
    elif case.status == "cancelled":
        ET.SubElement(tc, "skipped", message="cancelled")
    elif case.status in ("queued", "running"):
        ET.SubElement(tc, "skipped", message=f"not finished ({case.status})")
    if case.status == "flaky":
        out = ET.SubElement(tc, "system-out")
        earlier = "; ".join(
            f"attempt {a.attempt}: {a.error or a.status}" for a in case.history if a.error
        )
        note = f"flaky: passed on attempt {case.attempts} of {case.retry_count + 1}"
        out.text = _x(f"{note}" + (f" after failing ({earlier})" if earlier else "") + "\n")
        out.text += _x(_attachment_lines(attachments) + step_log(case))
    elif attachments:
        out = ET.SubElement(tc, "system-out")
        out.text = _x(_attachment_lines(attachments))


def junit_xml(
    run: RunResult,
    labels: RunLabels | None = None,
    attachments: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The run as JUnit XML: one ``<testsuite>`` per suite, one ``<testcase>`` per test
    (with its failure's ``labels``, when given, and ``attachments``: by ``case_id``, the
    paths of files written beside the report, as the CI reading it will find them)."""
    labelled = _by_test(labels)
    root = ET.Element("testsuites", name=_x(run.name))
    _suite_totals(root, run.tests)
    by_suite: dict[str, list[CaseResult]] = {}
    for case in run.tests:
        by_suite.setdefault(case.suite, []).append(case)
    for index, (suite, cases) in enumerate(by_suite.items()):
        element = ET.SubElement(root, "testsuite", name=_x(suite), id=str(index))
        _suite_totals(element, cases)
        started = [c.started_ms for c in cases if c.started_ms]
        element.set("timestamp", _iso(min(started) if started else run.createdMs))
        props = ET.SubElement(element, "properties")
        ET.SubElement(props, "property", name="runId", value=_x(run.runId))
        ET.SubElement(props, "property", name="projectId", value=_x(run.projectId))
        if run.stopReason:
            ET.SubElement(props, "property", name="stopReason", value=_x(run.stopReason))
        for case in cases:
            files = (attachments or {}).get(case.case_id, ())
            _testcase(element, case, labelled.get(case.case_id), files)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


# --- JSON result -------------------------------------------------------------------------


def json_result(run: RunResult, labels: RunLabels | None = None) -> dict[str, Any]:
    """The run result (``testfleet run --json``): ``GET /runs/{id}``'s fields (runId,
    status, counts and per test ``case_id``, status, attempts, steps, error,
    ``failed_step``, artifacts, ``ai`` findings), plus per test ``failure`` (the
    one-line message of a failed or errored test), ``artifact_urls`` (API paths),
    ``labels`` (its failure's labels from history: ``[]`` for a test that did not fail,
    or when they are not known) and ``signature``, and the run's ``total``,
    ``durationMs``, ``labelled`` (whether the labels are known) and failure
    ``clusters``."""
    labelled = _by_test(labels)
    result = run.model_dump(mode="json")
    finished = run.finishedMs
    result["total"] = len(run.tests)
    result["durationMs"] = finished - run.createdMs if finished else None
    for case, out in zip(run.tests, result["tests"], strict=True):
        out["failure"] = failure_message(case) if case.status in ("failed", "error") else None
        out["artifact_urls"] = {a: artifact_url(case.run_id, a) for a in case.artifacts}
        found = labelled.get(case.case_id)
        out["labels"] = list(found.labels) if found is not None else []
        out["signature"] = found.signature if found is not None else None
    result["labelled"] = labels is not None
    result["clusters"] = [c.dump() for c in labels.clusters] if labels is not None else []
    return result


# --- HTML report -------------------------------------------------------------------------

_CSS = """
:root{--ok:#1a7f37;--bad:#cf222e;--err:#8250df;--flaky:#bf8700;--muted:#6e7781;
--run:#0969da;--bg:#f6f8fa;--line:#d0d7de;font-family:system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;color:#1f2328}
body{margin:0;background:var(--bg)}header,main,footer{max-width:1100px;margin:0 auto;
padding:16px 24px}h1{margin:8px 0 4px;font-size:1.6em}h2{margin:28px 0 8px;font-size:1.2em}
.meta{color:var(--muted);margin:0}.tiles{display:flex;gap:10px;flex-wrap:wrap;margin-top:14px}
.tile{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 14px;
min-width:80px}.tile b{display:block;font-size:1.5em}.stack{display:flex;height:8px;
border-radius:4px;overflow:hidden;margin-top:12px;background:var(--line)}
.case{background:#fff;border:1px solid var(--line);border-left:5px solid var(--muted);
border-radius:6px;margin:8px 0}.case>summary{cursor:pointer;padding:10px 14px;display:flex;
gap:10px;align-items:baseline}.case .body{padding:0 14px 12px}.name{font-weight:600;flex:1}
.badge{font-size:.75em;font-weight:700;text-transform:uppercase;padding:2px 8px;
border-radius:10px;color:#fff;background:var(--muted)}.dim{color:var(--muted);font-size:.9em}
.s-passed{--c:var(--ok)}.s-failed{--c:var(--bad)}.s-error{--c:var(--err)}
.s-flaky{--c:var(--flaky)}.s-cancelled,.s-skipped{--c:var(--muted)}
.s-queued,.s-running{--c:var(--run)}.s-optional_failed,.s-warning{--c:var(--flaky)}
.case.s-passed,.case.s-failed,.case.s-error,.case.s-flaky,.case.s-cancelled,.case.s-queued,
.case.s-running{border-left-color:var(--c)}.badge{background:var(--c,var(--muted))}
.error{background:#ffebe9;border:1px solid #ffcecb;border-radius:6px;padding:8px 12px;
white-space:pre-wrap;word-break:break-word}ol.steps{list-style:none;padding:0;margin:8px 0}
ol.steps li{display:grid;grid-template-columns:2.5em 8em 1fr 6em 120px;gap:8px;
align-items:center;padding:4px 0;border-bottom:1px solid var(--bg)}
ol.steps li.failing{background:#fff8f8}.st{color:var(--c);font-weight:600}
.dur{text-align:right;font-variant-numeric:tabular-nums}.bar{height:6px;border-radius:3px;
background:var(--c)}.step-error{grid-column:3/-1;color:var(--bad);white-space:pre-wrap}
.d1,.d2,.d3,.d4,.d5,.d6{border-left:2px solid var(--line);padding-left:.6em}.d2{margin-left:1.2em}
.d3{margin-left:2.4em}.d4{margin-left:3.6em}.d5{margin-left:4.8em}.d6{margin-left:6em}
.shots{display:flex;gap:10px;flex-wrap:wrap;grid-column:3/-1}.shots figure{margin:0}
.shots img{max-width:240px;max-height:160px;border:1px solid var(--line);border-radius:4px}
figcaption{font-size:.8em;color:var(--muted)}img.zoom:focus{position:fixed;inset:2vh 2vw;
max-width:96vw;max-height:96vh;margin:auto;z-index:10;box-shadow:0 0 0 100vmax #000c}
.lightbox{display:none}.lightbox:target{display:flex;position:fixed;inset:0;z-index:10;
background:#000d;align-items:center;justify-content:center}.lightbox img{max-width:96vw;
max-height:96vh}.ai{border:1px solid var(--line);border-radius:6px;padding:8px 12px;
margin:8px 0;background:#fbfbff}.ai h4{margin:0 0 4px}table{border-collapse:collapse}
td,th{border-bottom:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
pre{background:var(--bg);padding:8px;overflow:auto;max-height:400px}
.label{font-size:.7em;font-weight:700;padding:1px 7px;border-radius:10px;
border:1px solid currentColor;margin-left:6px;white-space:nowrap}.l-new{color:var(--bad)}
.l-flaky{color:var(--flaky)}.l-failing-on-main{color:var(--err)}.l-quarantined{color:var(--muted)}
.clusters{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 14px;
margin-top:14px}.clusters h3{margin:0 0 6px;font-size:1em}
"""

_COLORS: dict[CaseStatus, str] = {
    "passed": "ok",
    "flaky": "flaky",
    "failed": "bad",
    "error": "err",
    "cancelled": "muted",
    "running": "run",
    "queued": "run",
}
"""Each case status's colour in the report's bar, in the bar's order (good ones first)."""


def _e(value: object) -> str:
    """Text escaped for HTML (control characters, such as terminal colour codes, dropped)."""
    return html.escape(_XML_INVALID.sub("", str(value)), quote=True)


def _duration(ms: int) -> str:
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms // 60_000} m {ms % 60_000 // 1000} s"


class _Images:
    """Screenshots inlined as data URIs, read from the artifact store one at a time;
    full-size views collected per test and written right after it (a report of many
    tests never holds more than one test's pictures)."""

    def __init__(self, run_id: str, store: ArtifactStore) -> None:
        self._run_id = run_id
        self._store = store
        self._shown = 0
        self.lightboxes: list[str] = []
        self.visual = VisualBlocks(self.data)

    def data(self, name: str) -> str | None:
        """An artifact as a data URI (None when missing or the store failed)."""
        try:
            raw = self._store.read(self._run_id, name)
        except (TestfleetError, OSError):
            return None  # missing, or the store failed: the report says "missing"
        return f"data:{media_type(name)};base64," + base64.b64encode(raw).decode("ascii")

    def figure(self, name: str, caption: str) -> str:
        full = self.data(name)
        if full is None:
            missing = f"{_e(caption)}: screenshot {_e(name)} missing"
            return f"<figure><figcaption>{missing}</figcaption></figure>"
        alt = _e(caption)
        thumb = self.data(names.thumbnail_name(name))
        if thumb is None:
            # One copy of the data: the image enlarges while it has focus (click it).
            img = f'<img class="zoom" tabindex="0" src="{full}" alt="{alt}">'
        else:
            self._shown += 1
            anchor = f"shot-{self._shown}"
            self.lightboxes.append(
                f'<div class="lightbox" id="{anchor}"><a href="#close">'
                f'<img src="{full}" alt="{alt} (full size)"></a></div>'
            )
            img = f'<a href="#{anchor}"><img src="{thumb}" alt="{alt}"></a>'
        return f"<figure>{img}<figcaption>{alt}</figcaption></figure>"

    def take_lightboxes(self) -> list[str]:
        taken, self.lightboxes = self.lightboxes, []
        return taken


def html_report(run: RunResult, artifacts: ArtifactStore, labels: RunLabels | None = None) -> str:
    """The run as one self-contained HTML page (see ``iter_html_report``)."""
    return "".join(iter_html_report(run, artifacts, labels))


def _label_badges(labelled: LabelledTest | None) -> str:
    if labelled is None:
        return ""
    return "".join(
        f'<span class="label l-{_e(label)}">{_e(label)}</span>' for label in labelled.labels
    )


def _clusters_html(run: RunResult, labels: RunLabels) -> str:
    """The run's failures and their causes: "14 failures, 1 cause", then each cluster."""
    failures = sum(c.count for c in labels.clusters)
    if not failures:
        return ""
    names = {c.case_id: f"{c.suite} › {c.name}" for c in run.tests}

    def item(cluster: FailureCluster) -> str:
        tests = ", ".join(names.get(t, t) for t in cluster.tests)
        return (
            f"<li><b>{cluster.count}</b> × {_e(cluster.error or cluster.signature)} "
            f'<span class="dim">({_e(tests)}; signature {_e(cluster.signature)})</span></li>'
        )

    head = f"{failures} failure(s), {len(labels.clusters)} cause(s)"
    items = "".join(item(c) for c in labels.clusters)
    return f'<div class="clusters"><h3>{_e(head)}</h3><ul>{items}</ul></div>'


def iter_html_report(
    run: RunResult, artifacts: ArtifactStore, labels: RunLabels | None = None
) -> Iterator[str]:
    """The run as one self-contained HTML page, in pieces (what the API streams): summary,
    failure clusters and label badges (when ``labels`` are known), per test a step
    timeline, failures, flaky marks, screenshots inline (thumbnails opening full size)
    and AI findings. Pictures are read from the store as each test is written."""
    labelled = _by_test(labels)
    images = _Images(run.runId, artifacts)
    total = len(run.tests)
    tiles = [f'<div class="tile"><b>{total}</b>tests</div>']
    stack = []
    for status, color in _COLORS.items():
        n = _count(run.tests, status)
        if n:
            tiles.append(f'<div class="tile s-{status}"><b class="st">{n}</b>{status}</div>')
            stack.append(f'<span style="flex:{n};background:var(--{color})"></span>')
    finished = run.finishedMs
    took = f" · took {_duration(finished - run.createdMs)}" if finished else ""
    head = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>testfleet · {_e(run.name)} · {_e(run.status)}</title>",
        f"<style>{_CSS}{VISUAL_CSS}{TRACE_CSS}{QUALITY_CSS}</style></head><body><header>",
        f'<h1>{_e(run.name)} <span class="badge s-{_e(run.status)}">{_e(run.status)}</span></h1>',
        f'<p class="meta">run {_e(run.runId)} · project {_e(run.projectId)} · '
        f"started {_e(_iso(run.createdMs))} UTC{_e(took)}</p>",
        f'<p class="meta stop">{_e(run.stopReason)}</p>' if run.stopReason else "",
        f'<div class="tiles">{"".join(tiles)}</div>',
        f'<div class="stack">{"".join(stack)}</div>',
        _clusters_html(run, labels) if labels is not None else "",
        "</header><main>",
    ]
    yield "\n".join(head) + "\n"
    suites: dict[str, list[CaseResult]] = {}
    for case in run.tests:
        suites.setdefault(case.suite, []).append(case)
    for suite, cases in suites.items():
        good = sum(1 for c in cases if c.status in GOOD_STATUSES)
        yield f'<h2>{_e(suite)} <span class="dim">{good}/{len(cases)} passed</span></h2>\n'
        for case in cases:
            yield _html_case(case, images, artifacts, labelled.get(case.case_id)) + "\n"
            # The full-size views sit outside <main>'s flow: a :target lightbox is fixed.
            yield "".join(f"{box}\n" for box in images.take_lightboxes())
    yield "</main>\n"
    yield f'<footer class="dim">generated by testfleet at {_e(_iso(_now()))} UTC\n'
    yield "</footer></body></html>"


def _now() -> int:
    return int(time.time() * 1000)


def _html_case(
    case: CaseResult, images: _Images, store: ArtifactStore, labelled: LabelledTest | None
) -> str:
    status = case.status
    opened = "" if status in GOOD_STATUSES else " open"
    marks = _label_badges(labelled)
    if status == "flaky":
        marks += f' <span class="dim">⚠ flaky: passed on attempt {case.attempts}</span>'
    out = [
        f'<details class="case s-{status}"{opened}><summary>',
        f'<span class="badge">{_e(status)}</span><span class="name">{_e(case.name)}{marks}</span>',
        f'<span class="dim">{_e(_duration(case.duration_ms))} · {case.attempts} attempt(s)'
        f'{" · " + _e(case.worker) if case.worker else ""}</span></summary><div class="body">',
    ]
    if case.tags:
        out.append(f'<p class="dim">tags: {_e(", ".join(case.tags))}</p>')
    if status in ("failed", "error"):
        out.append(f'<div class="error">{_e(failure_message(case))}</div>')
    out.append(_timeline(case, images))
    out.append(trace_block(case, store))
    shown = {s.screenshot for s in case.steps if s.screenshot}
    extra = [a for a in names.screenshots(case.artifacts) if a not in shown]
    if extra:
        figures = "".join(images.figure(a, a) for a in extra)
        out.append(f'<div class="shots">{figures}</div>')
    # A diff's explanation is shown with the diff, in the step's visual view.
    out += [_ai_finding(f) for f in case.ai if f.analysis_type != "visual_diff"]
    if len(case.history) > 1 or status == "flaky":
        rows = "".join(
            f"<tr><td>{a.attempt}</td><td>{_e(a.status)}</td><td>{_e(a.worker)}</td>"
            f"<td>{_e(_duration(a.duration_ms))}</td><td>{_e(a.error or '')}</td></tr>"
            for a in case.history
        )
        out.append(
            "<table><tr><th>attempt</th><th>status</th><th>worker</th><th>time</th>"
            f"<th>error</th></tr>{rows}</table>"
        )
    out += [_log(case.run_id, a, store) for a in case.artifacts if names.is_log(a)]
    out.append("</div></details>")
    return "\n".join(out)


def _timeline(case: CaseResult, images: _Images) -> str:
    if not case.steps:
        return f'<p class="dim">no step has run ({_e(case.total_steps)} step(s) planned)</p>'
    longest = max(1, *(s.duration_ms for s in case.steps))
    items = []
    for step in case.steps:
        failing = " failing" if step.index == case.failed_step else ""
        width = max(2, round(120 * step.duration_ms / longest))
        item = (
            f'<li class="s-{step.status}{failing}"><span class="dim">{step.index}.</span>'
            f'<span class="st">{_e(step.status.replace("_", " "))}</span>'
            # Steps inside a block (a flow's use:, an if, a repeat) sit under its row.
            f'<span class="d{min(step.depth, 6)}">{_e(step.label)} '
            f'<span class="dim">{_e(step.step_type)}</span></span>'
            f'<span class="dur">{_e(_duration(step.duration_ms))}</span>'
            f'<span class="bar" style="width:{width}px"></span>'
        )
        if step.error:
            item += f'<span class="step-error">{_e(step.error)}</span>'
        if step.visual is not None:
            diffs = (a for a in case.ai if a.analysis_type == "visual_diff")
            explained = next((a for a in diffs if a.step == step.index), None)
            item += images.visual.block(step, explained)
        elif step.accessibility is not None:
            item += a11y_block(step.accessibility, images.figure)
        elif step.screenshot:
            caption = f"step {step.index}: {step.label}"
            item += f'<div class="shots">{images.figure(step.screenshot, caption)}</div>'
        if step.performance is not None:
            item += perf_block(step.performance)
        items.append(item + "</li>")
    return f'<ol class="steps">{"".join(items)}</ol>'


def _ai_finding(finding: Analysis) -> str:
    """One analysis: what was looked at, its status, and the model's typed findings."""
    where = f" on step {finding.step}" if finding.step else ""
    title = f"AI findings: {_e(finding.analysis_type)}{_e(where)}"
    out = [
        f'<div class="ai"><h4>{title} <span class="badge">{_e(finding.status)}</span></h4>',
        f'<p class="dim">{_e(finding.screenshot)}</p>',
    ]
    if finding.status != "completed":
        # Skipped (no key, budget spent) or failed (the model's error): say why, no more.
        out.append(f"<p>{_e(finding.reason or 'no reason given')}</p></div>")
        return "".join(out)
    if finding.summary:
        out.append(f"<p>{_e(finding.summary)}</p>")
    if finding.issues:
        rows = "".join(
            f"<tr><td>{_e(i.severity)}</td><td>{_e(i.description)}</td>"
            f"<td>{_e(i.location or '')}</td></tr>"
            for i in finding.issues
        )
        out.append(f"<table><tr><th>severity</th><th>issue</th><th>where</th></tr>{rows}</table>")
    if finding.citations:
        kinds = {"console": "console error", "request": "failed request"}
        cites = "".join(
            f"<li>{_e(kinds[c.kind])} {c.index}: <code>{_e(c.text)}</code></li>"
            for c in finding.citations
        )
        out.append(f'<p class="dim">the evidence it cites:</p><ul class="citations">{cites}</ul>')
    if finding.recommendations:
        items = "".join(
            f"<li><b>{_e(r.title)}</b> (confidence {r.confidence:.0%})"
            f"{': ' + _e(r.implementation) if r.implementation else ''}</li>"
            for r in finding.recommendations
        )
        out.append(f"<ul>{items}</ul>")
    if finding.scores:
        scores = ", ".join(f"{k} {v:g}" for k, v in finding.scores.items())
        out.append(f'<p class="dim">scores: {_e(scores)}</p>')
    usage = f"{finding.model or 'model'}: "
    usage += (
        "cached (no call)"
        if finding.cached
        else (f"{finding.input_tokens + finding.output_tokens} tokens, ~${finding.cost_usd:.4f}")
    )
    out.append(f'<p class="dim">{_e(usage)}</p></div>')
    return "".join(out)


def _log(run_id: str, name: str, store: ArtifactStore) -> str:
    try:
        with store.open_run_artifact(run_id, name) as stream:
            raw = bytearray()
            for chunk in stream:  # a huge log is cut, never read whole
                raw += chunk
                if len(raw) > _MAX_LOG_BYTES:
                    break
    except (TestfleetError, OSError):
        return f'<p class="dim">log {_e(name)} missing</p>'
    text = bytes(raw).decode("utf-8", errors="replace")
    if len(text) > _MAX_LOG_CHARS or len(raw) > _MAX_LOG_BYTES:
        text = text[:_MAX_LOG_CHARS] + "\n… (truncated)"
    return f"<details><summary>{_e(name)}</summary><pre>{_e(text)}</pre></details>"
