"""Checking what producers publish against the event payload models and the published schema.

Every test that reads events a producer wrote (a case's, the run store's, the
gateway publisher's) can pass them through ``checked``: each must validate
against ``payloads.events_schema()`` (what integrators are given) and parse
into its type's model with no field the model does not declare.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

import jsonschema

from testfleet import payloads


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = payloads.events_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check_event(event: dict[str, Any]) -> None:
    """Fail (AssertionError) unless ``event`` (wire form) matches the schema and its model."""
    errors = sorted(_validator().iter_errors(event), key=lambda e: list(e.path))
    assert not errors, f"{event.get('type')} {event.get('id')}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors
    )
    typed = payloads.parse(event["type"], event["payload"])
    extra = payloads.unknown_fields(typed)
    assert not extra, f"{event['type']} {event.get('id')} has undeclared fields {extra}"


def checked(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``events`` as a list, each checked by ``check_event``."""
    out = list(events)
    for event in out:
        check_event(event)
    return out
