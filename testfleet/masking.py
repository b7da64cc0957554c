"""Masking secrets in any text: the one place that knows what a secret can look like.

A value typed with ``secret: true`` must never leave in clear, but pages, URLs
and error messages rarely show it exactly as typed. ``Masker`` replaces, with
``***``, each secret in every form it is likely to take on its way out:

- as typed, in any case (CSS ``text-transform`` shows it upper-, lower- or
  title-cased in page text: secrets are matched case-insensitively);
- with its whitespace changed or collapsed (``"a  b\\n c"`` shown as ``"a b c"``:
  error messages and page text are whitespace-normalised);
- URL-encoded, in either form (``%20`` or ``+`` for a space; any mix of
  percent-encoded and plain characters, hex in either case), as a form submitted
  with GET or a redirect puts it in the address bar;
- HTML-escaped (``&amp;``, ``&lt;``, ``&quot;``, ``&#39;``, ``&#233;`` ...), as page
  source and reports show it;
- JSON-escaped (``\\"``, ``\\\\``, ``\\/``, ``\\n``, ``\\u00e9``), as API answers
  and scripts' results show it;
- escaped twice by any two of the three (``%2520``, ``&amp;amp;``, ``%26amp%3B``,
  ``\\\\\\"``): a value passed on through a second layer;
- base64-encoded (standard or URL-safe alphabet, padded or not), alone or
  anywhere inside a longer base64 text (``Authorization: Basic`` of
  ``user:secret``), and that text escaped as above. The characters that carry
  any of the secret's bits are masked, those the neighbouring bytes share too.

Mask *before* shortening or normalising anything: a secret cut in half by a
length limit no longer matches any of its forms. Screenshots cannot be masked
(a secret shown on the page is in the picture). Not covered: other encodings
(hex, base32, a hash), base64 of an escaped secret (a JWT of a JSON holding it),
and a secret whose base64 form has fewer than four characters of its own.

Cost: a form is looked for only in texts that contain, ignoring case, its longest
run of ASCII letters and digits (which no escaping above changes), so masking a
text is one lower-casing and a few substring searches per secret, and a form's
pattern is compiled only once a text might hold it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache, cached_property

MASK = "***"
"""What a secret is replaced with."""

_DEPTH = 2
"""Escapes applied on top of each other that are still recognised (``é`` -> ``%C3%A9``
-> ``%25C3%25A9``)."""
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_SPACES = [chr(c) for c in range(0x3000 + 1) if chr(c).isspace()]
"""The characters ``str.split`` splits on."""
_COMMON_SPACES = " \t\n\r\xa0"
"""Spaces recognised escaped twice (the others once: they are rare, and each costs)."""
_NAMED = {
    "&": ("&amp;",),
    "<": ("&lt;",),
    ">": ("&gt;",),
    '"': ("&quot;",),
    "'": ("&apos;",),
    "\xa0": ("&nbsp;",),
}
"""HTML's named entities for the characters pages escape (numeric ones: any character)."""
_JSON = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\f": "\\f",
    "\b": "\\b",
}
"""JSON's two-character escapes (any character may also be ``\\uXXXX``)."""
_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_URL_SAFE = {"+": "-", "/": "_"}
_MIN_BASE64_CHARS = 4
"""Base64 characters a secret must determine alone for its base64 forms to be masked:
fewer would mask unrelated base64 text."""


@cache
def _escapes(char: str) -> tuple[str, ...]:
    """``char`` escaped once, by each encoder: percent (UTF-8), HTML, JSON."""
    forms = ["".join(f"%{b:02x}" for b in char.encode("utf-8", "surrogatepass"))]
    if char == " ":
        forms.append("+")  # a space in a query string
    forms += _NAMED.get(char, ())
    forms += [f"&#{ord(char)};", f"&#x{ord(char):x};"]
    if char in _JSON:
        forms.append(_JSON[char])
    utf16 = char.encode("utf-16-be", "surrogatepass")
    forms.append("".join(f"\\u{utf16[i]:02x}{utf16[i + 1]:02x}" for i in range(0, len(utf16), 2)))
    return tuple(dict.fromkeys(forms))


