"""Chrome DevTools Recorder flows (the ``@puppeteer/replay`` JSON format) as suites.

A flow (``{"title", "timeout"?, "steps": [...]}``) becomes a suite of one test,
both named by its title; ``base_url`` is the origin of its first page, and URLs
there become paths. Each step becomes what Puppeteer's replay does for it:

============================ ==========================================================
``setViewport``              ``set_viewport`` (mobile and touch emulation: refused)
``navigate``                 ``navigate``
``click`` / ``doubleClick``  ``click`` / ``double_click`` at ``offsetX``, ``offsetY`` from
                             the element's top-left corner (``button: secondary``:
                             ``right_click``; touch and pen taps click)
``hover``                    ``hover``
``change``                   ``fill`` (a ``<select>`` takes the option with that value)
``keyDown`` / ``keyUp``      ``press``, modifiers held down folded in (``Control+a``)
``scroll``                   ``scroll`` to ``x``, ``y`` (the page, or the element)
``waitForElement``           ``assert_exists`` / ``assert_count`` (``count``, ``operator``,
                             ``visible: false`` as ``not``), ``assert_attribute`` and
                             ``assert_property`` for ``attributes`` / ``properties``
``waitForExpression``        ``wait_for: {script}`` (a promise is awaited)
``close``                    ``close_tab`` (the main page, at the end: ``about:blank``)
``emulateNetworkConditions`` ``network``
``customStep``               refused: only the extension that recorded it knows it
============================ ==========================================================

``selectors`` are alternatives (``testfleet.suites.recordings.locators``); ``target``
(another tab, by its URL) and ``frame`` (child frame indexes) switch with
``switch_tab`` and ``frame`` when they change; ``assertedEvents`` navigations
wait for the page's URL (``wait_for``); ``timeout`` (ms) is the step's timeout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from testfleet.suites.recordings.base import Origin, Problems, Recording, Short, escape_env
from testfleet.suites.recordings.budget import Budget
from testfleet.suites.recordings.keys import MODIFIERS, recorder_key
from testfleet.suites.recordings.locators import Unmappable, recorder_selectors

FORMAT = "chrome-recorder"
STEP_TYPES = (
    "setViewport",
    "navigate",
    "click",
    "doubleClick",
    "hover",
    "change",
    "keyDown",
    "keyUp",
    "scroll",
    "waitForElement",
    "waitForExpression",
    "close",
    "emulateNetworkConditions",
    "customStep",
)
_MAIN = "main"
_OPERATORS = {"==": "count", ">=": "at_least", "<=": "at_most"}
_TITLES = {
    "setViewport": "Set viewport",
    "navigate": "Navigate to",
    "click": "Click",
    "doubleClick": "Double click",
    "hover": "Hover",
    "change": "Change",
    "scroll": "Scroll",
    "waitForElement": "Wait for element",
    "waitForExpression": "Wait for expression",
    "close": "Close",
    "emulateNetworkConditions": "Emulate network conditions",
}
"""What the Recorder's panel calls each kind of step."""


def looks_like(document: Any) -> bool:
    """Whether ``document`` is a Recorder flow: a title and steps that have a ``type``."""
    if not isinstance(document, dict) or "tests" in document:
        return False
    steps = document.get("steps")
    return (
        isinstance(document.get("title"), str)
        and isinstance(steps, list)
        and all(isinstance(s, dict) and "type" in s for s in steps)
    )


def convert(flow: dict[str, Any], problems: Problems, budget: Budget) -> Recording:
    """The suite equivalent to ``flow`` (problems go to ``problems``, each at its step),
    counted as it converts under ``budget`` (``LimitError`` past it)."""
    title = flow.get("title")
    steps = flow.get("steps")
    if not isinstance(title, str) or not title.strip():
        problems.add("title", "a recording needs a title (it names the suite and its test)")
        title = "recording"
    if not isinstance(steps, list) or not steps:
        problems.add("steps", "a recording needs at least one step")
        steps = []
    urls = [s.get("url") for s in steps if isinstance(s, dict) and s.get("type") == "navigate"]
    first = next((u for u in urls if isinstance(u, str)), None)
    converter = _Converter(Origin.of(first), problems, budget)
    with budget.unit(f"the recording {title!r}"):
        for index, step in enumerate(steps):
            converter.step(index, step, last=index == len(steps) - 1)
        converter.release_keys(len(steps))
    suite: dict[str, Any] = {"name": title, "description": "Recorded with Chrome DevTools Recorder"}
    if converter.origin.base:
        suite["base_url"] = converter.origin.base
    timeout = flow.get("timeout")
    if timeout is not None:
        suite["timeout_seconds"] = _seconds(timeout, "timeout", problems)
    suite["tests"] = [{"name": title, "steps": [short for short, _ in converter.out]}]
    places = {f"tests[0].steps[{i}]": where for i, (_, where) in enumerate(converter.out)}
    return Recording(FORMAT, escape_env(suite), places)


