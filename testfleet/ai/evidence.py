"""What a failure analysis shows the model of the browser's evidence, and what it cites.

The failing step's console errors and failed requests (``testfleet.evidence.failure``,
already masked) are numbered ``C1, C2, ...`` and ``R1, R2, ...`` in one text block of
at most ``ai.max_evidence_chars`` characters. Entries are taken most relevant first,
console errors and requests in turn, so neither kind crowds the other out; an entry
longer than ``MAX_ENTRY_CHARS`` is cut. What was left out is said in the block, so the
model knows it saw part of the log. The block is part of the question: the analysis
cache key includes it, so a different console error is never answered from the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest

from testfleet.evidence.failure import EvidenceItem, EvidenceKind, FailureEvidence
from testfleet.results import AiCitation

__all__ = ["MAX_ENTRY_CHARS", "ShownEvidence", "cited", "show_evidence"]

MAX_ENTRY_CHARS = 400
"""The longest one entry is shown (a long stack or a URL with a huge query is cut)."""
_PREFIX: dict[EvidenceKind, str] = {"console": "C", "request": "R"}
_HEADINGS: dict[EvidenceKind, str] = {"console": "Console errors:", "request": "Failed requests:"}
_HEADER = (
    "Browser evidence up to the failing step {step}, most relevant first (the failing "
    "step's own entries, then earlier steps', latest first). Use it to explain the "
    "failure, and list the entries your explanation rests on in citations (kind console "
    "for a C entry, request for an R entry, and its number)."
)


@dataclass(frozen=True)
class ShownEvidence:
    """The evidence as sent: its text block, and the entries by kind in shown order."""

    text: str
    console: tuple[str, ...]
    requests: tuple[str, ...]

    @property
    def approx_tokens(self) -> int:
        """What the block adds to the request, roughly (4 characters a token)."""
        return len(self.text) // 4


def _line(item: EvidenceItem) -> str:
    step = f"[step {item.step}] " if item.step is not None else ""
    text = " ".join(item.text.split())
    if len(text) > MAX_ENTRY_CHARS:
        text = f"{text[:MAX_ENTRY_CHARS]}... [cut, {len(text)} chars in all]"
    return step + text


def _count(n: int, kind: str) -> str:
    return f"{n} {kind}{'' if n == 1 else 's'}"


def show_evidence(evidence: FailureEvidence, max_chars: int) -> ShownEvidence | None:
    """``evidence`` as it fits in ``max_chars`` (None when ``max_chars`` is 0: none is sent).

    No console error and no failed request is said too: it rules out a broken backend."""
    if max_chars <= 0:
        return None
    header = _HEADER.format(step=evidence.step)
    if not evidence.console and not evidence.requests:
        text = (
            f"Browser evidence up to the failing step {evidence.step}: no console error "
            "was logged and no request failed."
        )
        return ShownEvidence(text, (), ())

    def note(console: int, requests: int) -> str:
        return (
            f"Left out to keep this under {max_chars} characters: "
            f"{_count(console, 'console error')} and {_count(requests, 'failed request')}."
        )

    # Room for the entries: what the header, both headings and the longest note leave.
    worst = note(len(evidence.console), len(evidence.requests))
    room = max_chars - len(header) - len(_HEADINGS["console"]) - len(_HEADINGS["request"])
    room -= len(worst) + 4
    shown: dict[EvidenceKind, list[str]] = {"console": [], "request": []}
    left_out: dict[EvidenceKind, int] = {"console": 0, "request": 0}
    for pair in zip_longest(evidence.console, evidence.requests):
        for item in pair:
            if item is None:
                continue
            line = _line(item)
            # Each line costs its text, its number ("C12 ") and a newline.
            cost = len(line) + 6
            if cost > room:
                left_out[item.kind] += 1
                continue
            room -= cost
            shown[item.kind].append(line)
    parts = [header]
    for kind, lines in shown.items():
        if lines:
            parts.append(_HEADINGS[kind])
            parts += [f"{_PREFIX[kind]}{n} {line}" for n, line in enumerate(lines, 1)]
    if left_out["console"] or left_out["request"]:
        parts.append(note(left_out["console"], left_out["request"]))
    return ShownEvidence("\n".join(parts), tuple(shown["console"]), tuple(shown["request"]))


def cited(shown: ShownEvidence | None, raw: object) -> list[AiCitation]:
    """The model's ``citations`` as entries it was shown; a citation of an entry that was
    not shown (a wrong kind or number) is dropped, so no finding cites an invented line."""
    if shown is None or not isinstance(raw, list):
        return []
    out: list[AiCitation] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        kind, index = item.get("kind"), item.get("index")
        lines = {"console": shown.console, "request": shown.requests}.get(str(kind))
        if lines is None or not isinstance(index, int) or not 1 <= index <= len(lines):
            continue
        citation = AiCitation.model_validate(
            {"kind": kind, "index": index, "text": lines[index - 1]}
        )
        if citation not in out:
            out.append(citation)
    return out