@cache
def _char_forms(char: str, depth: int = _DEPTH) -> tuple[str, ...]:
    """The regexes (sources) of ``char``'s shown forms: each escape, its characters
    escaped again (or not: encoders differ in what they escape) up to ``depth`` times
    over, then the character as it is (last: "%" must not match alone where "%25" stands
    for it). Each text has one way to match, so a match that fails does not backtrack
    through equivalent ones (exponentially many, over a long secret)."""
    if depth == 0 or (char.isascii() and char.isalnum()):
        return (re.escape(char),)  # unreserved: no encoding changes it
    forms = ["".join(_char_pattern(c, depth - 1) for c in form) for form in _escapes(char)]
    return (*forms, re.escape(char))


@cache
def _char_pattern(char: str, depth: int = _DEPTH) -> str:
    """A regex (source) matching ``char`` in any of its ``_char_forms``."""
    return _alternatives(_char_forms(char, depth))


def _alternatives(forms: Iterable[str]) -> str:
    unique = list(dict.fromkeys(forms))
    return unique[0] if len(unique) == 1 else "(?:" + "|".join(unique) + ")"


def _cased_pattern(char: str) -> str:
    """``_char_pattern`` of ``char`` in each case, lower-cased (matching ignores case, but
    the escapes of ``É`` are not those of ``é``, and ``ß`` upper-cased is ``SS``)."""
    variants = dict.fromkeys((char, char.upper(), char.lower(), char.title()))
    if char.isascii():  # the other case of ASCII escapes the same
        return _char_pattern(char).lower()
    forms = [
        form.lower()
        for v in variants
        for form in (_char_forms(v) if len(v) == 1 else ["".join(map(_char_pattern, v))])
    ]
    return _alternatives(forms)


_WHITESPACE = (
    "(?:" + "|".join(_char_pattern(c, _DEPTH if c in _COMMON_SPACES else 1) for c in _SPACES) + ")+"
)
"""A run of whitespace in any of its shown forms, as ``str.split`` splits on it."""


def secret_pattern(secret: str) -> str:
    """The regex (source, to compile ignoring case) matching ``secret`` as typed,
    escaped, or both, in any case (its base64 forms: ``base64_patterns``)."""
    words = secret.split()
    return _WHITESPACE.join("".join(_cased_pattern(c) for c in word) for word in words)


def base64_patterns(secret: str) -> list[tuple[str, str]]:
    """(anchor, regex source) matching ``secret``'s UTF-8 bytes base64-encoded, for each
    of the three offsets a longer text may put them at (a secret alone starts at 0; in
    ``user:secret`` at 5, i.e. 2) where enough characters are the secret's own."""
    data = secret.encode("utf-8", "surrogatepass")
    patterns = []
    for offset in range(3):
        positions = _base64_positions(data, offset)
        own = "".join(p[0] if len(p) == 1 else " " for p in positions)
        if len(own.replace(" ", "")) < _MIN_BASE64_CHARS:
            continue
        pattern = "".join(map(_base64_char_pattern, positions))
        if (offset + len(data)) % 3:  # where the text ends with the secret: its padding
            pattern += f"(?:{_char_pattern('=')}){{0,2}}"
        patterns.append((own, pattern))
    return patterns


