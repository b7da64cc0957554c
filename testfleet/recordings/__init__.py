"""Recordings teams already have, run as suites: Chrome DevTools Recorder flows (JSON)
and Selenium IDE projects (``.side``).

The loader asks ``recognise`` about every document it reads, by content (a
``.json`` file may be a suite or a Recorder flow; a ``.side`` file is JSON
too): a recording is converted into the short-form suite a person would write
(``chrome``, ``side``), which then loads like any suite, its problems said at
the recording's own places (``flow.json: steps[3].customStep: ...``). That
short-form suite is also what ``testfleet import`` writes, so an imported suite
runs exactly as its recording does.
"""

from __future__ import annotations

from typing import Any

from testfleet.errors import SuiteError
from testfleet.recordings import chrome, side
from testfleet.recordings.base import Problems, Recording

__all__ = ["Recording", "recognise"]


def recognise(document: Any, source: str) -> Recording | None:
    """``document`` converted when it is a recording, else None (it is a suite, or not
    valid at all: the loader says so).

    Raises ``SuiteError`` listing every step that cannot be converted, each named by its
    place in the recording and its type, before anything is queued.
    """
    problems = Problems()
    if chrome.looks_like(document):
        recording = chrome.convert(document, problems)
    elif side.looks_like(document):
        recording = side.convert(document, problems)
    else:
        return None
    if problems.lines:
        raise SuiteError([f"{source}: {line}" for line in problems.lines])
    return recording
