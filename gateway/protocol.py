"""The WebSocket protocol of SPEC §6 as pure functions: parse, validate, match, encode.

Nothing here does I/O, so the endpoint stays small and the property-based test
can throw generated garbage at ``parse`` and ``matcher`` directly. Every bad
input becomes a ``ProtocolError`` carrying the spec's error code (and the close
code when the connection must end), never another exception.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.hub import Frame
from testfleet.events import CHANNEL_TYPES, CHANNELS, TYPE_CHANNEL
from testfleet.payloads import PAYLOADS, filterable
from testfleet.stream import (
    ENVELOPE_FILTERS,
    PROJECT_FILTER,
    RUNS_FILTER,
    TYPES_FILTER,
    is_stream_id,
)

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
CLOSE_AUTH_FAILED = 3000
CLOSE_RATE_LIMITED = 3001

CHANNEL_SCOPE: dict[str, str] = {
    "test_execution": "test:read",
    "ai_analysis": "test:read",
    "dashboard_metrics": "dashboard:read",
    "system_events": "dashboard:read",
}
"""The scope a key needs to subscribe to each channel (``admin`` grants all)."""

FLEET_CHANNELS = frozenset({"dashboard_metrics", "system_events"})
"""Channels whose events may belong to no project (fleet-wide: every key with the scope)."""


@dataclass(frozen=True)
class Filter:
    """One subscription filter: the value it takes and the fields of an event it reads."""

    kind: Literal["list", "text", "number"]
    """``list``: strings, any of which matches; ``text``: one string; ``number``: a minimum."""
    paths: tuple[str, ...] = ()
    """The payload fields it reads, dotted paths of the payload models: the first one a
    payload has is compared (``statuses``: a case's ``result.status``, a run's ``status``).
    Empty for a filter of the envelope."""
    keys: bool = False
    """Match the names in the object at the field (a metric's name), not its value."""


def _derive() -> tuple[dict[str, Filter], dict[str, tuple[str, ...]]]:
    """Every filter, and the filters of each channel, from the marks on the payload models'
    fields (``testfleet.payloads.Filterable``) and the envelope's (``ENVELOPE_FILTERS``)."""
    found: dict[str, Filter] = {}
    channels: dict[str, list[str]] = {channel: [] for channel in CHANNELS}
    for event_type, model in PAYLOADS.items():
        channel = TYPE_CHANNEL[event_type]
        for path, mark in filterable(model):
            if mark.channel not in (None, channel):
                continue
            known = found.get(mark.name, Filter(mark.kind, keys=mark.keys))
            if path not in known.paths:
                known = Filter(known.kind, (*known.paths, path), known.keys)
            found[mark.name] = known
            if mark.name not in channels[channel]:
                channels[channel].append(mark.name)
    for name, envelope in ENVELOPE_FILTERS.items():
        found[name] = Filter(envelope.kind)
        for channel in CHANNELS:
            if channel not in FLEET_CHANNELS or not envelope.runs_only:
                channels[channel].append(name)
    return found, {channel: tuple(names) for channel, names in channels.items()}


FILTERS, CHANNEL_FILTERS = _derive()
"""Every filter by name (what it takes and the fields it reads), and the filters each
channel advertises and takes (SPEC section 6)."""

RETIRED_FILTERS: dict[str, str] = {
    "userId": "no event names a user; a key sees only its own project's events "
    "(filter by projectId, runIds or tags)",
    "dashboardId": "no event names a dashboard; dashboard_metrics events are the fleet's "
    "(filter by metricTypes)",
}
"""Filters SPEC section 6 names that no event carries a field for: refused, saying why."""
MAX_BATCH_SIZE = 1000
MAX_WINDOW_MS = 10_000


class ProtocolError(Exception):
    """A client mistake, as the error envelope of SPEC §6 (and a close code if fatal)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        close: int | None = None,
        details: dict[str, Any] | None = None,
        retry_after_s: float | None = None,
        severity: str = "error",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close = close
        self.details = details or {}
        self.retry_after_s = retry_after_s
        self.severity = severity

    def frame(self, request_id: str | None = None) -> str:
        """The ``error`` message for the client."""
        return error_frame(
            self.code,
            self.message,
            details=self.details,
            retry_after_s=self.retry_after_s,
            severity=self.severity,
            request_id=request_id,
        )


def slow_consumer(message: str, subscription_id: str, last_event_id: str | None) -> ProtocolError:
    """The error a client gets when the hub dropped it for falling a whole queue behind:
    it says where to resume from, then the connection is closed (policy)."""
    return ProtocolError(
        "SERVER_ERROR",
        message,
        close=CLOSE_POLICY,
        severity="warning",
        details={
            "reason": "slow_consumer",
            "subscriptionId": subscription_id,
            "lastEventId": last_event_id,
        },
    )


def error_frame(
    code: str,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    retry_after_s: float | None = None,
    severity: str = "error",
    request_id: str | None = None,
) -> str:
    """``{"type":"error","payload":{code,message,details,retryAfter,severity}}``."""
    out: dict[str, Any] = {"type": "error"}
    if request_id is not None:
        out["id"] = request_id
    out["payload"] = {
        "code": code,
        "message": message,
        "details": details or {},
        "retryAfter": retry_after_s,
        "severity": severity,
    }
    return dumps(out)


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def _bad(message: str, **details: Any) -> ProtocolError:
    return ProtocolError("INVALID_MESSAGE_FORMAT", message, details=details)


@dataclass(frozen=True)
class Message:
    """A client message that has the envelope's shape: ``{"type", "id"?, "payload"?}``."""

    type: str
    id: str | None
    payload: dict[str, Any]


def parse(text: str) -> Message:
    """The envelope of one client text frame; ``ProtocolError`` when it is not one."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise _bad('the message is not JSON; send {"type": ..., "payload": {...}}') from None
    if not isinstance(data, dict):
        raise _bad('the message must be a JSON object with a "type"')
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise _bad('"type" is required and must be a string (auth, subscribe, ...)')
    request_id = data.get("id")
    if request_id is not None and not isinstance(request_id, (str, int)):
        raise _bad('"id" must be a string')
    payload = data.get("payload", {})
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise _bad('"payload" must be a JSON object', type=kind)
    return Message(kind, None if request_id is None else str(request_id), payload)


def auth_key(message: Message) -> str:
    """The API key of an ``auth`` message."""
    key = message.payload.get("apiKey", message.payload.get("token"))
    if not isinstance(key, str) or not key:
        raise ProtocolError(
            "AUTH_FAILED",
            'send {"type":"auth","payload":{"apiKey":"KEY"}} first',
            close=CLOSE_AUTH_FAILED,
        )
    return key


@dataclass(frozen=True)
class Batch:
    size: int
    window_ms: int


@dataclass(frozen=True)
class SubscribeRequest:
    """A validated ``subscribe`` payload."""

    channel: str
    filters: dict[str, Any] = field(default_factory=dict)
    since: str | None = None
    include_history: bool = False
    batch: Batch | None = None


def _strings(name: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"filter {name} must be a list of strings", filter=name)
    return frozenset(value)


def validate_filters(channel: str, raw: Any) -> dict[str, Any]:
    """The filters of ``channel`` from ``raw``, with lists as sets; rejects unknown names."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad("filters must be a JSON object")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        known = CHANNEL_FILTERS[channel]
        if name in RETIRED_FILTERS:
            raise _bad(f"filter {name} is not supported: {RETIRED_FILTERS[name]}", filter=name)
        if name not in known:
            raise _bad(
                f"unknown filter {name!r} for channel {channel}; known: {', '.join(known)}",
                filter=name,
            )
        kind = FILTERS[name].kind
        if kind == "list":
            out[name] = _strings(name, value)
        elif kind == "text":
            if not isinstance(value, str):
                raise _bad(f"filter {name} must be a string", filter=name)
            out[name] = value
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _bad(f"filter {name} must be a number", filter=name)
            out[name] = float(value)
    types = out.get(TYPES_FILTER)
    if types is not None and not types <= set(CHANNEL_TYPES[channel]):
        raise _bad(
            f"{TYPES_FILTER} of {channel} are {', '.join(CHANNEL_TYPES[channel])}",
            filter=TYPES_FILTER,
        )
    return out


def _int(options: dict[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"{name} must be an integer from {low} to {high}", option=name)
    return value


def subscribe_request(payload: dict[str, Any]) -> SubscribeRequest:
    """Validate a ``subscribe`` payload (channel, filters, options)."""
    channel = payload.get("channel")
    if not isinstance(channel, str) or channel not in CHANNELS:
        raise ProtocolError(
            "CHANNEL_NOT_FOUND",
            f"no channel {channel!r}; channels are {', '.join(CHANNELS)}",
            details={"channel": channel if isinstance(channel, str) else None},
        )
    filters = validate_filters(channel, payload.get("filters"))
    options = payload.get("options") or {}
    if not isinstance(options, dict):
        raise _bad("options must be a JSON object")
    since = options.get("since")
    if since is not None and (not isinstance(since, str) or not is_stream_id(since)):
        raise _bad('options.since must be an event id such as "1732233600000-0"')
    history = options.get("includeHistory", False)
    if not isinstance(history, bool):
        raise _bad("options.includeHistory must be true or false")
    batch_raw = options.get("batch")
    batch = None
    if batch_raw not in (None, False):
        if not isinstance(batch_raw, dict):
            raise _bad('options.batch must be {"size": N, "windowMs": MS}')
        batch = Batch(
            size=_int(batch_raw, "size", 1, MAX_BATCH_SIZE, 50),
            window_ms=_int(batch_raw, "windowMs", 0, MAX_WINDOW_MS, 50),
        )
    return SubscribeRequest(channel, filters, since, history, batch)


def _has(values: frozenset[str], value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, str) and v in values for v in value)
    return isinstance(value, str) and value in values


_MISSING = object()


def _at(payload: dict[str, Any], path: str) -> Any:
    """The value at dotted ``path`` of ``payload``, or ``_MISSING``."""
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _read(payload: dict[str, Any], spec: Filter) -> Any:
    """What filter ``spec`` compares in ``payload`` (None when the payload has nothing)."""
    value = next((v for v in (_at(payload, p) for p in spec.paths) if v is not _MISSING), None)
    if value is None:
        return None
    if spec.keys:
        return list(value) if isinstance(value, dict) else None
    return value


def matcher(channel: str, filters: dict[str, Any], project: str) -> Callable[[Frame], bool]:
    """Whether a frame goes to a subscription of ``channel`` held by a key of ``project``.

    Project isolation comes first and no filter can widen it: an event of
    another project never matches; fleet-wide events (no project) reach only
    the fleet channels.
    """
    fleet_ok = channel in FLEET_CHANNELS
    wanted_project = filters.get(PROJECT_FILTER)
    if wanted_project is not None and wanted_project != project:
        return lambda _frame: False
    types: frozenset[str] = filters.get(TYPES_FILTER) or frozenset(CHANNEL_TYPES[channel])
    runs: frozenset[str] | None = filters.get(RUNS_FILTER)
    of_payload = [(FILTERS[name], v) for name, v in filters.items() if FILTERS[name].paths]
    payload_filters = [(spec, v) for spec, v in of_payload if spec.kind == "list"]
    minimums = [(spec, v) for spec, v in of_payload if spec.kind == "number"]

    def match(frame: Frame) -> bool:
        entry = frame.entry
        if entry.type not in types:
            return False
        if entry.project != project and not (fleet_ok and entry.project == ""):
            return False
        if runs is not None and entry.run_id not in runs:
            return False
        if not of_payload:
            return True
        payload = frame.payload
        for spec, values in payload_filters:
            if not _has(values, _read(payload, spec)):
                return False
        for spec, minimum in minimums:
            # An event without the figure passes: a minimum only keeps out lower ones.
            value = _read(payload, spec)
            if isinstance(value, (int, float)) and value < minimum:
                return False
        return True

    return match


def batch_frame(wires: list[str], subscription_id: str | None = None) -> str:
    """``{"type":"batch","subscriptionId"?,"count","timestamp","events"}`` from events'
    shared wire text; the subscription id tells a client with several subscriptions
    which one the events are for (and so which resume cursor they move)."""
    now_ms = int(time.time() * 1000)
    sid = f'"subscriptionId":"{subscription_id}",' if subscription_id else ""
    return (
        f'{{"type":"batch",{sid}"count":{len(wires)},"timestamp":{now_ms},"events":['
        + ",".join(wires)
        + "]}"
    )


def gap_frame(
    after: str, first_available: str, subscription_id: str | None = None, capped: bool = False
) -> str:
    """The explicit notice that events after ``after`` were trimmed away, or left out of a
    replay longer than ``gateway.replay_max_events`` (``capped``)."""
    message: dict[str, Any] = {"type": "gap"}
    if subscription_id is not None:
        message["subscriptionId"] = subscription_id
    message["payload"] = gap_payload(after, first_available, capped)
    return dumps(message)


def gap_payload(after: str, first_available: str, capped: bool) -> dict[str, Any]:
    """What a ``gap`` notice says (WebSocket and SSE alike)."""
    why = (
        "were more than a replay may send (TESTFLEET_GATEWAY__REPLAY_MAX_EVENTS); only the "
        "newest are replayed"
        if capped
        else "were trimmed"
    )
    return {
        "lastEventId": after,
        "firstAvailableId": first_available,
        "reason": "replay_capped" if capped else "trimmed",
        "message": f"events after lastEventId {why}; delivery continues from "
        "firstAvailableId (fetch the run's state over the API)",
    }