def _base64_positions(data: bytes, offset: int) -> list[tuple[str, ...]]:
    """For each base64 character holding bits of ``data`` (placed ``offset`` bytes into a
    text), the characters it may be: one where ``data`` sets all six bits, several at
    the ends where the neighbouring bytes set the rest."""
    start, end = 8 * offset, 8 * (offset + len(data))
    value = int.from_bytes(data, "big")
    positions = []
    for index in range(start // 6, (end - 1) // 6 + 1):
        low, high = max(6 * index, start), min(6 * index + 6, end)
        width, shift = high - low, 6 * index + 6 - high
        bits = (value >> (end - high)) & ((1 << width) - 1)
        mask = ((1 << width) - 1) << shift
        positions.append(tuple(_BASE64[v] for v in range(64) if v & mask == bits << shift))
    return positions


def _base64_char_pattern(chars: tuple[str, ...]) -> str:
    """One base64 character that may be any of ``chars``, in either alphabet, escaped."""
    forms = [_char_pattern(c) for c in chars if not c.isalnum()]
    forms += [re.escape(_URL_SAFE[c]) for c in chars if c in _URL_SAFE]
    letters = "".join(c for c in chars if c.isalnum())
    if letters:
        forms.append(letters if len(letters) == 1 else f"[{letters}]")
    return forms[0] if len(forms) == 1 else "(?:" + "|".join(forms) + ")"


def _anchor(text: str) -> str | None:
    """The longest run of ASCII letters and digits in ``text``, lower-cased: no escaping
    changes it, so every shown form of ``text`` contains it, ignoring case."""
    runs = _ALNUM_RUN.findall(text)
    return max(runs, key=len).lower() if runs else None


class _Form:
    """One way a secret may be shown: a cheap test first, its pattern compiled on demand."""

    def __init__(self, anchor: str | None, source: str | Callable[[], str]) -> None:
        self.anchor = anchor
        """Lower-cased text every match contains (None: none; the pattern always runs)."""
        self._source = source

    def may_be_in(self, lowered: str) -> bool:
        return self.anchor is None or self.anchor in lowered

    def spans(self, text: str, lowered: str) -> list[tuple[int, int]]:
        """Where this form is in ``text`` (``lowered`` is ``text.lower()``)."""
        if len(lowered) == len(text):  # each character lower-cased to one: same places
            return [m.span() for m in self._lowered.finditer(lowered)]
        return [m.span() for m in self._folding.finditer(text)]

    @cached_property
    def _lowered(self) -> re.Pattern[str]:
        # Matching lower-cased text with a lower-cased pattern ignores case as IGNORECASE
        # does, but keeps re's fast search for a pattern's literal start (IGNORECASE
        # loses it: several times slower on long texts).
        return re.compile(self._text().lower())

    @cached_property
    def _folding(self) -> re.Pattern[str]:
        return re.compile(self._text(), re.IGNORECASE)

    def _text(self) -> str:
        return self._source if isinstance(self._source, str) else self._source()


def _forms(secret: str) -> list[_Form]:
    forms = [_Form(_anchor(secret), lambda: secret_pattern(secret))]
    # base64's patterns are cheap to build (letters are never escaped): built now.
    forms += [_Form(_anchor(own), pattern) for own, pattern in base64_patterns(secret)]
    return forms


class Masker:
    """Replaces every secret, in each of its forms, in any text with ``***``."""

    MASK = MASK

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole. A secret of
        # only whitespace has nothing to recognise it by and is left out.
        values = sorted({s for s in secrets if s and s.strip()}, key=len, reverse=True)
        self._values = values
        self._forms = [form for v in values for form in _forms(v)]

    def __call__(self, text: str) -> str:
        lowered = text.lower()  # once per text (and after each change): anchors ignore case
        for form in self._forms:
            if not form.may_be_in(lowered):
                continue
            spans = form.spans(text, lowered)
            if spans:
                ends = [0, *(i for span in spans for i in span), len(text)]
                kept = [text[ends[k] : ends[k + 1]] for k in range(0, len(ends), 2)]
                text = MASK.join(kept)
                lowered = text.lower()
        return text

    def __bool__(self) -> bool:
        return bool(self._values)

    @property
    def secrets(self) -> list[str]:
        """The secrets masked, longest first."""
        return list(self._values)
