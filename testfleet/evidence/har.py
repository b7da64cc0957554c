"""chromedriver performance-log entries (``Network.*``) -> HAR 1.2, without bodies.

One HAR entry per request hop (a redirect's 3xx is an entry of its own), built from
``requestWillBeSent`` (method, URL, wall time), the ``*ExtraInfo`` events (the wire
headers, and the only status a CORS-blocked response has), ``responseReceived``
(status, timing, protocol) and ``loadingFinished`` / ``loadingFailed`` (size, the
``net::ERR_*`` reason). A request still open when the log was read (a fetch whose body
the page never read) is closed as it stands and marked ``_pending``.

Secrets: request bodies (``postData``) are never copied, the values of
``SECRET_HEADERS`` are dropped, and ``mask`` runs over every string of the result.

Custom fields (HAR allows ``_``-prefixed ones): ``_step`` (the step whose time window
the request started in), ``_resourceType``, ``response._error``, ``_blockedReason``,
``_transferSize``, ``_pending``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from testfleet.evidence.console import iso_time

__all__ = [
    "SECRET_HEADERS",
    "Har",
    "build_har",
    "failed",
    "failed_request_ids",
    "network_messages",
]

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
"""Headers whose values never enter a trace (lower case)."""
DROPPED = "[dropped]"
"""What a secret header's value reads as."""
HAR_VERSION = "1.2"
_FAILED_STATUS = 400


@dataclass
class Har:
    """A HAR document and what the live counts need of it."""

    document: dict[str, Any]
    failed_requests: int = 0
    failed_by_step: dict[int, int] = field(default_factory=dict)


@dataclass
class _Request:
    request_id: str
    request: dict[str, Any]
    started_s: float
    """Chromium's monotonic clock, seconds."""
    wall_s: float
    """Epoch seconds at ``started_s``."""
    resource_type: str | None
    frame_id: str | None
    main_frame: bool
    response: dict[str, Any] | None = None
    ended_s: float | None = None
    size_bytes: int | None = None
    error: str | None = None
    blocked: str | None = None
    canceled: bool = False


