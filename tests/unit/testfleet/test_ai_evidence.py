"""A failing step's browser evidence (``testfleet.evidence.failure``) from logs recorded off
real Chromium (tests/data/evidence, see test_evidence.py), and how a failure analysis shows
and cites it (``testfleet.ai.evidence``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testfleet.ai.evidence import MAX_ENTRY_CHARS, cited, show_evidence
from testfleet.evidence.failure import EvidenceItem, FailureEvidence, failure_evidence
from testfleet.masking import Masker
from testfleet.results import AiCitation

DATA = Path(__file__).resolve().parents[2] / "data" / "evidence"
SECRET = "wonderland-7Hq2"
BASE = "http://127.0.0.1:8123"


def recorded(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((DATA / name).read_text())
    return entries


def test_the_evidence_holds_the_pages_errors_and_failed_requests_masked() -> None:
    evidence = failure_evidence(
        recorded("browser-log.json"),
        recorded("performance-log.json"),
        Masker([SECRET]),
        lambda epoch_ms: 1,
        1,
    )
    console = [i.text for i in evidence.console]
    assert f"save failed: the backend said no ({BASE}/app:16:10)" in console
    assert f"Uncaught Error: uncaught boom ({BASE}/app:22:33)" in console
    assert not any("hello from the page" in t for t in console), "errors only"
    requests = [i.text for i in evidence.requests]
    assert f"POST {BASE}/api/save -> 500 Internal Server Error" in requests
    assert f"GET {BASE}/missing.json -> 404 Not Found" in requests
    assert not any("/api/echo" in t for t in requests), "it answered 200"
    assert SECRET not in repr(evidence)


def item(kind: str, n: int, text: str = "") -> EvidenceItem:
    return EvidenceItem(kind, 2, f"2026-12-07T18:00:00.{n:03d}Z", text or f"{kind} {n}")  # type: ignore[arg-type]


def test_the_block_numbers_entries_takes_both_kinds_in_turn_and_says_what_was_cut() -> None:
    evidence = FailureEvidence(
        step=2,
        console=tuple(item("console", n, "c" * 90) for n in range(20)),
        requests=tuple(item("request", n, "r" * 90) for n in range(3)),
    )
    shown = show_evidence(evidence, 1200)
    assert shown is not None
    assert len(shown.text) <= 1200
    assert len(shown.requests) == 3, "requests are not crowded out by console lines"
    assert 0 < len(shown.console) < 20
    assert f"C1 [step 2] {'c' * 90}" in shown.text.splitlines()
    assert f"{20 - len(shown.console)} console errors and 0 failed requests" in shown.text
    assert show_evidence(evidence, 0) is None


def test_a_long_entry_is_cut_and_says_so() -> None:
    evidence = FailureEvidence(step=2, console=(item("console", 1, "x" * 5000),))
    shown = show_evidence(evidence, 4000)
    assert shown is not None
    [line] = shown.console
    assert line.endswith("... [cut, 5000 chars in all]")
    assert len(line) < MAX_ENTRY_CHARS + 50


def test_only_entries_that_were_shown_can_be_cited() -> None:
    evidence = FailureEvidence(
        step=2, console=(item("console", 1),), requests=(item("request", 1),)
    )
    shown = show_evidence(evidence, 2000)
    raw = [
        {"kind": "request", "index": 1},
        {"kind": "request", "index": 1},  # the same twice: once
        {"kind": "console", "index": 2},  # not shown
        {"kind": "dom", "index": 1},
        {"kind": "console", "index": "1"},
        "C1",
    ]
    assert cited(shown, raw) == [AiCitation(kind="request", index=1, text="[step 2] request 1")]
    assert cited(None, raw) == []
    assert cited(shown, None) == []
