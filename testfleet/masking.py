"""Masking secrets in any text: the one place that knows what a secret can look like.

A value typed with ``secret: true`` must never leave in clear, but pages, URLs
and error messages rarely show it exactly as typed. ``Masker`` replaces, with
``***``, each secret in every form it is likely to take on its way out:

- as typed;
- with its whitespace changed or collapsed (``"a  b\\n c"`` shown as ``"a b c"``:
  error messages and page text are whitespace-normalised);
- URL-encoded, in either form (``%20`` or ``+`` for a space; any mix of
  percent-encoded and plain characters, hex in either case), as a form submitted
  with GET or a redirect puts it in the address bar;
- HTML-escaped (``&amp;``, ``&lt;``, ``&quot;``, ``&#39;`` ...), as page source and
  reports show it.

Mask *before* shortening or normalising anything: a secret cut in half by a
length limit no longer matches any of its forms. Screenshots cannot be masked
(a secret shown on the page is in the picture).

Cost: a secret is looked for only in texts that contain its longest run of
letters and digits (which no encoding above changes), so masking a text is a
substring search per secret, and a secret's pattern is compiled only once a
text might hold it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cached_property

MASK = "***"
"""What a secret is replaced with."""

_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_SPACES = [chr(c) for c in range(0x3000 + 1) if chr(c).isspace()]
_WHITESPACE = (
    r"(?:\s|\+|(?i:&nbsp;|&#160;|&#xa0;|"
    + "|".join("".join(f"%{b:02x}" for b in c.encode()) for c in _SPACES)
    + "))+"
)
"""A run of whitespace in any of its shown forms (``+`` is a space in a query string;
``%xx`` any whitespace character percent-encoded), as ``str.split`` splits on it."""
_HTML = {
    "&": ("&amp;", "&#38;", "&#x26;"),
    "<": ("&lt;", "&#60;", "&#x3c;"),
    ">": ("&gt;", "&#62;", "&#x3e;"),
    '"': ("&quot;", "&#34;", "&#x22;"),
    "'": ("&#39;", "&#x27;", "&apos;"),
}


def _char_pattern(char: str) -> str:
    """A regex matching ``char`` as typed, percent-encoded or HTML-escaped."""
    if char.isascii() and char.isalnum():
        return char  # unreserved: no encoding changes it
    encoded = "".join(f"%{b:02x}" for b in char.encode("utf-8", "surrogatepass"))
    # Encoded forms first: "%" must not match alone where "%25" stands for it.
    forms = [f"(?i:{re.escape(encoded)})"]
    forms += [f"(?i:{re.escape(entity)})" for entity in _HTML.get(char, ())]
    forms.append(re.escape(char))
    return "(?:" + "|".join(forms) + ")"


def secret_pattern(secret: str) -> str:
    """The regex (source) matching ``secret`` in every form ``Masker`` masks."""
    words = secret.split()
    return _WHITESPACE.join("".join(_char_pattern(c) for c in word) for word in words)


class _Secret:
    def __init__(self, value: str) -> None:
        self.value = value
        runs = _ALNUM_RUN.findall(value)
        self.anchor: str | None = max(runs, key=len) if runs else None
        """A substring every form of the secret contains (None: no letters or digits)."""

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(secret_pattern(self.value))

    def mask(self, text: str) -> str:
        if self.anchor is not None and self.anchor not in text:
            return text
        return self.pattern.sub(MASK, text)


class Masker:
    """Replaces every secret, in each of its forms, in any text with ``***``."""

    MASK = MASK

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole. A secret of
        # only whitespace has nothing to recognise it by and is left out.
        values = sorted({s for s in secrets if s and s.strip()}, key=len, reverse=True)
        self._secrets = [_Secret(v) for v in values]

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = secret.mask(text)
        return text

    def __bool__(self) -> bool:
        return bool(self._secrets)

    @property
    def secrets(self) -> list[str]:
        """The secrets masked, longest first."""
        return [s.value for s in self._secrets]