def network_messages(entries: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """The ``(message, webview)`` of each performance-log entry, in order (unreadable
    entries are skipped)."""
    out: list[tuple[dict[str, Any], str]] = []
    for entry in entries:
        try:
            body = json.loads(str(entry.get("message", "")))
        except ValueError:
            continue
        message = body.get("message") if isinstance(body, dict) else None
        if isinstance(message, dict) and isinstance(message.get("params"), dict):
            out.append((message, str(body.get("webview", ""))))
    return out


def _headers(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, dict):
        return []
    return [
        {"name": str(k), "value": DROPPED if str(k).lower() in SECRET_HEADERS else str(v)}
        for k, v in raw.items()
    ]


def _collect(entries: list[dict[str, Any]]) -> tuple[list[_Request], dict[str, Any]]:
    """Every request hop, in start order, and the ExtraInfo events by request id."""
    open_: dict[str, _Request] = {}
    done: list[_Request] = []
    extra: dict[str, Any] = {}
    for message, webview in network_messages(entries):
        method, params = str(message.get("method", "")), message["params"]
        request_id = str(params.get("requestId", ""))
        hop = open_.get(request_id)
        if method == "Network.requestWillBeSent":
            if hop is not None and params.get("redirectResponse"):
                hop.response, hop.ended_s = params["redirectResponse"], params.get("timestamp")
                done.append(open_.pop(request_id))
            open_[request_id] = _Request(
                request_id=request_id,
                request=params.get("request") or {},
                started_s=float(params.get("timestamp", 0.0)),
                wall_s=float(params.get("wallTime", 0.0)),
                resource_type=params.get("type"),
                frame_id=params.get("frameId"),
                main_frame=params.get("type") == "Document" and params.get("frameId") == webview,
            )
        elif method in ("Network.requestWillBeSentExtraInfo", "Network.responseReceivedExtraInfo"):
            extra.setdefault(request_id, {})[method] = params
        elif hop is None:
            continue
        elif method == "Network.responseReceived":
            hop.response = params.get("response") or {}
        elif method == "Network.loadingFinished":
            hop.ended_s, hop.size_bytes = params.get("timestamp"), params.get("encodedDataLength")
            done.append(open_.pop(request_id))
        elif method == "Network.loadingFailed":
            hop.ended_s, hop.error = params.get("timestamp"), params.get("errorText")
            cors = params.get("corsErrorStatus") or {}
            hop.blocked = params.get("blockedReason") or cors.get("corsError")
            hop.canceled = bool(params.get("canceled"))
            done.append(open_.pop(request_id))
    done.extend(open_.values())
    done.sort(key=lambda r: r.started_s)
    return done, extra


def _timings(hop: _Request, response: dict[str, Any]) -> tuple[dict[str, float], float]:
    """HAR ``timings`` (ms) and the entry's total time (ms), from Chromium's ResourceTiming
    (``requestTime`` in s, the rest ms offsets from it)."""
    timing = response.get("timing")
    ended_s = hop.ended_s if hop.ended_s is not None else hop.started_s
    if not isinstance(timing, dict) or "requestTime" not in timing:
        total = round(max(0.0, (ended_s - hop.started_s) * 1000), 3)
        return {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": total, "receive": 0}, (
            total
        )

    def span(start: str, end: str) -> float:
        a, b = timing.get(start, -1), timing.get(end, -1)
        return round(b - a, 3) if a >= 0 and b >= 0 else -1

    first = next(
        (timing[k] for k in ("dnsStart", "connectStart", "sendStart") if timing.get(k, -1) >= 0),
        0.0,
    )
    queued_ms = max(0.0, (timing["requestTime"] - hop.started_s) * 1000)
    headers_end = timing.get("receiveHeadersEnd", 0.0)
    receive = 0.0
    if hop.ended_s is not None:
        receive = max(0.0, (hop.ended_s - timing["requestTime"]) * 1000 - headers_end)
    timings = {
        "blocked": round(queued_ms + first, 3),
        "dns": span("dnsStart", "dnsEnd"),
        "connect": span("connectStart", "connectEnd"),
        "ssl": span("sslStart", "sslEnd"),
        "send": max(0.0, span("sendStart", "sendEnd")),
        "wait": max(0.0, round(headers_end - timing.get("sendEnd", 0.0), 3)),
        "receive": round(receive, 3),
    }
    # ssl is part of connect in HAR: not added twice.
    total = sum(v for k, v in timings.items() if k != "ssl" and v > 0)
    return timings, round(total, 3)


def _entry(hop: _Request, extra: dict[str, Any]) -> dict[str, Any]:
    request, response = hop.request, dict(hop.response or {})
    sent = extra.get(hop.request_id, {}).get("Network.requestWillBeSentExtraInfo", {})
    received = extra.get(hop.request_id, {}).get("Network.responseReceivedExtraInfo", {})
    if not response and received.get("statusCode"):
        # A response the page was not given (CORS-blocked): its status is only here.
        response = {"status": received["statusCode"], "headers": received.get("headers") or {}}
    timings, total = _timings(hop, response)
    url = str(request.get("url", "")) + str(request.get("urlFragment", ""))
    response_headers = received.get("headers") or response.get("headers") or {}
    location = next((str(v) for k, v in response_headers.items() if k.lower() == "location"), "")
    protocol = str(response.get("protocol", ""))
    entry: dict[str, Any] = {
        "startedDateTime": iso_time(hop.wall_s * 1000),
        "time": total,
        "request": {
            "method": str(request.get("method", "GET")),
            "url": url,
            "httpVersion": protocol,
            "headers": _headers(sent.get("headers") or request.get("headers")),
            "queryString": [
                {"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, True)
            ],
            "cookies": [],
            "headersSize": -1,
            "bodySize": -1 if request.get("hasPostData") else 0,
        },
        "response": {
            "status": int(response.get("status", 0) or 0),
            "statusText": str(response.get("statusText", "")),
            "httpVersion": protocol,
            "headers": _headers(response_headers),
            "cookies": [],
            "content": {"size": -1, "mimeType": str(response.get("mimeType", ""))},
            "redirectURL": location,
            "headersSize": -1,
            "bodySize": -1,
            "_transferSize": hop.size_bytes
            if hop.size_bytes is not None
            else response.get("encodedDataLength", -1),
        },
        "cache": {},
        "timings": timings,
        "serverIPAddress": str(response.get("remoteIPAddress", "")),
        "_resourceType": hop.resource_type,
    }
    if hop.error:
        entry["response"]["_error"] = hop.error
        if hop.blocked:
            entry["response"]["_blockedReason"] = hop.blocked
        if hop.canceled:
            entry["response"]["_canceled"] = True
    if hop.ended_s is None:
        entry["response"]["_pending"] = True
    return entry


def failed(entry: dict[str, Any]) -> bool:
    """A request that failed: a ``net::ERR_*`` (not a cancellation), no answer, or 4xx/5xx."""
    response = entry["response"]
    if response.get("_canceled"):
        return False
    if response.get("_error"):
        return True
    return int(response.get("status", 0)) >= _FAILED_STATUS


def failed_request_ids(entries: list[dict[str, Any]]) -> set[str]:
    """The ids of the requests ``entries`` show failing (as ``failed`` judges a HAR entry):
    cheap enough to run on each batch of entries read, for the live counts."""
    ids: set[str] = set()
    for message, _ in network_messages(entries):
        method, params = message.get("method"), message["params"]
        if method == "Network.loadingFailed" and not params.get("canceled"):
            ids.add(str(params.get("requestId", "")))
        elif method in ("Network.responseReceived", "Network.requestWillBeSent"):
            response = params.get("response") or params.get("redirectResponse") or {}
            if int(response.get("status", 0) or 0) >= _FAILED_STATUS:
                ids.add(str(params.get("requestId", "")))
    return ids


def _masked(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_masked(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v, mask) for k, v in value.items()}
    return value


def build_har(
    entries: list[dict[str, Any]],
    mask: Callable[[str], str],
    step_of: Callable[[float], int | None],
    creator_version: str = "1",
) -> Har:
    """The HAR of ``entries`` (what the performance log returned, in order).

    ``step_of(epoch_ms)``: the step whose window a request started in (``_step``).
    ``log.pages``: one per main-frame navigation, each entry referring to the last one
    started before it.
    """
    hops, extra = _collect(entries)
    pages: list[dict[str, Any]] = []
    har_entries: list[dict[str, Any]] = []
    result = Har(document={})
    for hop in hops:
        entry = _entry(hop, extra)
        if hop.main_frame:
            pages.append(
                {
                    "startedDateTime": entry["startedDateTime"],
                    "id": f"page_{len(pages) + 1}",
                    "title": entry["request"]["url"],
                    "pageTimings": {},
                }
            )
        if pages:
            entry["pageref"] = pages[-1]["id"]
        step = step_of(hop.wall_s * 1000)
        if step is not None:
            entry["_step"] = step
        if failed(entry):
            result.failed_requests += 1
            if step is not None:
                result.failed_by_step[step] = result.failed_by_step.get(step, 0) + 1
        har_entries.append(entry)
    result.document = _masked(
        {
            "log": {
                "version": HAR_VERSION,
                "creator": {"name": "testfleet", "version": creator_version},
                "pages": pages,
                "entries": har_entries,
            }
        },
        mask,
    )
    return result
