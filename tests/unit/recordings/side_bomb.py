"""A small Selenium IDE project whose conversion blew up: nested ``run``.

Test ``t{d}`` runs ``t{d+1}`` ``fanout`` times, down to ``depth``; the last one
clicks. Inlining each callee at every call made the converted suite (and the work
to build it) grow as ``fanout ** depth`` from a file a few KB long.
"""

from __future__ import annotations

import json
from typing import Any


def side_bomb(depth: int, fanout: int = 5) -> dict[str, Any]:
    """The project as a parsed ``.side`` document."""
    tests: list[dict[str, Any]] = []
    for level in range(depth):
        commands = [
            {"id": f"c{level}-{i}", "command": "run", "target": f"t{level + 1}", "value": ""}
            for i in range(fanout)
        ]
        tests.append({"id": f"t{level}", "name": f"t{level}", "commands": commands})
    leaf = [{"id": "leaf", "command": "click", "target": "css=#go", "value": ""}]
    tests.append({"id": f"t{depth}", "name": f"t{depth}", "commands": leaf})
    return {
        "id": "bomb",
        "version": "2.0",
        "name": "bomb",
        "url": "http://127.0.0.1:9/",
        "tests": tests,
        "suites": [{"id": "s", "name": "s", "tests": ["t0"]}],
    }


def side_bomb_text(depth: int, fanout: int = 5) -> str:
    return json.dumps(side_bomb(depth, fanout))
