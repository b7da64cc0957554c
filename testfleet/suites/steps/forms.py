"""Keyboard and forms: typing, filling, keys, options, checkboxes, focus, files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from testfleet.suites.steps.base import SELECTOR, Check, Field, Problem, StepSpec
from testfleet.suites.steps.pointer import CLICK_CHECKS

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step

EDIT_CHECKS: tuple[Check, ...] = ("visible", "enabled", "editable")
"""Playwright's checks before filling or clearing a field."""
MAX_UPLOAD_FILE_BYTES = 2 * 1024 * 1024
"""Largest file an ``upload`` step may send (read and embedded in the suite at load)."""
MAX_UPLOAD_TOTAL_BYTES = 3 * 1024 * 1024
"""All ``upload`` files of one suite together: they travel in the suite (base64, +33 %)
and in every case that uses them, under the API's 5 MB body limit."""


def _files_rule(step: Step) -> list[Problem]:
    if step.files is not None and not step.files:
        return [Problem("files", "must list at least one file")]
    return []


SPECS: tuple[StepSpec, ...] = (
    StepSpec(
        "type",
        "keyboard and forms",
        "type",
        "Replace a field's text by typing it key by key (select all, delete, type); never blurs",
        example={"selector": "#user", "text": "alice"},
        fields=(SELECTOR, Field("text", "input_data", "the text to type")),
        required=("selector", "input_data"),
        empty_ok=("input_data",),
        secret_fields=("input_data",),
        checks=EDIT_CHECKS,
    ),
    StepSpec(
        "fill",
        "keyboard and forms",
        "fill",
        "Set a field's value at once, as a paste would (one input event); never blurs; a "
        "<select> takes the option with this value (else this text)",
        example={"selector": "label=Email", "value": "alice@example.com"},
        fields=(
            SELECTOR,
            Field("value", "input_data", "the new value"),
            Field("text", "input_data", "the new value", alias=True),
        ),
        required=("selector", "input_data"),
        empty_ok=("input_data",),
        secret_fields=("input_data",),
        checks=EDIT_CHECKS,
    ),
    StepSpec(
        "clear",
        "keyboard and forms",
        "clear",
        "Empty a field with the keyboard (select all, delete); never blurs",
        example="#search",
        fields=(SELECTOR,),
        scalar="selector",
        required=("selector",),
        checks=EDIT_CHECKS,
    ),
    StepSpec(
        "press",
        "keyboard and forms",
        "press",
        "Press keys (Enter, Tab, Control+a; several separated by spaces) in an element, "
        "or in the focused one",
        example={"selector": "#new-todo", "keys": "Enter"},
        fields=(
            SELECTOR,
            Field("keys", "input_data", "key names: Enter, Escape, ArrowDown, Control+a, F5"),
            Field("key", "input_data", "key names", alias=True),
        ),
        scalar="keys",
        required=("input_data",),
        secret_fields=("input_data",),
        checks=("visible", "enabled"),
    ),
    StepSpec(
        "select",
        "keyboard and forms",
        "select",
        "Choose an option of a <select> by its text, else its value",
        example={"selector": "#country", "option": "Norway"},
        fields=(
            SELECTOR,
            Field("option", "input_data", "the option's text or value"),
            Field("value", "input_data", "the option's text or value", alias=True),
        ),
        required=("selector", "input_data"),
        checks=("visible", "enabled"),
    ),
    StepSpec(
        "check",
        "keyboard and forms",
        "check",
        "Make a checkbox or radio button checked (clicks only if it is not); fails if it "
        "stays unchecked",
        example="label=Remember me",
        fields=(SELECTOR,),
        scalar="selector",
        required=("selector",),
        checks=CLICK_CHECKS,
    ),
    StepSpec(
        "uncheck",
        "keyboard and forms",
        "uncheck",
        "Make a checkbox unchecked (clicks only if it is checked); fails if it stays checked",
        example="#newsletter",
        fields=(SELECTOR,),
        scalar="selector",
        required=("selector",),
        checks=CLICK_CHECKS,
    ),
    StepSpec(
        "focus",
        "keyboard and forms",
        "focus",
        "Focus an element (as Tab would)",
        example="#search",
        fields=(SELECTOR,),
        scalar="selector",
        required=("selector",),
    ),
    StepSpec(
        "blur",
        "keyboard and forms",
        "blur",
        "Take the focus away from an element (the focused one when no selector)",
        example="#search",
        fields=(SELECTOR,),
        scalar="selector",
        bare=True,
    ),
    StepSpec(
        "upload",
        "keyboard and forms",
        "upload",
        "Set the files of an <input type=file>: paths relative to the suite file, read when "
        "it loads (2 MB each, 3 MB per suite), sent to the browser's host through the Grid",
        example={"selector": "#avatar", "files": ["files/avatar.png"]},
        fields=(
            SELECTOR,
            Field("files", "files", "paths relative to the suite file", kind="files"),
            Field("file", "files", "one path relative to the suite file", kind="files", alias=True),
        ),
        required=("selector", "files"),
        validate=_files_rule,
    ),
)
