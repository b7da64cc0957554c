"""The event stream's wire format, in one place: entries, the envelope, what clients get.

An event travels as one Redis stream entry whose id is the event ``id`` and the
resume cursor. The entry's fields (``ENTRY_FIELDS``) are the event's type,
channel, run id and project (so readers route it without decoding JSON) and its
body: the envelope as JSON *without* its id (the id is only known once Redis
assigns it). Readers splice the id in front, so the wire form, what WebSocket
and SSE clients receive, is built without re-encoding the payload::

    {"id": "1732233600000-0", "type": "test_progress", "timestamp": 1732233600000,
     "correlationId": "<case id>", "runId": "...", "projectId": "...",
     "payload": {...}, "metadata": {"source": "worker@host", "priority": "normal"}}

Both directions live here: ``entry_values`` (what one publish writes) and
``Entry.of`` (what a read gives back). Every event is written by one Lua
function, ``emit`` in ``testfleet/store/lua/prelude.lua``, used by the workers
(through the run store) and the gateway's publisher alike; the Lua spells no
field name: ``lua_layout`` hands them over as data. Which payload fields
subscriptions filter on is declared by the payload models (``testfleet.payloads``)
and, for the envelope's own fields, by ``ENVELOPE_FILTERS`` here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from testfleet.events import Event, now_ms
from testfleet.payloads import RunCompleted

# --- stream entries ------------------------------------------------------------------------

TYPE_FIELD = "t"
CHANNEL_FIELD = "c"
RUN_FIELD = "r"
PROJECT_FIELD = "p"
BODY_FIELD = "d"
ENTRY_FIELDS: tuple[str, ...] = (TYPE_FIELD, CHANNEL_FIELD, RUN_FIELD, PROJECT_FIELD, BODY_FIELD)
"""An entry's field names, in the order ``entry_values`` gives their values."""

# --- the envelope ----------------------------------------------------------------------------

ID = "id"
TYPE = "type"
TIMESTAMP = "timestamp"
CORRELATION_ID = "correlationId"
RUN_ID = "runId"
PROJECT_ID = "projectId"
PAYLOAD = "payload"
METADATA = "metadata"
SOURCE = "source"
PRIORITY = "priority"


@dataclass(frozen=True)
class EnvelopeFilter:
    """A subscription filter that reads the envelope (the entry's routing fields), not the
    payload."""

    field: str
    """The envelope field it compares."""
    kind: Literal["list", "text"]
    """``list``: strings, any of which matches; ``text``: one string."""
    runs_only: bool
    """Offered only on channels of run events (a fleet event has no run and no project)."""


RUNS_FILTER = "runIds"
TYPES_FILTER = "eventTypes"
PROJECT_FILTER = PROJECT_ID
ENVELOPE_FILTERS: dict[str, EnvelopeFilter] = {
    RUNS_FILTER: EnvelopeFilter(RUN_ID, "list", runs_only=True),
    TYPES_FILTER: EnvelopeFilter(TYPE, "list", runs_only=False),
    PROJECT_FILTER: EnvelopeFilter(PROJECT_ID, "text", runs_only=True),
}
"""The envelope's filters, by name (SPEC section 6)."""

START = "0-0"
"""The cursor before a stream's first entry."""


def envelope(event: Event) -> dict[str, Any]:
    """The envelope of ``event`` without ``id``, as stored on the stream."""
    return {
        TYPE: event.type,
        TIMESTAMP: event.timestamp_ms or now_ms(),
        CORRELATION_ID: event.correlation_id,
        RUN_ID: event.run_id,
        PROJECT_ID: event.project_id,
        PAYLOAD: event.payload,
        METADATA: {SOURCE: event.source, PRIORITY: event.priority},
    }


def body(event: Event) -> str:
    """The stored JSON of ``event`` (its envelope without id)."""
    return json.dumps(envelope(event), separators=(",", ":"))


def entry_values(event: Event) -> list[str]:
    """The values of ``event``'s entry, in ``ENTRY_FIELDS`` order (what ``emit`` writes)."""
    return [event.type, event.channel, event.run_id, event.project_id, body(event)]


