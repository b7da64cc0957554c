"""What both recording formats convert into: a short-form suite and where each step came from.

A converter turns each recorded step into one or more short-form steps (a
click that navigates becomes the click and a wait for the new page), each
named with the recording's own title for it, and remembers where it was
recorded (``steps[3].click``, ``tests[1].commands[4].sendKeys``), so that a
problem the loader finds later is reported at that place, like any other
suite problem: ``flow.json: steps[3].click: selector ...``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from testfleet.errors import SuiteError

T = TypeVar("T")
Short = dict[str, Any]
"""A short-form step (``{"click": {"selector": "#go"}, "name": "Click #go"}``)."""


@dataclass
class Recording:
    """A recording converted: the short-form suite document, and where its steps came from."""

    format: str
    """``chrome-recorder`` or ``selenium-ide``."""
    suite: dict[str, Any]
    places: dict[str, str] = field(default_factory=dict)
    """Path of a step in ``suite`` (``tests[0].steps[4]``) -> where it was recorded."""

    def locate(self, problem: str) -> str:
        """A loader problem line (``tests[0].steps[4].fill: ...``) said at the recorded place."""
        for path in sorted(self.places, key=len, reverse=True):
            found = re.match(re.escape(path) + r"(?:\.[A-Za-z_]+)?(?=[:.\[ ]|$)", problem)
            if found:
                return self.places[path] + problem[found.end() :]
        return problem

    def load(self, load: Callable[[dict[str, Any]], T]) -> T:
        """``load(suite)``, its problems (a ``SuiteError``) said at the recorded places."""
        try:
            return load(self.suite)
        except SuiteError as exc:
            raise SuiteError([_relocated(self, line) for line in exc.problems]) from None


def _relocated(recording: Recording, line: str) -> str:
    source, sep, rest = line.partition(": ")
    return f"{source}{sep}{recording.locate(rest)}" if sep else recording.locate(line)


class Problems:
    """Every problem found while converting, each said at its recorded place."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{where}: {message}")


def escape_env(value: Any) -> Any:
    """``value`` with every ``${`` written ``$${``: recorded text is taken as it is, never
    as a reference to the submitter's environment (Selenium IDE's variables look alike)."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: escape_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_env(v) for v in value]
    return value


@dataclass(frozen=True)
class Origin:
    """Where a recording's pages live: URLs there are written as paths, so ``base_url`` (or
    ``--base-url``) moves the whole recording to another host."""

    base: str | None

    @classmethod
    def of(cls, url: str | None) -> Origin:
        if not url:
            return cls(None)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return cls(None)
        return cls(urlunsplit((parts.scheme, parts.netloc, "", "", "")))

    def path(self, url: str) -> str:
        """``url`` as a path when it is on this origin, else as it is."""
        if self.base is None:
            return url
        parts = urlsplit(url)
        if urlunsplit((parts.scheme, parts.netloc, "", "", "")) != self.base:
            return url
        return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))

    def pattern(self, url: str) -> tuple[str, str]:
        """A (``equals`` | ``matches``, text) comparison finding ``url`` in a tab's address:
        on this origin, any host with the same path (the suite may run elsewhere)."""
        path = self.path(url)
        if path == url:
            return "equals", url
        return "matches", "^https?://[^/]+" + re.escape(path) + "$"
