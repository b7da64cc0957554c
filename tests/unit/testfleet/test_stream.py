"""``testfleet.stream`` owns the stream's wire format: the entry codec both ways, the wire
form, the names the Lua writes with; and nothing else spells those names (issue 29)."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from testfleet import stream
from testfleet.events import Event
from testfleet.payloads import PAYLOADS, RunCompleted, field_paths
from testfleet.store import scripts

ROOT = Path(__file__).resolve().parents[3]
PRODUCT = ("testfleet", "api", "cli", "workers", "grid", "gateway", "demosite")
OWNERS = {"testfleet/stream.py", "testfleet/events.py", "testfleet/payloads.py"}
"""The modules that may spell the names: the stream, the event model, the payload models."""
LUA = ROOT / "testfleet" / "store" / "lua"

ENVELOPE_NAMES = {
    stream.ID,
    stream.TYPE,
    stream.TIMESTAMP,
    stream.CORRELATION_ID,
    stream.RUN_ID,
    stream.PROJECT_ID,
    stream.PAYLOAD,
    stream.METADATA,
    stream.SOURCE,
    stream.PRIORITY,
}


def event() -> Event:
    return Event(
        "test_progress",
        "r1",
        "alpha",
        {"testId": "c1", "note": 'quotes " and \\ and ü'},
        correlation_id="c1",
        source="worker@host",
        timestamp_ms=1732233600000,
    )


def test_an_entry_reads_back_what_was_written_and_its_wire_form_puts_the_id_first() -> None:
    written = event()
    fields = dict(zip(stream.ENTRY_FIELDS, stream.entry_values(written), strict=True))
    entry = stream.Entry.of("5-1", fields)
    assert (entry.type, entry.channel, entry.run_id, entry.project) == (
        "test_progress",
        "test_execution",
        "r1",
        "alpha",
    )
    assert entry == stream.Entry.new("5-1", written)
    wire = json.loads(entry.wire)
    assert next(iter(wire)) == "id"
    assert wire == entry.message() == {"id": "5-1", **stream.envelope(written)}
    read = stream.event_of(wire)
    assert read == dataclasses.replace(written, id="5-1")


def test_the_lua_is_given_the_entry_names_and_run_completed_fields_as_data() -> None:
    data = json.loads(scripts.script_data())
    assert data["stream"]["entry"] == list(stream.ENTRY_FIELDS)
    assert set(data["stream"]["completed"].values()) == set(RunCompleted.model_fields)
    completion = json.loads(stream.completion("r1", "alpha", "store@host"))
    assert completion["entry"] == ["run_completed", "test_execution", "r1", "alpha"]
    assert completion["envelope"][stream.CORRELATION_ID] == "r1"


# --- nothing else spells the names ---------------------------------------------------------


def _other_models_fields() -> set[str]:
    """Field names of the product's other models (the REST API's, the run store's): a name
    one of them shares with an event (``runId``) cannot be told apart by its spelling."""
    import api.app  # noqa: F401  (imported for the models they declare)
    import cli.main  # noqa: F401
    import gateway.app  # noqa: F401
    import workers.tasks  # noqa: F401

    def subclasses(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
        for sub in model.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return {
        name
        for model in subclasses(BaseModel)
        if model.__module__.split(".")[0] in PRODUCT and model.__module__ != "testfleet.payloads"
        for name in model.model_fields
    }


def event_names() -> set[str]:
    """The wire names that are the events' own: camelCase payload and envelope fields (the
    lower-case ones, ``type`` or ``status``, are every protocol's words), less those another
    model of the product also declares."""
    paths = {path.split(".")[-1] for model in PAYLOADS.values() for path in field_paths(model)}
    camel = {name for name in paths | ENVELOPE_NAMES if re.search("[A-Z]", name)}
    return camel - _other_models_fields()


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            found.add(id(first.value))
    return found


def _entry_field_uses(tree: ast.AST) -> Iterator[ast.Constant]:
    """String constants used as an entry's field: ``f["d"]``, ``f.get("t")``, ``{"r": ...}``."""
    names = set(stream.ENTRY_FIELDS)
    for node in ast.walk(tree):
        candidates: list[ast.expr | None] = []
        if isinstance(node, ast.Subscript):
            candidates = [node.slice]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("get", "pop") and node.args:
                candidates = [node.args[0]]
        elif isinstance(node, ast.Dict):
            candidates = list(node.keys)
        for c in candidates:
            if isinstance(c, ast.Constant) and c.value in names:
                yield c


def test_no_product_module_but_the_owners_spells_a_stream_or_event_field_name() -> None:
    names = event_names()
    assert {"correlationId", "testId", "analysisType", "stepNumber"} <= names
    spelled: list[str] = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if where in OWNERS:
                continue
            tree = ast.parse(path.read_text("utf-8"))
            docs = _docstrings(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and node.value in names and id(node) not in docs:
                    spelled.append(f"{where}:{node.lineno}: {node.value!r}")
            spelled += [
                f"{where}:{c.lineno}: entry field {c.value!r}" for c in _entry_field_uses(tree)
            ]
    assert spelled == [], "use testfleet.stream / testfleet.payloads instead"


def test_the_lua_spells_no_stream_or_event_field_name() -> None:
    names = set(stream.ENTRY_FIELDS) | ENVELOPE_NAMES | event_names()
    spelled = [
        f"{path.name}: {quoted[1:-1]!r}"
        for path in sorted(LUA.glob("*.lua"))
        for quoted in re.findall(r"'[^']*'|\"[^\"]*\"", path.read_text("utf-8"))
        if quoted[1:-1] in names
    ]
    assert spelled == [], "pass the names in (testfleet.stream.lua_layout)"
