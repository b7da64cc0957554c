"""The one comparison grammar: ``equals``, ``contains``, ``matches``.

Every step that compares a value it reads from the page (text, URL, title,
attribute, value, CSS, property, selected option, dialog text, tab URL) uses
these three, with the same meaning everywhere:

- ``equals``: the same text once surrounding whitespace is trimmed and runs of
  whitespace are collapsed to one space (as a user reads it);
- ``contains``: the expected text appears in the value (whitespace collapsed
  the same way on both sides);
- ``matches``: a Python regular expression found anywhere in the value
  (``re.search``; anchor it with ``^...$`` for a full match).
"""

from __future__ import annotations

import re
from functools import lru_cache

from testfleet.steps.base import Match


def normalise(text: str) -> str:
    """``text`` trimmed, runs of whitespace (newlines, tabs, nbsp) collapsed to one space."""
    return " ".join(text.split())


@lru_cache(maxsize=256)
def _pattern(expected: str) -> re.Pattern[str]:
    return re.compile(expected)


def regex_problem(expected: str) -> str | None:
    """Why ``expected`` is not a usable regular expression, or None when it is."""
    try:
        _pattern(expected)
    except re.error as exc:
        return f"is not a valid regular expression: {exc}"
    return None


def compare(actual: str, expected: str, match: Match) -> bool:
    """Whether ``actual`` satisfies ``expected`` under ``match`` (see the module docstring)."""
    if match == "matches":
        return _pattern(expected).search(actual) is not None
    if match == "equals":
        return normalise(actual) == normalise(expected)
    return normalise(expected) in normalise(actual)


def describe(match: Match, expected: str, negate: bool = False) -> str:
    """``to contain "x"`` / ``not to match /x/``: the phrase failure messages use."""
    verb = {"equals": "equal", "contains": "contain", "matches": "match"}[match]
    shown = f"/{expected}/" if match == "matches" else f'"{expected}"'
    return f"{'not ' if negate else ''}to {verb} {shown}"
