"""The pointer: clicks, hovering, dragging and scrolling."""

from __future__ import annotations

from typing import TYPE_CHECKING

from testfleet.suites.steps.base import SELECTOR, Check, Field, Problem, StepSpec

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step

CLICK_CHECKS: tuple[Check, ...] = ("visible", "stable", "enabled", "hit")
"""Playwright's checks before a click: visible, stable, enabled, receives the pointer."""
HOVER_CHECKS: tuple[Check, ...] = ("visible", "stable", "hit")


def _scroll_rule(step: Step) -> list[Problem]:
    where = step.input_data
    at = step.x is not None or step.y is not None
    if at and where is not None:
        return [Problem(None, "takes to, or x and y, not both")]
    if not at and step.selector is None and where is None:
        return [Problem(None, "needs one of selector or to (or x and y)")]
    if step.selector is not None and where is not None:
        return [Problem(None, "takes only one of selector or to")]
    if where is None or where.strip().lower() in ("top", "bottom"):
        return []
    try:
        float(where)
    except ValueError:
        return [Problem("input_data", f"must be top, bottom or a number of pixels, not {where!r}")]
    return []


POSITION = (
    Field(
        "x",
        "x",
        "CSS px from the element's left edge to act at (its centre when unset)",
        kind="number",
    ),
    Field(
        "y",
        "y",
        "CSS px from the element's top edge to act at (its centre when unset)",
        kind="number",
    ),
)


def _position_rule(step: Step) -> list[Problem]:
    if (step.x is None) != (step.y is None):
        return [Problem(None, "takes x and y together (a point in the element), or neither")]
    return []


def _click(key: str, doc: str) -> StepSpec:
    return StepSpec(
        key,
        "pointer",
        key,
        doc,
        example="#save",
        fields=(SELECTOR, *POSITION),
        scalar="selector",
        required=("selector",),
        checks=CLICK_CHECKS,
        validate=_position_rule,
    )


SPECS: tuple[StepSpec, ...] = (
    _click("click", "Click an element"),
    _click("double_click", "Double-click an element"),
    _click("right_click", "Right-click an element (its context menu)"),
    StepSpec(
        "hover",
        "pointer",
        "hover",
        "Move the pointer over an element (menus that open on hover)",
        example="#menu",
        fields=(SELECTOR,),
        scalar="selector",
        required=("selector",),
        checks=HOVER_CHECKS,
    ),
    StepSpec(
        "drag",
        "pointer",
        "drag",
        "Drag an element onto another with the pointer (HTML5 drag and drop included)",
        example={"from": "#item-1", "to": "#item-3"},
        fields=(
            Field("from", "selector", "the element to drag", kind="selector"),
            Field("to", "target", "the element to drop it on", kind="selector"),
        ),
        required=("selector", "target"),
        checks=HOVER_CHECKS,
    ),
    StepSpec(
        "scroll",
        "pointer",
        "scroll",
        "Scroll an element into view, or the page to top, bottom or by a number of pixels; "
        "with x and y: the page (or the element's own content) to that position",
        example={"to": "bottom"},
        fields=(
            SELECTOR,
            Field("to", "input_data", "top, bottom, or pixels (negative: up)"),
            Field("x", "x", "scroll to this many CSS px from the left", kind="number"),
            Field("y", "y", "scroll to this many CSS px from the top", kind="number"),
        ),
        scalar="selector",
        validate=_scroll_rule,
    ),
)
