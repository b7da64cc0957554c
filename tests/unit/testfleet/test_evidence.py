"""``testfleet.evidence``: console lines, HAR, snapshots' sealing, trace modes, the manifest
and the zip, from logs recorded off real Chromium (tests/data/evidence: the page of
tests/evidence_site.py after typing a password and saving, its port written as 8123)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from testfleet.evidence import captures, keeps, trace_name
from testfleet.evidence.console import console_line, iso_time
from testfleet.evidence.har import DROPPED, build_har, failed_request_ids
from testfleet.evidence.manifest import Counts, Manifest, TraceStep, snapshot_member
from testfleet.evidence.snapshot import CSP, seal
from testfleet.evidence.tracezip import merge_attempts, read_manifest, read_members, write_trace
from testfleet.masking import Masker
from testfleet.suites.model import CaseSpec, Suite

DATA = Path(__file__).resolve().parents[2] / "data" / "evidence"
SECRET = "wonderland-7Hq2"
"""What was typed into the page's password field (and went into a URL and a console line)."""
BASE = "http://127.0.0.1:8123"


def recorded(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((DATA / name).read_text())
    return entries


def same(text: str) -> str:
    return text


def no_step(epoch_ms: float) -> int | None:
    return None


# -- console ---------------------------------------------------------------------------------


def test_console_lines_have_level_text_source_and_location() -> None:
    lines = [console_line(e, same) for e in recorded("browser-log.json")]
    first = lines[0]
    assert first == {
        "time": iso_time(1796668282351),
        "level": "info",
        "text": "hello from the page 42",
        "source": "console-api",
        "url": f"{BASE}/app",
        "line": 11,
        "column": 8,
    }
    assert first["time"].endswith("Z")
    assert first["time"][-5] == "."
    by_text = {line["text"]: line for line in lines}
    assert by_text["a warning line"]["level"] == "warning"
    assert by_text["save failed: the backend said no"]["level"] == "error"
    uncaught = by_text["Uncaught Error: uncaught boom"]
    assert (uncaught["level"], uncaught["source"], uncaught["line"]) == ("error", "javascript", 22)
    failed_load = next(line for line in lines if line.get("url") == f"{BASE}/api/save")
    assert failed_load["source"] == "network"
    assert "line" not in failed_load
    assert "status of 500" in failed_load["text"]
    assert any(line["level"] == "debug" for line in lines)  # Chromium's recommendations


def test_a_line_of_a_script_webdriver_ran_has_no_url() -> None:
    entry = {
        "level": "INFO",
        "source": "console-api",
        "timestamp": 0,
        "message": 'console-api 2:9 "x"',
    }
    line = console_line(entry, same)
    assert (line["text"], line["line"], "url" in line) == ("x", 2, False)


def test_an_unparsable_message_is_kept_whole() -> None:
    entry = {"level": "SEVERE", "source": "other", "timestamp": 0, "message": "no shape at all"}
    assert console_line(entry, same)["text"] == "no shape at all"


def test_console_lines_are_masked() -> None:
    lines = [console_line(e, Masker([SECRET])) for e in recorded("browser-log.json")]
    assert SECRET in json.dumps(recorded("browser-log.json")), "the fixture holds the secret"
    assert SECRET not in json.dumps(lines)
    assert any(line["text"] == "token is ***" for line in lines)


# -- HAR -------------------------------------------------------------------------------------


def test_the_har_has_every_request_with_its_status_and_timing() -> None:
    har = build_har(recorded("performance-log.json"), same, no_step)
    log = har.document["log"]
    assert log["version"] == "1.2"
    assert log["creator"]["name"] == "testfleet"
    rows = {(e["request"]["method"], e["request"]["url"].split("?")[0]): e for e in log["entries"]}
    statuses = {key: e["response"]["status"] for key, e in rows.items()}
    assert statuses == {
        ("GET", f"{BASE}/app"): 200,
        ("GET", f"{BASE}/favicon.ico"): 404,
        ("GET", f"{BASE}/missing.json"): 404,
        ("GET", f"{BASE}/api/echo"): 200,
        ("POST", f"{BASE}/api/save"): 500,
    }
    assert har.failed_requests == 3
    page = rows[("GET", f"{BASE}/app")]
    assert page["response"]["content"]["mimeType"] == "text/html"
    assert page["response"]["_transferSize"] > 0
    assert page["time"] >= 0
    assert set(page["timings"]) >= {"blocked", "dns", "connect", "send", "wait", "receive"}
    assert page["startedDateTime"].endswith("Z")
    assert [p["id"] for p in log["pages"]] == ["page_1"]
    assert {e["pageref"] for e in log["entries"]} == {"page_1"}
    echo = rows[("GET", f"{BASE}/api/echo")]
    assert echo["request"]["queryString"] == [{"name": "token", "value": SECRET}]
    # A fetch whose body the page never read has no loadingFinished: closed as it stands.
    assert rows[("POST", f"{BASE}/api/save")]["response"].get("_pending") is True
    assert "postData" not in json.dumps(log)


def test_the_live_count_of_failed_requests_agrees_with_the_har() -> None:
    entries = recorded("performance-log.json")
    halves = failed_request_ids(entries[:60]) | failed_request_ids(entries[60:])
    assert len(halves) == build_har(entries, same, no_step).failed_requests == 3


def test_the_har_is_masked_and_drops_secret_headers() -> None:
    entries = recorded("performance-log.json")
    assert SECRET in json.dumps(entries), "the fixture holds the secret in a URL and a body"
    extra = {
        "message": json.dumps(
            {
                "message": {
                    "method": "Network.requestWillBeSentExtraInfo",
                    "params": {
                        "requestId": _request_id(entries, "/api/echo"),
                        "headers": {"Cookie": "sid=abc", "Authorization": "Bearer xyz", "A": "b"},
                    },
                },
                "webview": "",
            }
        )
    }
    har = build_har([*entries, extra], Masker([SECRET]), no_step)
    text = json.dumps(har.document)
    assert SECRET not in text
    assert "sid=abc" not in text
    assert "Bearer xyz" not in text
    echo = next(e for e in har.document["log"]["entries"] if "/api/echo" in e["request"]["url"])
    assert {"name": "Cookie", "value": DROPPED} in echo["request"]["headers"]
    assert {"name": "A", "value": "b"} in echo["request"]["headers"]


def test_requests_are_put_in_the_step_whose_window_they_started_in() -> None:
    entries = recorded("performance-log.json")
    app_ms = 1000 * _wall_time(entries, "/app")

    def step_of(epoch_ms: float) -> int | None:
        return 1 if epoch_ms < app_ms + 300 else 2

    har = build_har(entries, same, step_of)
    steps = {
        e["request"]["url"].removeprefix(BASE).split("?")[0]: e["_step"]
        for e in har.document["log"]["entries"]
    }
    assert steps["/app"] == 1
    assert steps["/api/save"] == 2
    assert har.failed_by_step == {1: 1, 2: 2}  # the favicon, then the 404 and the 500


def test_a_network_failure_carries_its_reason_and_a_cancellation_is_no_failure() -> None:
    def message(method: str, **params: Any) -> dict[str, Any]:
        return {
            "message": json.dumps({"message": {"method": method, "params": params}, "webview": "F"})
        }

    def sent(request_id: str, url: str) -> dict[str, Any]:
        request = {"url": url, "method": "GET", "headers": {}}
        return message(
            "Network.requestWillBeSent",
            requestId=request_id,
            request=request,
            timestamp=10.0,
            wallTime=1796668282.0,
            type="Fetch",
            frameId="F",
        )

    entries = [
        sent("1", "http://127.0.0.1:9/refused"),
        message(
            "Network.loadingFailed",
            requestId="1",
            timestamp=10.2,
            errorText="net::ERR_CONNECTION_REFUSED",
        ),
        sent("2", "http://127.0.0.1:9/aborted"),
        message(
            "Network.loadingFailed",
            requestId="2",
            timestamp=10.3,
            errorText="net::ERR_ABORTED",
            canceled=True,
        ),
    ]
    har = build_har(entries, same, no_step)
    refused, aborted = har.document["log"]["entries"]
    assert (refused["response"]["status"], refused["response"]["_error"]) == (
        0,
        "net::ERR_CONNECTION_REFUSED",
    )
    assert refused["time"] == pytest.approx(200, abs=1)
    assert aborted["response"]["_canceled"] is True
    assert har.failed_requests == 1


def _request_id(entries: list[dict[str, Any]], path: str) -> str:
    for entry in entries:
        message = json.loads(entry["message"])["message"]
        if (
            message["method"] == "Network.requestWillBeSent"
            and path in message["params"]["request"]["url"]
        ):
            return str(message["params"]["requestId"])
    raise AssertionError(path)


def _wall_time(entries: list[dict[str, Any]], path: str) -> float:
    for entry in entries:
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent" and message["params"]["request"][
            "url"
        ].endswith(path):
            return float(message["params"]["wallTime"])
    raise AssertionError(path)