def _seconds(value: Any, where: str, problems: Problems) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return value / 1000
    problems.add(where, f"must be a positive number of milliseconds, not {value!r}")
    return 1.0


class _Converter:
    """The state a flow's steps are converted in: which tab and frame the replay is in,
    and the keys held down."""

    def __init__(self, origin: Origin, problems: Problems, budget: Budget) -> None:
        self.origin = origin
        self.problems = problems
        self.budget = budget
        self.out: list[tuple[Short, str]] = []
        self.target = _MAIN
        self.frame: list[int] = []
        self.held: list[str] = []
        self.pressed = False
        """A key went down while the modifiers in ``held`` were."""
        self.where = ""

    def step(self, index: int, step: Any, last: bool) -> None:
        kind = step.get("type") if isinstance(step, dict) else None
        self.where = f"steps[{index}].{kind}" if isinstance(kind, str) else f"steps[{index}]"
        if not isinstance(step, dict) or kind not in STEP_TYPES:
            known = ", ".join(STEP_TYPES)
            self.problems.add(self.where, f"is not a step of the Recorder's format ({known})")
            return
        if kind not in ("keyDown", "keyUp") and self.held:
            self._problem(
                f"{' and '.join(self.held)} are held down across a {kind} step; testfleet "
                "presses modifiers only together with a key"
            )
            self.held, self.pressed = [], False
        try:
            self._step(kind, step, last)
        except Unmappable as exc:
            self._problem(str(exc))

    def release_keys(self, count: int) -> None:
        if self.held and not self.pressed:
            self.where = f"steps[{count - 1}].keyUp"
            self.emit({"press": {"keys": "+".join(self.held)}}, "Press " + "+".join(self.held))

    def _problem(self, message: str) -> None:
        self.problems.add(self.where, message)

    def emit(self, step: Short, title: str, timeout_s: float | None = None) -> None:
        named: Short = {**step, "name": title}
        if timeout_s is not None:
            named["timeout"] = timeout_s
        self.budget.count([named])
        self.out.append((named, self.where))

    # -- one step ---------------------------------------------------------------------

    def _step(self, kind: str, step: dict[str, Any], last: bool) -> None:
        timeout_s = None
        if "timeout" in step:
            timeout_s = _seconds(step["timeout"], f"{self.where}.timeout", self.problems)
        handler = self._HANDLERS[kind]
        if kind not in ("keyDown", "keyUp", "emulateNetworkConditions"):
            self._context(step, kind, last)
        before = len(self.out)
        handler(self, step, timeout_s, last)
        for short, _ in self.out[before:]:
            if timeout_s is not None:
                short.setdefault("timeout", timeout_s)
        self._asserted_events(step, kind, timeout_s)

    def _context(self, step: dict[str, Any], kind: str, last: bool) -> None:
        """Switch tab and frame when this step happens elsewhere than the previous one."""
        target = step.get("target", _MAIN)
        if not isinstance(target, str) or not target:
            raise Unmappable(f"target must be {_MAIN} or a page's URL, not {target!r}")
        if target != self.target:
            if target == _MAIN:
                self.emit({"switch_tab": {"index": 0}}, "Switch to the main page")
            else:
                match, text = self.origin.pattern(target)
                self.emit({"switch_tab": {"url": {match: text}}}, f"Switch to {target}")
            self.target, self.frame = target, []
        frame = step.get("frame", [])
        if not isinstance(frame, list) or not all(isinstance(i, int) and i >= 0 for i in frame):
            raise Unmappable(f"frame must be a list of child frame indexes, not {frame!r}")
        if frame != self.frame:
            common = self.frame == frame[: len(self.frame)]
            if not common:
                self.emit({"frame": "top"}, "Leave the frame")
            for i in frame[len(self.frame) if common else 0 :]:
                # window.frames order: the document's <iframe> and <frame> elements in order.
                self.emit({"frame": f"xpath=(//iframe | //frame)[{i + 1}]"}, f"Go into frame {i}")
            self.frame = list(frame)

    def _asserted_events(self, step: dict[str, Any], kind: str, timeout_s: float | None) -> None:
        events = step.get("assertedEvents") or []
        if not isinstance(events, list):
            raise Unmappable("assertedEvents must be a list")
        for event in events:
            if not isinstance(event, dict) or event.get("type") != "navigation":
                raise Unmappable(f"an asserted event is a navigation, not {event!r}")
            url = event.get("url")
            if isinstance(url, str) and url:
                path = self.origin.path(url)
                if kind == "navigate" and self.origin.path(str(step.get("url"))) == path:
                    continue  # navigate waits for its page already
                title = f"{_TITLES.get(kind, kind)}: wait for {url}"
                self.emit({"wait_for": {"url": {"equals": path}}}, title, timeout_s)
            elif kind != "navigate":
                title = f"{_TITLES.get(kind, kind)}: wait for the page to load"
                self.emit({"wait_for": {"load": "load"}}, title, timeout_s)

    # -- each kind ------------------------------------------------------------------------

    def _set_viewport(self, step: dict[str, Any], timeout_s: float | None, last: bool) -> None:
        for flag in ("isMobile", "hasTouch"):
            if step.get(flag):
                raise Unmappable(
                    f"{flag}: mobile and touch emulation is not available on a Selenium Grid "
                    "session; record again in desktop mode (or set it false to replay at "
                    "this size)"
                )
        width, height = step.get("width"), step.get("height")
        self.emit(
            {"set_viewport": {"width": width, "height": height}},
            f"Set viewport {width} x {height}",
        )

    def _navigate(self, step: dict[str, Any], timeout_s: float | None, last: bool) -> None:
        url = step.get("url")
        if not isinstance(url, str) or not url:
            raise Unmappable("url is required")
        self.emit({"navigate": self.origin.path(url)}, f"Navigate to {url}")

    def _click(self, step: dict[str, Any], timeout_s: float | None, last: bool) -> None:
        button = step.get("button", "primary")
        double = step.get("type") == "doubleClick"
        if button not in ("primary", "secondary") or (double and button != "primary"):
            raise Unmappable(f"a {button} button click cannot be replayed through WebDriver")
        key = "double_click" if double else "right_click" if button == "secondary" else "click"
        body: Short = {"selector": recorder_selectors(step.get("selectors"))}
        x, y = step.get("offsetX"), step.get("offsetY")
        if _number(x) and _number(y):
            body.update(x=x, y=y)
        self.emit({key: body}, self._titled(step))

    def _hover(self, step: dict[str, Any], timeout_s: float | None, last: bool) -> None:
        self.emit({"hover": recorder_selectors(step.get("selectors"))}, self._titled(step))

    def _change(self, step: dict[str, Any], timeout_s: float | None, last: bool) -> None:
        value = step.get("value")
        if not isinstance(value, str):
            raise Unmappable("value is required (the field's new value)")
        selector = recorder_selectors(step.get("selectors"))
        self.emit({"fill": {"selector": selector, "value": value}}, self._titled(step))

    def _key(self, step: dict[str, Any], timeout_s: float | None, last: bool) -> None:
        raw = step.get("key")
        if not isinstance(raw, str) or not raw:
            raise Unmappable("key is required")
        key = recorder_key(raw)
        down = step.get("type") == "keyDown"
        if key in MODIFIERS:
            if down and key not in self.held:
                self.held.append(key)
                self.pressed = False
            elif not down and key in self.held:
                if not self.pressed:
                    # A modifier pressed and let go on its own.
                    combo = "+".join(self.held)
                    self.emit({"press": {"keys": combo}}, f"Press {combo}", timeout_s)
                self.held.remove(key)
                self.pressed = bool(self.held) and self.pressed
            return
        if down:
            combo = "+".join([*self.held, key])
            self.emit({"press": {"keys": combo}}, f"Press {combo}", timeout_s)
            self.pressed = True
        # keyUp of a key: it was let go with its press.

    def _scroll(self, step: dict[str, Any], timeout_s: float | None, last: bool) -> None:
        x, y = step.get("x", 0), step.get("y", 0)
        if not (_number(x) and _number(y)):
            raise Unmappable("x and y must be numbers of pixels")
        body: Short = {"x": x, "y": y}
        if "selectors" in step:
            body["selector"] = recorder_selectors(step["selectors"])
        self.emit({"scroll": body}, f"{self._titled(step)} to {x}, {y}")

    def _wait_for_element(self, step: dict[str, Any], timeout_s: float | None, last: bool) -> None:
        selector = recorder_selectors(step.get("selectors"))
        operator = step.get("operator", ">=")
        count = step.get("count", 1)
        visible = step.get("visible", True)
        if operator not in _OPERATORS:
            raise Unmappable(f"operator must be one of ==, >=, <=, not {operator!r}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise Unmappable(f"count must be a whole number, not {count!r}")
        if not isinstance(visible, bool):
            raise Unmappable(f"visible must be true or false, not {visible!r}")
        checks = _element_checks(selector, step)
        if checks and not visible:
            raise Unmappable(
                "visible: false with attributes or properties (waiting until not all of them "
                "hold) has no equivalent; split it into separate waits"
            )
        title = self._titled(step)
        negate = {} if visible else {"not": True}
        if operator == ">=" and count == 1:
            self.emit({"assert_exists": selector, **negate}, title)
        elif operator in ("<=", "==") and count == 0:
            self.emit({"assert_exists": selector, **({"not": True} if visible else {})}, title)
        else:
            bound = _OPERATORS[operator]
            self.emit({"assert_count": {"selector": selector, bound: count}, **negate}, title)
        for check, what in checks:
            self.emit(check, f"{title}: {what}")

    def _wait_for_expression(
        self, step: dict[str, Any], timeout_s: float | None, last: bool
    ) -> None:
        expression = step.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            raise Unmappable("expression is required")
        body = expression.strip().rstrip(";").strip()
        self.emit({"wait_for": {"script": f"return (\n{body}\n);"}}, self._titled(step))

    def _close(self, step: dict[str, Any], timeout_s: float | None, last: bool) -> None:
        if self.target != _MAIN:
            self.emit({"close_tab": None}, "Close")
            self.target, self.frame = _MAIN, []
            return
        if not last:
            raise Unmappable(
                "the main page can only be closed as the recording's last step (the fleet "
                "keeps the browser)"
            )
        # The browser stays the fleet's: leaving the page runs its unload handlers as
        # closing it would.
        self.emit({"navigate": "about:blank"}, "Close")

    def _network(self, step: dict[str, Any], timeout_s: float | None, last: bool) -> None:
        download, upload, latency = (step.get(k) for k in ("download", "upload", "latency"))
        if not all(_number(v) for v in (download, upload, latency)):
            raise Unmappable("download, upload and latency must be numbers")
        assert isinstance(download, int | float)
        assert isinstance(upload, int | float)
        title = _TITLES["emulateNetworkConditions"]
        if not download and not upload:
            self.emit({"network": "offline"}, f"{title}: offline")
        elif download < 0 and upload < 0 and not latency:
            self.emit({"network": "online"}, f"{title}: no throttling")
        else:
            body = {"latency": latency}
            body.update({k: v for k, v in (("download", download), ("upload", upload)) if v >= 0})
            self.emit({"network": body}, title)

    def _custom(self, step: dict[str, Any], timeout_s: float | None, last: bool) -> None:
        name = step.get("name")
        raise Unmappable(
            f"customStep {name!r} belongs to the Recorder extension that recorded it and "
            "cannot be replayed here; remove it or replace it with steps"
        )

    def _titled(self, step: dict[str, Any]) -> str:
        """``Click aria/Sign in``: the Recorder's name for the step and its first selector."""
        title = _TITLES[str(step.get("type"))]
        selectors = step.get("selectors")
        if isinstance(selectors, list) and selectors:
            first = selectors[0]
            shown = first if isinstance(first, str) else " ".join(map(str, first))
            return f"{title} {shown}"
        return title

    _Handler = Callable[["_Converter", dict[str, Any], "float | None", bool], None]
    _HANDLERS: dict[str, _Handler] = {
        "setViewport": _set_viewport,
        "navigate": _navigate,
        "click": _click,
        "doubleClick": _click,
        "hover": _hover,
        "change": _change,
        "keyDown": _key,
        "keyUp": _key,
        "scroll": _scroll,
        "waitForElement": _wait_for_element,
        "waitForExpression": _wait_for_expression,
        "close": _close,
        "emulateNetworkConditions": _network,
        "customStep": _custom,
    }


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _element_checks(selector: str, step: dict[str, Any]) -> list[tuple[Short, str]]:
    """``waitForElement``'s ``attributes`` and ``properties`` as assertions on the element."""
    checks: list[tuple[Short, str]] = []
    attributes = step.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise Unmappable("attributes must map names to values")
    for name, value in attributes.items():
        assertion = {"selector": selector, "attribute": name, "equals": str(value)}
        checks.append(({"assert_attribute": assertion}, f"attribute {name}"))
    properties = step.get("properties") or {}
    if not isinstance(properties, dict):
        raise Unmappable("properties must map names to values")
    for path, value in _flatten(properties, ""):
        assertion = {"selector": selector, "property": path, "equals": _js(value)}
        checks.append(({"assert_property": assertion}, f"property {path}"))
    return checks


def _flatten(value: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    """``{"style": {"display": "none"}}`` -> ``[("style.display", "none")]``: Puppeteer
    matches properties as a deep partial match."""
    out: list[tuple[str, Any]] = []
    for key, inner in value.items():
        path = f"{prefix}{key}"
        if isinstance(inner, dict):
            out += _flatten(inner, f"{path}.")
        else:
            out.append((path, inner))
    return out


def _js(value: Any) -> str:
    """A property's expected value as JavaScript prints it (``assert_property`` compares so)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, separators=(",", ":"))
