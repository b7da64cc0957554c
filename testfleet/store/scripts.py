"""The run store's Lua scripts: ``.lua`` files shipped as package data, read once.

Every script is ``prelude.lua`` (the argument layout, ``emit`` and the status
rules) followed by its own file; ``finish`` and ``cancel`` share ``complete.lua``
(a case's final status and the run's completion). Neither the status rules nor
the stream's field names are written in Lua: they come as the first argument of
every call (``script_data``: the rules from ``testfleet.results``, the names from
``testfleet.stream``), so Redis and Python apply the same definitions.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from testfleet import keys, stream
from testfleet.events import Event
from testfleet.results import FINAL_STATUSES, RUN_OUTCOME_OTHERWISE, RUN_OUTCOMES
from testfleet.settings import Settings

_PARTS: dict[str, tuple[str, ...]] = {
    "publish": ("prelude.lua", "publish.lua"),
    "begin": ("prelude.lua", "begin.lua"),
    "update": ("prelude.lua", "update.lua"),
    "finish": ("prelude.lua", "complete.lua", "finish.lua"),
    "cancel": ("prelude.lua", "complete.lua", "cancel.lua"),
}
NAMES: tuple[str, ...] = tuple(_PARTS)
"""Every script the store registers."""


@cache
def _read(file_name: str) -> str:
    return files(__package__ or "testfleet.store").joinpath("lua", file_name).read_text("utf-8")


@cache
def source(name: str) -> str:
    """The full Lua text of script ``name`` (one of ``NAMES``), read once per process."""
    return "\n".join(_read(part) for part in _PARTS[name])


@cache
def status_rules() -> str:
    """The final statuses and the run outcome rules (JSON)."""
    return json.dumps(
        {
            "final": sorted(FINAL_STATUSES),
            "outcomes": [[status, sorted(cases)] for status, cases in RUN_OUTCOMES],
            "otherwise": RUN_OUTCOME_OTHERWISE,
        },
        separators=(",", ":"),
    )


@cache
def script_data() -> str:
    """``ARGV[1]`` of every script (JSON): ``rules`` (``status_rules``), ``stream``, the
    names events are written with (``testfleet.stream.lua_layout``), and ``archive_field``,
    the run id's field in the archive stream (``keys.ARCHIVE_RUN_FIELD``)."""
    return json.dumps(
        {
            "rules": json.loads(status_rules()),
            "stream": stream.lua_layout(),
            "archive_field": keys.ARCHIVE_RUN_FIELD,
        },
        separators=(",", ":"),
    )


def common_args(settings: Settings) -> list[Any]:
    """``ARGV[1..4]`` of every script (``lua/prelude.lua``)."""
    return [
        script_data(),
        settings.redis.stream_maxlen,
        settings.redis.run_stream_maxlen,
        settings.retention.run_ttl_s,
    ]


def publish_call(settings: Settings, event: Event) -> tuple[list[str], list[Any]]:
    """The keys and arguments of the ``publish`` script for ``event``: the one way an event
    is published outside a state change (the run store's ``publish``, the gateway's
    fleet events; an event of no run goes to the global stream only)."""
    run_stream = keys.run_events(event.run_id) if event.run_id else keys.EVENTS_STREAM
    return [keys.EVENTS_STREAM, run_stream], common_args(settings) + stream.entry_values(event)