# -- snapshots -------------------------------------------------------------------------------


def test_a_sealed_snapshot_has_the_policy_first_in_its_head_and_is_masked() -> None:
    html = (
        f'<!DOCTYPE html><html lang="en"><head><title>t</title></head><body>{SECRET}</body></html>'
    )
    sealed = seal(html, Masker([SECRET]))
    policy = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    assert sealed.startswith(f'<!DOCTYPE html><html lang="en"><head>{policy}<title>')
    assert SECRET not in sealed
    assert "default-src 'none'" in CSP


def test_a_snapshot_without_a_head_gets_one() -> None:
    assert seal("<html><body>x</body></html>", same).startswith(
        '<html><head><meta http-equiv="Content-Security-Policy"'
    )
    assert seal("<svg></svg>", same).startswith('<head><meta http-equiv="Content-Security-Policy"')


# -- modes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "attempt", "status", "captured", "kept"),
    [
        ("off", 1, "failed", False, False),
        ("on", 1, "passed", True, True),
        ("on", 2, "failed", True, True),
        ("retain-on-failure", 1, "passed", True, False),
        ("retain-on-failure", 1, "failed", True, True),
        ("retain-on-failure", 2, "error", True, True),
        ("retain-on-failure", 1, "cancelled", True, False),
        ("on-first-retry", 1, "failed", False, False),
        ("on-first-retry", 2, "passed", True, True),
        ("on-first-retry", 3, "failed", False, False),
    ],
)
def test_which_attempts_are_captured_and_kept(
    mode: Any, attempt: int, status: str, captured: bool, kept: bool
) -> None:
    assert (captures(mode, attempt), keeps(mode, attempt, status)) == (captured, kept)


