"""chromedriver browser-log entries -> the trace's console lines (``console.jsonl``).

An entry's ``message`` is one string: ``"<url> <line>:<col> <text>"`` for a page's
console call or uncaught error, ``"<url> - <text>"`` for a failed load or a Chromium
notice, and ``console-api <line>:<col> <text>`` for lines of scripts the driver ran.
A console call's first string argument comes JSON-quoted (``"hello" Object 42``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

__all__ = ["ConsoleLine", "console_line", "is_error", "iso_time"]

Level = Literal["debug", "info", "warning", "error"]

_LEVELS: dict[str, Level] = {
    "ALL": "debug",
    "FINEST": "debug",
    "FINER": "debug",
    "FINE": "debug",
    "DEBUG": "debug",
    "CONFIG": "info",
    "INFO": "info",
    "WARNING": "warning",
    "SEVERE": "error",
}
_LOCATED = re.compile(r"^(?P<url>\S+) (?P<line>\d+):(?P<column>\d+) (?P<text>.*)$", re.DOTALL)
_UNLOCATED = re.compile(r"^(?P<url>\S+) - (?P<text>.*)$", re.DOTALL)
_SCRIPT_URL = "console-api"
"""What stands where the URL would for a line of a script WebDriver ran."""


class _Required(TypedDict):
    time: str
    level: Level
    text: str
    source: str


class ConsoleLine(_Required, total=False):
    """One line of ``console.jsonl``; ``url``, ``line``, ``column``, ``step`` when known."""

    url: str
    line: int
    column: int
    step: int


def iso_time(epoch_ms: float) -> str:
    """``epoch_ms`` as ISO 8601 UTC with milliseconds (``2026-12-07T18:00:00.123Z``)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _unquote(text: str) -> str:
    """The text with a leading JSON-quoted string argument unquoted (``"a" 1`` -> ``a 1``)."""
    if not text.startswith('"'):
        return text
    try:
        first, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return text
    return str(first) + text[end:] if isinstance(first, str) else text


def console_line(entry: dict[str, Any], mask: Callable[[str], str]) -> ConsoleLine:
    """One browser-log ``entry`` as a console line, every text passed through ``mask``."""
    message = str(entry.get("message", ""))
    line = ConsoleLine(
        time=iso_time(float(entry.get("timestamp", 0))),
        level=_LEVELS.get(str(entry.get("level", "")).upper(), "info"),
        text=message,
        source=str(entry.get("source") or "other"),
    )
    located = _LOCATED.match(message)
    unlocated = None if located else _UNLOCATED.match(message)
    if located:
        line["text"] = _unquote(located["text"])
        if located["url"] != _SCRIPT_URL:
            line["url"] = located["url"]
        line["line"], line["column"] = int(located["line"]), int(located["column"])
    elif unlocated:
        line["text"] = unlocated["text"]
        line["url"] = unlocated["url"]
    line["text"] = mask(line["text"])
    if "url" in line:
        line["url"] = mask(line["url"])
    return line


def is_error(line: ConsoleLine) -> bool:
    """A console error: ``console.error``, an uncaught error, a failed load."""
    return line["level"] == "error"
