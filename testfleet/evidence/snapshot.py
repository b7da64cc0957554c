"""DOM snapshots: the page serialised in the browser (``snapshot.js``), sealed for viewing.

``take_snapshot`` runs the serialiser in one ``execute_script`` round trip (about one
Grid round trip, ~12 ms; the in-page work is under a millisecond on ordinary pages).
``arm`` saves even that round trip: the next call into the executor's selector engine
(``workers.executor.probe.run``, the first thing a step with a selector does, before it
acts) carries the serialiser along (``riding_call``) and hands its result over
(``Rider.deliver``).
``seal`` makes its HTML what a trace stores: the case's masker over all of it, and a
restrictive Content-Security-Policy first in ``<head>`` so that even a viewer that
forgot its sandbox could neither run a script nor load anything from the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from weakref import WeakKeyDictionary

from selenium.webdriver.remote.webdriver import WebDriver

__all__ = [
    "CSP",
    "MAX_SNAPSHOT_CHARS",
    "Rider",
    "Snapshot",
    "arm",
    "disarm",
    "riding_call",
    "seal",
    "snapshot_js",
    "snapshot_of",
    "take_snapshot",
]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
"""The policy every stored snapshot carries."""
MAX_SNAPSHOT_CHARS = 4 * 1024 * 1024
"""A snapshot longer than this is cut (and says so in a comment at its end)."""

_CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_HTML = re.compile(r"<html\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Snapshot:
    """One serialised document (``html`` not yet sealed)."""

    html: str
    url: str
    title: str
    truncated: bool


@cache
def snapshot_js() -> str:
    """The serialiser: a JavaScript function expression of ``(secrets, options)``."""
    return resources.files(__package__).joinpath("snapshot.js").read_text("utf-8").strip()


@cache
def _snapshot_call() -> str:
    return f"return ({snapshot_js()})(arguments[0] || [], arguments[1] || {{}});"


@dataclass(frozen=True)
class Rider:
    """A snapshot wanted on the next engine call of a session."""

    secrets: list[str]
    deliver: Callable[[Snapshot | None], None]
    """Called with the snapshot taken (None: the page could not be serialised)."""
    max_chars: int = MAX_SNAPSHOT_CHARS


_RIDERS: WeakKeyDictionary[WebDriver, Rider] = WeakKeyDictionary()


def arm(driver: WebDriver, rider: Rider) -> None:
    """Have ``driver``'s next engine call take a snapshot for ``rider``."""
    _RIDERS[driver] = rider


def disarm(driver: WebDriver) -> Rider | None:
    """The rider waiting on ``driver``, no longer waiting (None when there was none)."""
    return _RIDERS.pop(driver, None)


def riding_call(body: str, count: int, is_async: bool) -> str:
    """``body`` (a script of ``count`` arguments, and the callback when ``is_async``) as a
    script that snapshots the page first and answers ``[snapshot, body's answer]``; the
    snapshot's own two arguments follow ``body``'s. A snapshot that throws answers null
    rather than failing the step's call."""
    snap = (
        f"let s = null; try {{ s = ({snapshot_js()})(arguments[{count}], arguments[{count + 1}]);"
        " } catch (x) { s = null; }"
    )
    own = f"Array.prototype.slice.call(arguments, 0, {count})"
    if is_async:
        return (
            f"{snap} const done = arguments[arguments.length - 1]; const a = {own};"
            " a.push(function (x) { done([s, x]); });"
            f" (function () {{ {body}\n}}).apply(this, a);"
        )
    return f"{snap} return [s, (function () {{ {body}\n}}).apply(this, {own})];"


def snapshot_of(value: Any) -> Snapshot | None:
    """What the serialiser answered, as a ``Snapshot`` (None when it answered nothing)."""
    if not isinstance(value, dict):
        return None
    return Snapshot(
        html=str(value.get("html", "")),
        url=str(value.get("url", "")),
        title=str(value.get("title", "")),
        truncated=bool(value.get("truncated")),
    )


def take_snapshot(
    driver: WebDriver, secrets: list[str], max_chars: int = MAX_SNAPSHOT_CHARS
) -> Snapshot:
    """The current page of ``driver`` serialised; ``secrets`` are replaced in the browser.

    Raises what Selenium raises (a dead session, an open alert, a page that is
    navigating away).
    """
    value: Any = driver.execute_script(_snapshot_call(), secrets, {"maxChars": max_chars})
    snapshot = snapshot_of(value)
    if snapshot is None:
        raise ValueError(f"the snapshot script returned {type(value).__name__}, not an object")
    return snapshot


def seal(html: str, mask: Callable[[str], str]) -> str:
    """``html`` as a trace stores it: masked, with ``CSP`` as the first element of its head."""
    html = mask(html)
    head = _HEAD.search(html)
    if head is not None:
        return html[: head.end()] + _CSP_META + html[head.end() :]
    root = _HTML.search(html)
    at = root.end() if root is not None else 0
    return html[:at] + "<head>" + _CSP_META + "</head>" + html[at:]
