"""The trace viewer's reading and rendering, without a browser (tests/dashboard has the
browser tests): limits on a zip, the snapshot policy, steps' console and requests, and
the HTML that every view shares."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from testfleet.errors import UsageError
from testfleet.evidence.viewer import bundle_attempts, inline_media, render_index, render_view
from testfleet.evidence.viewer_model import (
    MAX_MEMBERS,
    SNAPSHOT_POLICY,
    guard_snapshot,
    kept_traces,
    parse,
    read_zip,
)
from testfleet.results import AttemptSummary, CaseResult
from tests.trace_files import CONSOLE_ERROR, FAILED_URL, members, trace_zip


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return out.getvalue()


@pytest.mark.parametrize("name", ["../evil.html", "/etc/x", "a/../../b", "snapshots\\x.html", ""])
def test_a_member_that_would_leave_its_folder_is_refused(name: str) -> None:
    with pytest.raises(UsageError, match="not allowed"):
        read_zip(_zip({"trace.json": b"{}", name or ".hidden": b"x"}))


def test_a_zip_over_the_limits_or_not_a_zip_is_refused() -> None:
    with pytest.raises(UsageError, match="more than"):
        read_zip(_zip({f"s/{i}.png": b"" for i in range(MAX_MEMBERS + 1)}))
    with pytest.raises(UsageError, match="not a trace zip"):
        read_zip(b"PK nope")
    assert set(read_zip(trace_zip())) >= {"trace.json", "index.html", "console.jsonl"}


def test_the_snapshot_policy_comes_first_whatever_the_page_put_before_its_head() -> None:
    meta = f'<meta http-equiv="Content-Security-Policy" content="{SNAPSHOT_POLICY}">'
    hostile = '<!DOCTYPE html><html><link rel="stylesheet" href="http://x/"><head></head>'
    assert guard_snapshot(hostile) == "<!DOCTYPE html>" + meta + hostile[15:]
    assert guard_snapshot("<p>hi").startswith(meta)


def test_a_steps_console_lines_and_requests_are_its_own() -> None:
    trace = parse(members())
    first, failing, after = trace.steps
    assert [c.text for c in trace.step_console(first)] == ["shop ready"]  # by time
    assert [c.text for c in trace.step_console(failing)] == [CONSOLE_ERROR]  # tagged
    tagged, by_time = trace.step_requests(failing)
    assert (tagged.url, tagged.status, tagged.failed) == (FAILED_URL, 500, True)
    assert (by_time.step, by_time.error, by_time.failed) == (None, "net::ERR_FAILED", True)
    assert trace.step_console(after) == []
    assert trace.step_requests(after) == []


def test_kept_traces_come_from_the_attempts_and_the_artifacts() -> None:
    case = CaseResult(
        case_id="c",
        run_id="r",
        suite="s",
        name="n",
        artifacts=["c.attempt-3.trace.zip", "c.log"],
        history=[
            AttemptSummary(attempt=1, status="failed", worker="w", trace="c.attempt-1.trace.zip"),
            AttemptSummary(attempt=2, status="passed", worker="w"),
        ],
    )
    assert kept_traces(case) == {1: "c.attempt-1.trace.zip", 3: "c.attempt-3.trace.zip"}


def test_the_offline_viewer_runs_nothing_and_frames_every_snapshot_in_a_sandbox() -> None:
    page = members()["index.html"].decode()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert policy is not None
    assert "script-src" not in policy.group(1)
    assert "default-src 'none'" in policy.group(1)
    assert re.findall(r"<script[^>]*>", page) == [
        '<script type="application/json" id="trace-data">'
    ]
    frames = re.findall(r"<iframe[^>]*>", page)
    assert frames
    assert all(' sandbox="" ' in f for f in frames)
    assert CONSOLE_ERROR in page


def test_untrusted_text_is_escaped_and_cannot_end_the_embedded_data() -> None:
    files = members()
    manifest = json.loads(files["trace.json"])
    manifest["testName"] = "</script><script>alert(1)</script>"
    manifest["steps"][1]["error"] = "<img src=x onerror=alert(1)>"
    page = render_index(manifest, files)
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    data = re.search(r'id="trace-data">(.*?)</script>', page, re.DOTALL)
    assert data is not None
    assert json.loads(data.group(1))["testName"] == manifest["testName"]


def test_the_report_inlines_within_its_budget_the_failing_step_first() -> None:
    trace = parse(members())
    failing = "snapshots/002-before.html"
    budget = len(trace.members[failing])
    view = render_view(trace, inline_media(trace, budget), "t")
    assert view.count("srcdoc=") == 1
    assert f"left out: the report inlines {budget} bytes" in view
    whole = render_view(trace, inline_media(trace, 10_000_000), "t")
    assert whole.count("srcdoc=") == 3
    assert "data:image/png;base64," in whole


def test_all_attempts_go_into_one_zip_with_a_top_index() -> None:
    both = read_zip(bundle_attempts({1: members(attempt=1), 2: members(attempt=2)}))
    assert json.loads(both["attempt-2/trace.json"])["attempt"] == 2
    assert 'href="attempt-1/index.html"' in both["index.html"].decode()


def test_a_failing_step_shows_what_went_wrong_earlier_in_the_attempt() -> None:
    files = members()
    manifest = json.loads(files["trace.json"])
    manifest["steps"][1]["status"] = "passed"
    manifest["steps"][2].update(status="failed", error="receipt missing")
    trace = parse({**files, "trace.json": json.dumps(manifest).encode()})
    last = trace.steps[2]
    assert [c.text for c in trace.errors_before(last)] == [CONSOLE_ERROR]
    assert [r.url for r in trace.failures_before(last)] == [FAILED_URL, "http://cdn.shop.test/x.js"]
    assert trace.errors_before(trace.steps[0]) == []
    view = render_index(manifest, files)
    assert "console errors earlier in this attempt (1)" in view
    assert "failed requests earlier in this attempt (2)" in view