def test_the_trace_mode_of_a_case_is_the_runs_else_the_tests_else_the_suites() -> None:
    step = {"step_type": "navigate", "input_data": "/", "order_index": 1}
    suite = Suite.model_validate(
        {
            "name": "S",
            "base_url": "http://127.0.0.1:1",
            "trace": "on",
            "tests": [
                {"name": "a", "steps": [step]},
                {"name": "b", "trace": "off", "steps": [step]},
            ],
        }
    )
    a, b = suite.tests
    assert (CaseSpec.of(suite, a).trace, CaseSpec.of(suite, b).trace) == ("on", "off")
    assert CaseSpec.of(suite, b, "on-first-retry").trace == "on-first-retry"
    bare = suite.model_copy(update={"trace": None})
    assert CaseSpec.of(bare, a).trace == "retain-on-failure"
    with pytest.raises(ValueError, match="retain-on-failure"):
        Suite.model_validate(
            {"name": "S", "trace": "sometimes", "tests": [{"name": "a", "steps": [step]}]}
        )


# -- manifest and zip ------------------------------------------------------------------------


def manifest(attempt: int = 1, status: str = "failed") -> Manifest:
    return Manifest(
        runId="r1",
        caseId="r1-0001",
        testName="saves an order",
        attempt=attempt,
        mode="retain-on-failure",
        status=status,
        startedAt=1796668282000,
        endedAt=1796668283000,
        steps=[
            TraceStep(
                index=1,
                name="click #go",
                type="click",
                status="failed",
                startedAt=1796668282100,
                endedAt=1796668282900,
                error="boom",
                screenshot="screenshots/r1-0001-a1-step01-failure.png",
                snapshotBefore=snapshot_member(1, "before"),
                consoleErrors=2,
                failedRequests=1,
            )
        ],
        counts=Counts(console=3, consoleErrors=2, requests=4, failedRequests=1),
    )


def test_the_manifest_is_camel_case_version_1() -> None:
    document = manifest().dump()
    assert document["version"] == 1
    assert set(document) == {
        "version",
        "runId",
        "caseId",
        "testName",
        "attempt",
        "mode",
        "status",
        "startedAt",
        "endedAt",
        "steps",
        "counts",
    }
    step = document["steps"][0]
    assert step["snapshotBefore"] == "snapshots/001-before.html"
    assert step["snapshotAfter"] is None
    assert document["counts"] == {
        "console": 3,
        "consoleErrors": 2,
        "requests": 4,
        "failedRequests": 1,
    }


def one_zip(attempt: int = 1) -> bytes:
    har = build_har(recorded("performance-log.json"), same, no_step).document
    console = [console_line(e, same) for e in recorded("browser-log.json")]
    return write_trace(
        manifest(attempt),
        har,
        console,
        {"snapshots/001-before.html": seal("<html><head></head><body>hi</body></html>", same)},
        {"screenshots/r1-0001-a1-step01-failure.png": b"\x89PNG fake"},
    )


def test_one_attempts_zip_holds_every_member_and_its_viewer() -> None:
    data = one_zip()
    members = read_members(data)
    assert set(members) == {
        "trace.json",
        "trace.har",
        "console.jsonl",
        "index.html",
        "snapshots/001-before.html",
        "screenshots/r1-0001-a1-step01-failure.png",
    }
    assert read_manifest(data) == manifest().dump()
    assert json.loads(members["trace.har"])["log"]["version"] == "1.2"
    lines = [json.loads(line) for line in members["console.jsonl"].decode().splitlines()]
    assert len(lines) == len(recorded("browser-log.json"))
    assert {"time", "level", "text", "source"} <= set(lines[0])
    assert b'id="trace-data"' in members["index.html"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        png = archive.getinfo("screenshots/r1-0001-a1-step01-failure.png")
        assert png.compress_type == zipfile.ZIP_STORED


def test_attempts_merge_into_one_zip_with_a_folder_each() -> None:
    merged = merge_attempts({2: one_zip(2), 1: one_zip(1)})
    members = read_members(merged)
    assert "index.html" in members
    assert {"attempt-1/trace.json", "attempt-2/trace.json", "attempt-2/trace.har"} <= set(members)
    assert read_manifest(merged, "attempt-2/")["attempt"] == 2
    assert b"attempt-1/index.html" in members["index.html"]


def test_a_trace_is_named_per_case_and_attempt() -> None:
    assert trace_name("r1-0001", 2) == "r1-0001.attempt-2.trace.zip"
