"""Page state: scripts, screenshots, dialogs, the viewport, cookies and storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from testfleet.suites.steps.base import Field, Problem, StepSpec
from testfleet.suites.steps.rules import regex_rule

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Step

ANALYSES = ("general", "error", "ui_validation")
STORAGE_AREAS = ("local", "session")
MIN_VIEWPORT_PX, MAX_VIEWPORT_PX = 200, 7680


NETWORK_MODES = ("offline", "online")


def _network_rule(step: Step) -> list[Problem]:
    numbers = [step.latency_ms, step.download_bytes_per_s, step.upload_bytes_per_s]
    given = any(n is not None for n in numbers)
    if step.mode is not None and step.mode not in NETWORK_MODES:
        return [Problem("mode", f"must be {' or '.join(NETWORK_MODES)}, not {step.mode!r}")]
    if step.mode is not None and given:
        return [Problem(None, f"takes {step.mode}, or latency / download / upload, not both")]
    if step.mode is None and not given:
        return [Problem(None, "needs offline, online, or latency / download / upload")]
    return []


def _viewport_rule(step: Step) -> list[Problem]:
    problems = []
    for field in ("width", "height"):
        value = getattr(step, field)
        if value is not None and not MIN_VIEWPORT_PX <= value <= MAX_VIEWPORT_PX:
            problems.append(
                Problem(field, f"must be {MIN_VIEWPORT_PX}-{MAX_VIEWPORT_PX} px, not {value}")
            )
    return problems


SPECS: tuple[StepSpec, ...] = (
    StepSpec(
        "script",
        "page state",
        "custom",
        "Run JavaScript; fails when it throws, returns false, or returns something else "
        "than returns (as JavaScript prints it)",
        example={"script": "return document.readyState", "returns": "complete"},
        aliases=("custom",),
        fields=(
            Field("script", "input_data", "the JavaScript (a function body: use return)"),
            Field("returns", "expected_result", "what it must return: true, null, 42, text"),
        ),
        scalar="script",
        required=("input_data",),
        secret_fields=("input_data",),
    ),
    StepSpec(
        "screenshot",
        "page state",
        "screenshot",
        "Take a screenshot (and ask the vision model for an analysis)",
        example={"name": "checkout", "analyze": "ui_validation"},
        fields=(
            Field("name", "name", "the screenshot's name"),
            Field(
                "analyze",
                "analyze",
                "general, error or ui_validation",
                kind="choice",
                choices=ANALYSES,
            ),
        ),
        scalar="name",
        bare=True,
    ),
    StepSpec(
        "dialog",
        "page state",
        "dialog",
        "Answer the alert, confirm or prompt an earlier step opened: accept (the default) or "
        "dismiss, type an answer into a prompt, check its text",
        example={"action": "accept", "answer": "Alice", "text": "Your name?"},
        fields=(
            Field(
                "action", "mode", "accept or dismiss", kind="choice", choices=("accept", "dismiss")
            ),
            Field("answer", "input_data", "text typed into a prompt before accepting"),
            Field(
                "text",
                "expected_result",
                "the dialog's message contains this (or equals/matches)",
                kind="compare",
            ),
        ),
        bare=True,
        keywords={"accept": {"mode": "accept"}, "dismiss": {"mode": "dismiss"}},
        secret_fields=("input_data",),
        default_match="contains",
        validate=regex_rule,
    ),
    StepSpec(
        "set_viewport",
        "page state",
        "set_viewport",
        "Resize the page's viewport (CSS pixels) for the rest of the test",
        example={"width": 390, "height": 844},
        fields=(
            Field("width", "width", "CSS pixels", kind="int"),
            Field("height", "height", "CSS pixels", kind="int"),
        ),
        required=("width", "height"),
        validate=_viewport_rule,
    ),
    StepSpec(
        "network",
        "page state",
        "network",
        "Emulate the network for the rest of the test (every tab): offline, online (as it "
        "is), or slower (latency, throughput); needs Chromium through chromedriver",
        example={"latency": 400, "download": 50000, "upload": 20000},
        fields=(
            Field("latency", "latency_ms", "ms added to every request", kind="number"),
            Field(
                "download",
                "download_bytes_per_s",
                "bytes per second in (unset: unlimited)",
                kind="number",
            ),
            Field(
                "upload",
                "upload_bytes_per_s",
                "bytes per second out (unset: unlimited)",
                kind="number",
            ),
        ),
        keywords={mode: {"mode": mode} for mode in NETWORK_MODES},
        validate=_network_rule,
    ),
    StepSpec(
        "set_cookie",
        "page state",
        "set_cookie",
        "Set a cookie for the current page's site (path /)",
        example={"name": "consent", "value": "yes"},
        fields=(
            Field("name", "key", "the cookie's name"),
            Field("value", "input_data", "its value"),
        ),
        required=("key", "input_data"),
        empty_ok=("input_data",),
        secret_fields=("input_data",),
    ),
    StepSpec(
        "clear_cookies",
        "page state",
        "clear_cookies",
        "Delete the current site's cookies",
        example=None,
        bare=True,
    ),
    StepSpec(
        "set_storage",
        "page state",
        "set_storage",
        "Set a localStorage (or sessionStorage) item of the current page's origin",
        example={"key": "theme", "value": "dark"},
        fields=(
            Field("key", "key", "the item's key"),
            Field("value", "input_data", "its value"),
            Field(
                "area",
                "mode",
                "local (the default) or session",
                kind="choice",
                choices=STORAGE_AREAS,
            ),
        ),
        required=("key", "input_data"),
        empty_ok=("input_data",),
        secret_fields=("input_data",),
    ),
    StepSpec(
        "clear_storage",
        "page state",
        "clear_storage",
        "Clear the current origin's localStorage (or sessionStorage)",
        example={"area": "session"},
        fields=(
            Field(
                "area",
                "mode",
                "local (the default) or session",
                kind="choice",
                choices=STORAGE_AREAS,
            ),
        ),
        scalar="area",
        bare=True,
    ),
)
