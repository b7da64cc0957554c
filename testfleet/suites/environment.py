"""The submitter's environment as suites read it: only the variables a suite declares.

``testfleet run`` and ``validate`` substitute ``${VAR}`` from the process
environment, which holds far more than any suite should see (cloud keys, tokens,
the API key itself). A suite names the variables it reads in its ``env:`` list::

    env: [DEMO_URL, DEMO_PASSWORD]
    base_url: ${DEMO_URL:-http://127.0.0.1:8702}

and ``${VAR}`` of any other name, with a default or not, is a load error: a suite
from anyone cannot name ``${AWS_SECRET_ACCESS_KEY}`` and send it to a page
unnoticed. ``Environment`` remembers which declared variables were read, so the
CLI can say so (names only, never values).

The API's request ``variables`` are not an environment: the submitter lists them
in the request itself, so every name there may be used (a plain mapping).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What an environment variable's name may be (as ``${VAR}`` writes it)."""


class Environment:
    """A process environment, read by each suite only through its ``env:`` list."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.read: dict[str, None] = {}
        """Names whose values were substituted, in first-use order (a dict as an ordered set)."""
        self.defaulted: dict[str, None] = {}
        """Declared names that were not set, whose ``${VAR:-default}`` default was used."""
        self.declared_any = False
        """Whether any suite loaded declared an ``env:`` list."""

    def visible(self, declared: Iterable[str]) -> dict[str, str]:
        """The values of the ``declared`` variables that are set: all a suite may read."""
        names = list(declared)
        self.declared_any = self.declared_any or bool(names)
        return {n: self._environ[n] for n in names if n in self._environ}

    def summary(self) -> str | None:
        """One line naming the variables read (never their values), or None when no suite
        declared any."""
        if not self.declared_any:
            return None
        read = ", ".join(self.read) if self.read else "nothing"
        line = f"environment: read {read} (declared in the suites' env: lists)"
        if self.defaulted:
            line += f"; not set, default used: {', '.join(self.defaulted)}"
        return line


def declared_names(document: dict[str, Any]) -> list[str]:
    """The names a suite document's ``env:`` list declares (the suite model reports
    entries that are not names)."""
    raw = document.get("env")
    if not isinstance(raw, list):
        return []
    return [n for n in raw if isinstance(n, str) and VARIABLE_NAME.fullmatch(n)]
