"""Navigation: opening pages, history, tabs and frames."""

from __future__ import annotations

from typing import TYPE_CHECKING

from testfleet.suites.steps.base import Field, Problem, StepSpec
from testfleet.suites.steps.rules import all_of, regex_rule

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step


def _tab_rule(step: Step) -> list[Problem]:
    if step.index is not None and step.expected_result is not None:
        return [Problem(None, "takes an index, or a url or title to look for, not both")]
    if step.expected_result is not None and step.mode not in ("url", "title"):
        return [Problem("mode", "must be url or title when a tab is looked for by text")]
    return []


def _frame_rule(step: Step) -> list[Problem]:
    if (step.selector is None) == (step.mode is None):
        return [Problem(None, "needs the iframe's selector, or top or parent to leave frames")]
    return []


SPECS: tuple[StepSpec, ...] = (
    StepSpec(
        "navigate",
        "navigation",
        "navigate",
        "Open a URL (relative to base_url); fails at once on a network error (net::ERR_*) "
        "and on an HTTP status >= 400 unless allow_status lists it",
        example={"url": "/login", "allow_status": [404]},
        aliases=("open",),
        fields=(
            Field("url", "input_data", "the URL, absolute or relative to base_url"),
            Field(
                "allow_status",
                "allow_status",
                "HTTP statuses >= 400 that are fine here (a list, or any)",
                kind="status",
            ),
        ),
        scalar="url",
        required=("input_data",),
        secret_fields=("input_data",),
    ),
    StepSpec(
        "back",
        "navigation",
        "back",
        "Go back one page in the tab's history",
        example=None,
        bare=True,
    ),
    StepSpec(
        "forward",
        "navigation",
        "forward",
        "Go forward one page in the tab's history",
        example=None,
        bare=True,
    ),
    StepSpec("reload", "navigation", "reload", "Reload the page", example=None, bare=True),
    StepSpec(
        "switch_tab",
        "navigation",
        "switch_tab",
        "Switch to another tab, waiting for it to open: the newest (no value), by index "
        "(0 is the first, -1 the newest), or by URL or title",
        example={"title": "Help"},
        fields=(
            Field("index", "index", "the tab's position (0 first, -1 newest)", kind="int"),
            Field(
                "url",
                "expected_result",
                "the tab whose URL contains this (or equals/matches)",
                kind="compare",
                sets={"mode": "url"},
            ),
            Field(
                "title",
                "expected_result",
                "the tab whose title contains this (or equals/matches)",
                kind="compare",
                sets={"mode": "title"},
            ),
        ),
        scalar="index",
        bare=True,
        default_match="contains",
        validate=all_of(_tab_rule, regex_rule),
    ),
    StepSpec(
        "close_tab",
        "navigation",
        "close_tab",
        "Close the current tab and go back to the tab it was opened from",
        example=None,
        bare=True,
    ),
    StepSpec(
        "frame",
        "navigation",
        "frame",
        "Run the next steps inside an iframe (its selector), or leave frames: top, parent",
        example="iframe#payment",
        fields=(
            Field("selector", "selector", "the <iframe> element", kind="selector"),
            Field(
                "to",
                "mode",
                "leave frames: top (the page) or parent",
                kind="choice",
                choices=("top", "parent"),
            ),
        ),
        scalar="selector",
        keywords={"top": {"mode": "top"}, "parent": {"mode": "parent"}},
        validate=_frame_rule,
    ),
)
