"""The run store's Lua scripts: ``.lua`` files shipped as package data, read once.

Every script is ``prelude.lua`` (the argument layout, ``emit`` and the status
rules) followed by its own file; ``finish`` and ``cancel`` share ``complete.lua``
(a case's final status and the run's completion). The status rules are not
written in Lua: they come from ``testfleet.results`` as the first argument of
every call (``status_rules``), so Redis and Python apply the same definition.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

from testfleet.results import FINAL_STATUSES, RUN_OUTCOME_OTHERWISE, RUN_OUTCOMES

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
    """``ARGV[1]`` of every script: the final statuses and the run outcome rules (JSON)."""
    return json.dumps(
        {
            "final": sorted(FINAL_STATUSES),
            "outcomes": [[status, sorted(cases)] for status, cases in RUN_OUTCOMES],
            "otherwise": RUN_OUTCOME_OTHERWISE,
        },
        separators=(",", ":"),
    )
