"""Failure signatures: one error, stripped of what varies between occurrences, with
the failing step's kind and selector, hashed.

Two failures with one signature are one cause ("14 failures, 1 cause"), across tests
and runs. What varies and is stripped, in this order (each rule sees the text the
previous ones left):

1. URLs: their query string and fragment (``/search?q=alice#top`` -> ``/search``);
   their path ids go with the id and number rules below;
2. quoted values (``"..."``, ``'...'``, ```...```, ``“...”``), up to the closing quote on
   the same line: what a page said is the variable part of an assertion's message;
3. timestamps (ISO 8601 dates and times, clock times);
4. UUIDs (``<id>``);
5. durations (a number with a time unit: ``1500ms``, ``2.5 s``, ``10 seconds``);
6. numbers (counts, indexes, ports, coordinates) and hex ids (8 or more hex digits:
   hashes, addresses, epoch milliseconds), both ``<n>``: an id may be all digits, and
   must not read as another cause when it is;

then whitespace is collapsed. The selector is kept as written: a different element
is a different cause. Pure functions: nothing here reads a database.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

DIGEST_HEX_CHARS = 16
"""Length of a signature's hash: 64 bits, no collision among a project's causes."""
_FIELD_SEPARATOR = "\x1f"

_URL = re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s\"'`<>?#]*)[?#][^\s\"'`<>]*", re.IGNORECASE)
_QUOTED = re.compile(r"\"[^\"\n]*\"|(?<!\w)'[^'\n]*'(?!\w)|`[^`\n]*`|“[^”\n]*”")
_TIMESTAMP = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2}\b)?"
    r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2}\b)?",
    re.IGNORECASE,
)
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_HEX_ID = re.compile(r"\b(?:0x[0-9a-f]+|[0-9a-f]{8,})\b", re.IGNORECASE)
_DURATION = re.compile(
    r"\b\d+(?:\.\d+)?\s?"
    r"(?:ms|milliseconds?|millis|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_SPACE = re.compile(r"\s+")

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_URL, r"\1"),
    (_QUOTED, '"…"'),
    (_TIMESTAMP, "<time>"),
    (_UUID, "<id>"),
    (_DURATION, "<duration>"),
    (_HEX_ID, "<n>"),
    (_NUMBER, "<n>"),
)
"""(pattern, replacement) in the order they apply (the module's docstring says why)."""


@dataclass(frozen=True)
class Signature:
    """A failure's cause: ``digest`` to group by, ``text`` to show."""

    digest: str
    """``DIGEST_HEX_CHARS`` hex digits of SHA-256 over kind, selector and normalised error."""
    text: str
    """``<kind> <selector>: <normalised error>``, readable in a table of clusters."""


def normalise(error: str) -> str:
    """``error`` with its variable parts replaced by placeholders and its whitespace
    collapsed (the rules in the module's docstring)."""
    text = error
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return _SPACE.sub(" ", text).strip()


def signature(error: str | None, step_kind: str | None, selector: str | None) -> Signature:
    """The signature of a failure: its error (None: a failure without a message), the
    failing step's kind (``click``, ``assert_text``; None when no step failed: a
    timeout, a lost worker) and that step's selector (None when it has none)."""
    normalised = normalise(error or "")
    kind = (step_kind or "").strip()
    where = (selector or "").strip()
    hashed = _FIELD_SEPARATOR.join((kind, where, normalised)).encode("utf-8")
    digest = hashlib.sha256(hashed).hexdigest()[:DIGEST_HEX_CHARS]
    head = " ".join(part for part in (kind, where) if part)
    return Signature(digest=digest, text=f"{head}: {normalised}" if head else normalised)
