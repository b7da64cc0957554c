"""Recorded selectors and locators, written in testfleet's selector language.

Chrome's Recorder gives each step a list of alternative selectors; each is a
string or an array of strings, the next part searched inside the previous
one's shadow root (or the element itself when it has none), with the
prefixes ``aria/`` (accessible name, ``[role="..."]``), ``text/``, ``xpath/``
and ``pierce/`` (CSS through every shadow root); unprefixed is CSS. Selenium
IDE gives a locator (``id=``, ``name=``, ``linkText=``, ``partialLinkText=``,
``css=``, ``xpath=`` or ``//...``) and fallbacks (``targets``).

Both become one selector (``testfleet.suites.steps.selectors``): alternatives joined
with `` || `` (the first that matches wins, all tried on every poll within
the step's timeout), parts with `` >> ``. testfleet's CSS already pierces open
shadow roots, so ``pierce/`` is plain CSS and an array's shadow hops are
scoping. Functions here return the selector, or raise ``Unmappable`` saying why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from testfleet.suites.steps.selectors import aria_parts, selector_problem


class Unmappable(ValueError):
    """A recorded step (or part of one) that has no equivalent here; the message says why."""


_SEPARATORS = (">>", "||")
_SAFE_IDENT = re.compile(r"^-?[A-Za-z_][\w-]*$")
_ENGINE_LIKE = re.compile(r"^[a-z_]+=")
SIDE_STRATEGIES = ("id", "name", "link", "linkText", "partialLinkText", "css", "xpath")


def alternatives(choices: Sequence[str]) -> str:
    """One selector trying ``choices`` in order (duplicates dropped)."""
    return " || ".join(dict.fromkeys(c for c in choices if c))


def quoted(text: str) -> str:
    """``text`` in double quotes for a selector (``text="..."``, ``[name="..."]``)."""
    return json.dumps(text, ensure_ascii=False)


def _regex(text: str) -> str:
    """A JavaScript regex literal matching ``text`` as a case-sensitive substring; ``>``
    and ``|`` as hex escapes so the selector's ``>>`` and ``||`` never split it."""
    escaped = re.sub(r"[\\^$.*+?()[\]{}/]", lambda m: "\\" + m.group(0), text)
    return "/" + escaped.replace(">", "\\x3E").replace("|", "\\x7C") + "/"


def _splits(text: str) -> bool:
    return any(s in text for s in _SEPARATORS)


def _css(css: str) -> str:
    css = css.strip()
    if not css:
        raise Unmappable("an empty CSS selector")
    if _ENGINE_LIKE.match(css) or css.startswith(("//", "(//", "..")) or _splits(css):
        if _splits(css):
            raise Unmappable(f"the CSS selector {css!r} contains >> or ||")
        return f"css={css}"
    return css


# -- Chrome Recorder ---------------------------------------------------------------------


def aria(body: str) -> str:
    """An ``aria/`` selector's body (``Sign in[role="button"]``) as ``aria=...``."""
    name, attributes = aria_parts(body)
    name = name or attributes.get("name", "")
    unknown = sorted(set(attributes) - {"name", "role"})
    if unknown:
        raise Unmappable(f"aria/ selectors take [name=...] and [role=...], not [{unknown[0]}]")
    role = attributes.get("role")
    if not name and not role:
        raise Unmappable(f"the aria/ selector {body!r} names no element")
    plain = name and not _splits(name) and not re.search("[][\"']", name)
    written = name if plain or not name else f"[name={quoted(name)}]"
    return "aria=" + written + (f"[role={quoted(role)}]" if role else "")


def _text(body: str) -> str:
    if not body.strip():
        raise Unmappable("an empty text/ selector")
    if _splits(body) or body.startswith(("'", '"', "/")) or body != body.strip():
        return "text=" + _regex(body)
    return "text=" + body


def recorder_part(part: str) -> str:
    """One part of a Recorder selector (``aria/...``, ``text/...``, ``xpath/...``,
    ``pierce/...`` or CSS) in testfleet's language."""
    if part.startswith("aria/"):
        return aria(part[len("aria/") :])
    if part.startswith("text/"):
        return _text(part[len("text/") :])
    if part.startswith("xpath/"):
        xpath = part[len("xpath/") :].strip()
        if not xpath or _splits(xpath):
            raise Unmappable(f"the XPath {xpath!r} is empty or contains >> or ||")
        return f"xpath={xpath}"
    if part.startswith("pierce/"):
        # testfleet's CSS searches every open shadow root already: pierce/ is plain CSS.
        return _css(part[len("pierce/") :])
    return _css(part)


def recorder_selector(selector: object) -> str:
    """One Recorder selector (a string, or an array hopping into shadow roots)."""
    parts = [selector] if isinstance(selector, str) else selector
    if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
        raise Unmappable(f"a selector is a string or a list of strings, not {selector!r}")
    return " >> ".join(recorder_part(p) for p in parts)


def recorder_selectors(selectors: object) -> str:
    """A step's ``selectors`` (alternatives, in order) as one selector."""
    if not isinstance(selectors, list) or not selectors:
        raise Unmappable("selectors must be a non-empty list")
    return _checked(alternatives([recorder_selector(s) for s in selectors]))


# -- Selenium IDE --------------------------------------------------------------------------


def side_locator(locator: str) -> str:
    """One Selenium IDE locator (``id=login``, ``css=...``, ``//a``) in testfleet's language."""
    locator = locator.strip()
    if locator.startswith("//"):
        return _xpath(locator)
    strategy, sep, body = locator.partition("=")
    if not sep or strategy not in SIDE_STRATEGIES or not body:
        if sep and strategy and body:
            raise Unmappable(
                f"the locator strategy {strategy!r} is not supported "
                f"(use one of {', '.join(SIDE_STRATEGIES)})"
            )
        raise Unmappable(f"{locator!r} is not a locator (write e.g. id=login, css=#login, //a)")
    if strategy == "id":
        return f"#{body}" if _SAFE_IDENT.match(body) else f"[id={quoted(body)}]"
    if strategy == "name":
        return f"[name={quoted(body)}]"
    if strategy in ("link", "linkText"):
        return f"a >> has_text={quoted(body.strip())}"
    if strategy == "partialLinkText":
        return f"a >> has_text={_regex(body)}"
    if strategy == "css":
        return _css(body)
    return _xpath(body)


def _xpath(xpath: str) -> str:
    if _splits(xpath):
        raise Unmappable(f"the XPath {xpath!r} contains >> or ||")
    return f"xpath={xpath}"


def side_target(target: str, fallbacks: object) -> str:
    """A command's locator and its ``targets`` fallbacks (``[[locator, kind], ...]``) as one
    selector; fallbacks testfleet cannot read are left out (the IDE skips them too when
    the locator before them matches)."""
    choices = [side_locator(target)]
    for fallback in fallbacks if isinstance(fallbacks, list) else []:
        locator = fallback[0] if isinstance(fallback, list) and fallback else None
        if isinstance(locator, str) and locator.strip():
            try:
                choices.append(side_locator(locator))
            except Unmappable:
                continue
    return _checked(alternatives(choices))


def _checked(selector: str) -> str:
    problem = selector_problem(selector)
    if problem:
        raise Unmappable(f"selector {problem}")
    return selector
