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

import yaml

from testfleet.errors import SuiteError
from testfleet.suites.limits import RunLimits
from testfleet.suites.recordings import chrome, side
from testfleet.suites.recordings.base import Problems, Recording, escape_env
from testfleet.suites.recordings.budget import Budget

__all__ = ["Recording", "escape_env", "recognise", "suite_yaml"]

_MADE_BY = {chrome.FORMAT: "Chrome DevTools Recorder", side.FORMAT: "Selenium IDE"}


def recognise(document: Any, source: str, limits: RunLimits | None = None) -> Recording | None:
    """``document`` converted when it is a recording, else None (it is a suite, or not
    valid at all: the loader says so).

    The conversion counts the steps and bytes it makes under ``limits`` (the run's; the
    shipped defaults when None) and stops with a ``LimitError`` naming the limit as soon
    as one is passed. Raises ``SuiteError`` listing every step that cannot be converted,
    each named by its place in the recording and its type, before anything is queued.
    """
    problems = Problems()
    budget = Budget(limits or RunLimits(), source)
    if chrome.looks_like(document):
        recording = chrome.convert(document, problems, budget)
    elif side.looks_like(document):
        recording = side.convert(document, problems, budget)
    else:
        return None
    if problems.lines:
        # A test that is run in several states is converted in each: said once.
        raise SuiteError([f"{source}: {line}" for line in dict.fromkeys(problems.lines)])
    return recording


def suite_yaml(recording: Recording, source: str, base_url: str | None = None) -> str:
    """The short-form suite ``recording`` runs as, as YAML to read and edit (``testfleet
    import``); ``base_url`` replaces the recording's own."""
    suite = dict(recording.suite)
    if base_url:
        suite.pop("base_url", None)
        suite = {"name": suite.pop("name"), "base_url": base_url, **suite}
    if "flows" in suite:
        suite["flows"] = {n: {"steps": _readable(f["steps"])} for n, f in suite["flows"].items()}
    suite["tests"] = [{**t, "steps": _readable(t["steps"])} for t in suite["tests"]]
    written = yaml.dump(suite, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    header = (
        f"# Imported by `testfleet import` from {source} ({_MADE_BY[recording.format]}).\n"
        "# It runs as the recording does: each step is named with the recording's title.\n"
    )
    if "$${" in written or "@{" in written:
        header += (
            "# $${ is a literal ${ (never the environment); @{name} is a value captured from\n"
            "# the page as the test runs.\n"
        )
    return header + written


class _Inline(dict[str, Any]):
    """A step's body: written on the step's line (``click: {selector: "#go"}``)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Inline, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, True)
)

_BLOCKS = ("steps", "then", "else")


def _readable(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps with their name first and their bodies inline; blocks' steps below them."""
    out = []
    for step in steps:
        ordered: dict[str, Any] = {"name": step["name"]} if "name" in step else {}
        for key, value in step.items():
            if key in _BLOCKS and isinstance(value, list):
                ordered[key] = _readable(value)
            elif isinstance(value, dict):
                ordered[key] = _Inline(value)
            else:
                ordered[key] = value
        out.append(ordered)
    return out
