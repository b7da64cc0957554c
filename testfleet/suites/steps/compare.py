"""The one comparison grammar: ``equals``, ``contains``, ``matches``.

Every step that compares a value it reads from the page (text, URL, title,
attribute, value, CSS, property, selected option, dialog text, tab URL) uses
these three, with the same meaning everywhere:

- ``equals``: the same text once surrounding whitespace is trimmed and runs of
  whitespace are collapsed to one space (as a user reads it);
- ``contains``: the expected text appears in the value (whitespace collapsed
  the same way on both sides);
- ``matches``: a Python regular expression found anywhere in the value (as
  ``re.search`` finds it, for at most ``MATCH_TIMEOUT_S``; anchor it with
  ``^...$`` for a full match).

``matches`` patterns come from the suite's author and the text from the tested
page, so a pattern may backtrack for ever (``^(a|aa)+$`` on a long run of
``a``). Patterns are written in Python's ``re`` syntax and checked by ``re``'s
parser, but searched with the ``regex`` module, which accepts the same syntax,
gives up after ``MATCH_TIMEOUT_S`` and releases the interpreter lock while it
searches a ``str`` (the worker's other threads keep running). RE2 would need no
timeout, but it has no backreferences or lookaround, which existing suites' Python
patterns may use.
``regex`` writes counted repeats out as it compiles (``(?:a{65535}){65535}``
would take minutes and gigabytes), so a pattern standing for more than
``MAX_PATTERN_UNITS`` elements is refused before it is compiled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

# re's own parser, the one re.compile uses: private but present since Python 3.11, and
# the only exact reading of Python's pattern syntax (a hand-written scanner would not be).
from re import _constants as re_constants  # type: ignore[attr-defined]
from re import _parser as re_parser  # type: ignore[attr-defined]
from typing import Any

import regex

from testfleet.suites.steps.base import Match

MATCH_TIMEOUT_S = 2.0
"""Longest one ``matches`` search may take; a sane pattern needs milliseconds even on
a megabyte of page text."""
MAX_PATTERN_UNITS = 50_000
"""Elements a pattern may stand for once its counted repeats are written out
(``(?:ab){3}`` stands for 6); bounds the time and memory of compiling it to well
under a second and 100 MB."""
_REPEATS = frozenset(
    {re_constants.MAX_REPEAT, re_constants.MIN_REPEAT, re_constants.POSSESSIVE_REPEAT}
)


class PatternTooSlow(Exception):
    """A ``matches`` search ran past ``MATCH_TIMEOUT_S`` (its message says how to fix
    the pattern)."""


def normalise(text: str) -> str:
    """``text`` trimmed, runs of whitespace (newlines, tabs, nbsp) collapsed to one space."""
    return " ".join(text.split())


def _nested(value: Any) -> Iterator[Any]:
    """The sub-patterns inside one parsed node's argument (groups, branches, lookarounds)."""
    if isinstance(value, re_parser.SubPattern):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _nested(item)


def _units(pattern: Any) -> int:
    """Elements ``pattern`` (parsed) stands for with each repeat written out its least
    number of times (what ``regex`` expands; the optional rest stays a loop)."""
    total = 0
    for op, arg in pattern:
        if op in _REPEATS:
            least, _most, body = arg
            total += max(least, 1) * _units(body)
        else:
            total += 1 + sum(_units(sub) for sub in _nested(arg))
        if total > MAX_PATTERN_UNITS:
            return total  # no need to count the rest (nor to overflow on nested repeats)
    return total


def _check(expected: str) -> None:
    """Raise ``re.error`` unless ``expected`` is valid Python syntax of a bounded size
    (parsing only, linear in the pattern's length)."""
    re.compile(expected)
    if _units(re_parser.parse(expected)) > MAX_PATTERN_UNITS:
        raise re.error(
            f"stands for more than {MAX_PATTERN_UNITS:,} elements once its counted repeats "
            "are written out; use smaller counts ({n}) or an open one (+, {n,})"
        )


@lru_cache(maxsize=256)
def _pattern(expected: str) -> regex.Pattern[str]:
    """``expected`` compiled for searching; ``re.error`` when it is not usable."""
    _check(expected)
    try:
        return regex.compile(expected)
    except regex.error as exc:
        raise re.error(str(exc)) from exc


def regex_problem(expected: str) -> str | None:
    """Why ``expected`` is not a usable regular expression, or None when it is (checked
    as the suite loads; only the worker compiles it)."""
    try:
        _check(expected)
    except re.error as exc:
        return f"is not a valid regular expression: {exc}"
    except RecursionError:
        return "is not a valid regular expression: its groups are nested too deeply"
    return None


def search(expected: str, actual: str) -> bool:
    """Whether the regular expression ``expected`` is found in ``actual``, within
    ``MATCH_TIMEOUT_S``; ``PatternTooSlow`` past it."""
    try:
        return _pattern(expected).search(actual, timeout=MATCH_TIMEOUT_S) is not None
    except TimeoutError:
        raise PatternTooSlow(
            f"the regular expression /{expected}/ took longer than {MATCH_TIMEOUT_S:g} s on "
            f"a text of {len(actual):,} characters (it backtracks exponentially); anchor it "
            "and avoid nested or overlapping quantifiers such as (a+)+ or (a|aa)+"
        ) from None


def compare(actual: str, expected: str, match: Match) -> bool:
    """Whether ``actual`` satisfies ``expected`` under ``match`` (see the module docstring).

    Raises ``PatternTooSlow`` when a ``matches`` search runs past ``MATCH_TIMEOUT_S``."""
    if match == "matches":
        return search(expected, actual)
    if match == "equals":
        return normalise(actual) == normalise(expected)
    return normalise(expected) in normalise(actual)


def describe(match: Match, expected: str, negate: bool = False) -> str:
    """``to contain "x"`` / ``not to match /x/``: the phrase failure messages use."""
    verb = {"equals": "equal", "contains": "contain", "matches": "match"}[match]
    shown = f"/{expected}/" if match == "matches" else f'"{expected}"'
    return f"{'not ' if negate else ''}to {verb} {shown}"