NO_EVENT: tuple[str, ...] = ("",) * len(ENTRY_FIELDS)
"""``entry_values`` of no event (a script argument slot left empty)."""


def event_of(message: dict[str, Any]) -> Event:
    """An event from its wire form (as the gateway sends it)."""
    meta = message.get(METADATA) or {}
    return Event(
        type=message[TYPE],
        run_id=message.get(RUN_ID) or "",
        project_id=message.get(PROJECT_ID) or "",
        payload=message.get(PAYLOAD) or {},
        correlation_id=message.get(CORRELATION_ID),
        source=meta.get(SOURCE, ""),
        priority=meta.get(PRIORITY, "normal"),
        timestamp_ms=int(message.get(TIMESTAMP) or 0),
        id=message.get(ID),
    )


def wire_json(event_id: str, stored: str) -> str:
    """The wire form of a stored entry: its body with the id spliced in first."""
    return f'{{"{ID}":"{event_id}",{stored[1:]}'


@dataclass(frozen=True, slots=True)
class Entry:
    """One event as stored on a stream."""

    id: str
    type: str
    channel: str
    run_id: str
    project: str
    body: str
    """The envelope JSON without ``id``."""

    @classmethod
    def of(cls, entry_id: str, fields: dict[str, str]) -> Entry:
        """The entry Redis returned as ``(id, fields)``."""
        return cls(
            id=entry_id,
            type=fields.get(TYPE_FIELD, ""),
            channel=fields.get(CHANNEL_FIELD, ""),
            run_id=fields.get(RUN_FIELD, ""),
            project=fields.get(PROJECT_FIELD, ""),
            body=fields.get(BODY_FIELD, "{}"),
        )

    @classmethod
    def new(cls, entry_id: str, event: Event) -> Entry:
        """The entry publishing ``event`` writes, with the id it was given."""
        return cls.of(entry_id, dict(zip(ENTRY_FIELDS, entry_values(event), strict=True)))

    @property
    def wire(self) -> str:
        """The event as clients receive it (envelope with ``id`` first)."""
        return wire_json(self.id, self.body)

    def message(self) -> dict[str, Any]:
        """The wire form decoded (``id`` first)."""
        return {ID: self.id, **json.loads(self.body)}


# --- stream ids ------------------------------------------------------------------------------


def id_tuple(event_id: str) -> tuple[int, int]:
    """A stream id as a comparable tuple (``"5-1"`` -> ``(5, 1)``)."""
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def is_stream_id(text: str) -> bool:
    """Whether ``text`` is a Redis stream id (``<ms>-<seq>`` or ``<ms>``)."""
    ms, _, seq = text.partition("-")
    return ms.isdigit() and (seq == "" or seq.isdigit()) and len(ms) <= 20 and len(seq) <= 20


def id_before(event_id: str) -> str:
    """The id just before ``event_id`` (stream ids are ``<ms>-<seq>``)."""
    ms, seq = id_tuple(event_id)
    return f"{ms}-{seq - 1}" if seq > 0 else f"{ms - 1}-{2**64 - 1}"


# --- the Lua side ----------------------------------------------------------------------------


def lua_layout() -> dict[str, Any]:
    """The names the run store's Lua writes with (``prelude.lua``: ``STREAM``): the entry
    fields in ``entry_values`` order, and where ``run_completed``'s envelope (made in
    ``complete.lua`` from ``completion``) takes its time and its payload's fields."""
    return {
        "entry": list(ENTRY_FIELDS),
        "timestamp": TIMESTAMP,
        "payload": PAYLOAD,
        "completed": {name: name for name in RunCompleted.model_fields},
    }


def completion(run_id: str, project_id: str, source: str) -> str:
    """What ``complete.lua`` makes a run's ``run_completed`` from (JSON): its entry values
    but the body, and its envelope but the time and payload (which only the script knows)."""
    event = Event("run_completed", run_id, project_id, {}, correlation_id=run_id, source=source)
    return json.dumps(
        {"entry": entry_values(event)[:-1], "envelope": envelope(event)}, separators=(",", ":")
    )
