"""Chrome DevTools Recorder flows -> short-form suites: every step type, selector kind and
problem (``testfleet.suites.recordings.chrome``); what they do in a browser is in
``tests/integration/recordings/test_recordings_grid.py``."""

from __future__ import annotations

from typing import Any

import pytest

from testfleet.errors import SuiteError
from testfleet.suites.loader import load_document
from testfleet.suites.recordings import recognise
from testfleet.suites.recordings.locators import Unmappable, recorder_selector, recorder_selectors

BASE = "http://127.0.0.1:8702"


def flow(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "title": "Recorded",
        "steps": [{"type": "navigate", "url": f"{BASE}/"}, *steps],
        **extra,
    }


def converted(*steps: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
    """The short-form steps ``steps`` become (after the opening navigate), names dropped."""
    recording = recognise(flow(*steps, **extra), "flow.json")
    assert recording is not None
    load_document(flow(*steps, **extra), {}, "flow.json")  # it loads as a suite
    out = recording.suite["tests"][0]["steps"][1:]
    return [{k: v for k, v in s.items() if k != "name"} for s in out]


def problems(*steps: dict[str, Any], **extra: Any) -> list[str]:
    with pytest.raises(SuiteError) as caught:
        load_document(flow(*steps, **extra), {}, "flow.json")
    return caught.value.problems


SEL = [['aria/Save[role="button"]'], ["#save"], ['xpath///*[@id="save"]'], ["pierce/#save"]]
SAVE = 'aria=Save[role="button"] || #save || xpath=//*[@id="save"]'

STEPS: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "setViewport": (
        [
            {
                "type": "setViewport",
                "width": 390,
                "height": 844,
                "deviceScaleFactor": 3,
                "isMobile": False,
                "hasTouch": False,
                "isLandscape": False,
            }
        ],
        [{"set_viewport": {"width": 390, "height": 844}}],
    ),
    "navigate (same origin: a path; another: as it is)": (
        [
            {"type": "navigate", "url": f"{BASE}/login?next=/x#top"},
            {"type": "navigate", "url": "https://example.org/a"},
        ],
        [{"navigate": "/login?next=/x#top"}, {"navigate": "https://example.org/a"}],
    ),
    "click at its offset": (
        [{"type": "click", "selectors": SEL, "offsetX": 12.5, "offsetY": 3}],
        [{"click": {"selector": SAVE, "x": 12.5, "y": 3}}],
    ),
    "click with the secondary button": (
        [{"type": "click", "selectors": SEL, "offsetX": 1, "offsetY": 2, "button": "secondary"}],
        [{"right_click": {"selector": SAVE, "x": 1, "y": 2}}],
    ),
    "a touch tap clicks": (
        [
            {
                "type": "click",
                "selectors": [["#a"]],
                "offsetX": 1,
                "offsetY": 2,
                "deviceType": "touch",
                "duration": 80,
            }
        ],
        [{"click": {"selector": "#a", "x": 1, "y": 2}}],
    ),
    "doubleClick": (
        [{"type": "doubleClick", "selectors": SEL, "offsetX": 5, "offsetY": 6}],
        [{"double_click": {"selector": SAVE, "x": 5, "y": 6}}],
    ),
    "hover": (
        [{"type": "hover", "selectors": [["#menu"]]}],
        [{"hover": "#menu"}],
    ),
    "change (a <select> too: fill picks the option by value)": (
        [{"type": "change", "selectors": [["aria/Status"], ["#status"]], "value": "Open"}],
        [{"fill": {"selector": "aria=Status || #status", "value": "Open"}}],
    ),
    "keyDown / keyUp: one press": (
        [{"type": "keyDown", "key": "Enter"}, {"type": "keyUp", "key": "Enter"}],
        [{"press": {"keys": "Enter"}}],
    ),
    "modifiers held fold into the keys pressed": (
        [
            {"type": "keyDown", "key": "Control"},
            {"type": "keyDown", "key": "a"},
            {"type": "keyUp", "key": "a"},
            {"type": "keyDown", "key": "KeyC"},
            {"type": "keyUp", "key": "KeyC"},
            {"type": "keyUp", "key": "Control"},
        ],
        [{"press": {"keys": "Control+a"}}, {"press": {"keys": "Control+c"}}],
    ),
    "a modifier pressed alone": (
        [
            {"type": "keyDown", "key": "ShiftLeft"},
            {"type": "keyUp", "key": "ShiftLeft"},
            {"type": "keyDown", "key": " "},
            {"type": "keyUp", "key": " "},
        ],
        [{"press": {"keys": "Shift"}}, {"press": {"keys": "Space"}}],
    ),
    "scroll the page": (
        [{"type": "scroll", "x": 0, "y": 1200}],
        [{"scroll": {"x": 0, "y": 1200}}],
    ),
    "scroll an element": (
        [{"type": "scroll", "selectors": [["#list"]], "x": 10, "y": 40}],
        [{"scroll": {"x": 10, "y": 40, "selector": "#list"}}],
    ),
    "waitForElement (one or more, the default)": (
        [{"type": "waitForElement", "selectors": [["#done"]]}],
        [{"assert_exists": "#done"}],
    ),
    "waitForElement visible: false": (
        [{"type": "waitForElement", "selectors": [[".spinner"]], "visible": False}],
        [{"assert_exists": ".spinner", "not": True}],
    ),
    "waitForElement count and operator": (
        [
            {"type": "waitForElement", "selectors": [["li"]], "count": 3, "operator": "=="},
            {"type": "waitForElement", "selectors": [["li"]], "count": 2, "operator": ">="},
            {"type": "waitForElement", "selectors": [["li"]], "count": 5, "operator": "<="},
            {"type": "waitForElement", "selectors": [["li"]], "count": 0, "operator": "=="},
            {
                "type": "waitForElement",
                "selectors": [["li"]],
                "count": 4,
                "operator": "<=",
                "visible": False,
            },
        ],
        [
            {"assert_count": {"selector": "li", "count": 3}},
            {"assert_count": {"selector": "li", "at_least": 2}},
            {"assert_count": {"selector": "li", "at_most": 5}},
            {"assert_exists": "li", "not": True},
            {"assert_count": {"selector": "li", "at_most": 4}, "not": True},
        ],
    ),
    "waitForElement attributes and properties": (
        [
            {
                "type": "waitForElement",
                "selectors": [["#row"]],
                "attributes": {"data-state": "open"},
                "properties": {
                    "hidden": False,
                    "textContent": "2 orders",
                    "style": {"display": "block"},
                    "tabIndex": 0,
                },
            }
        ],
        [
            {"assert_exists": "#row"},
            {"assert_attribute": {"selector": "#row", "attribute": "data-state", "equals": "open"}},
            {"assert_property": {"selector": "#row", "property": "hidden", "equals": "false"}},
            {
                "assert_property": {
                    "selector": "#row",
                    "property": "textContent",
                    "equals": "2 orders",
                }
            },
            {
                "assert_property": {
                    "selector": "#row",
                    "property": "style.display",
                    "equals": "block",
                }
            },
            {"assert_property": {"selector": "#row", "property": "tabIndex", "equals": "0"}},
        ],
    ),
    "waitForExpression": (
        [{"type": "waitForExpression", "expression": "window.ready === true;"}],
        [{"wait_for": {"script": "return (\nwindow.ready === true\n);"}}],
    ),
    "emulateNetworkConditions": (
        [
            {
                "type": "emulateNetworkConditions",
                "download": 50000,
                "upload": 20000,
                "latency": 400,
            },
            {"type": "emulateNetworkConditions", "download": 0, "upload": 0, "latency": 0},
            {"type": "emulateNetworkConditions", "download": -1, "upload": -1, "latency": 0},
            {"type": "emulateNetworkConditions", "download": -1, "upload": 1000, "latency": 20},
        ],
        [
            {"network": {"latency": 400, "download": 50000, "upload": 20000}},
            {"network": "offline"},
            {"network": "online"},
            {"network": {"latency": 20, "upload": 1000}},
        ],
    ),
    "close the main page at the end": (
        [{"type": "close"}],
        [{"navigate": "about:blank"}],
    ),
    "a step's timeout (ms)": (
        [{"type": "hover", "selectors": [["#m"]], "timeout": 2500}],
        [{"hover": "#m", "timeout": 2.5}],
    ),
}


@pytest.mark.parametrize("case", list(STEPS))
def test_each_step_type_maps_to_its_steps(case: str) -> None:
    recorded, expected = STEPS[case]
    assert converted(*recorded) == expected


def test_asserted_navigations_wait_for_the_new_page() -> None:
    event = {"type": "navigation", "url": f"{BASE}/dashboard", "title": "Dashboard"}
    assert converted(
        {
            "type": "click",
            "selectors": [["#go"]],
            "offsetX": 1,
            "offsetY": 1,
            "assertedEvents": [event],
        },
        {"type": "keyDown", "key": "Enter", "assertedEvents": [{"type": "navigation"}]},
        {"type": "keyUp", "key": "Enter"},
        {
            "type": "navigate",
            "url": f"{BASE}/a",
            "assertedEvents": [{"type": "navigation", "url": f"{BASE}/a"}],
        },
        {
            "type": "navigate",
            "url": f"{BASE}/old",
            "assertedEvents": [{"type": "navigation", "url": f"{BASE}/new"}],
        },
    ) == [
        {"click": {"selector": "#go", "x": 1, "y": 1}},
        {"wait_for": {"url": {"equals": "/dashboard"}}},
        {"press": {"keys": "Enter"}},
        {"wait_for": {"load": "load"}},
        {"navigate": "/a"},
        {"navigate": "/old"},
        {"wait_for": {"url": {"equals": "/new"}}},
    ]


def test_targets_and_frames_switch_tabs_and_frames_when_they_change() -> None:
    popup = f"{BASE}/help?x=1"
    assert converted(
        {"type": "click", "selectors": [["#open"]], "offsetX": 1, "offsetY": 1},
        {"type": "waitForElement", "target": popup, "selectors": [["h1"]]},
        {"type": "waitForElement", "target": popup, "selectors": [["p"]]},
        {"type": "close", "target": popup},
        {
            "type": "click",
            "target": "main",
            "frame": [0],
            "selectors": [["#a"]],
            "offsetX": 1,
            "offsetY": 1,
        },
        {"type": "click", "frame": [0, 2], "selectors": [["#b"]], "offsetX": 1, "offsetY": 1},
        {"type": "click", "frame": [1], "selectors": [["#c"]], "offsetX": 1, "offsetY": 1},
        {"type": "hover", "selectors": [["#d"]]},
        {"type": "waitForElement", "target": "https://other.test/x", "selectors": [["#e"]]},
        {"type": "hover", "target": "main", "selectors": [["#f"]]},
    ) == [
        {"click": {"selector": "#open", "x": 1, "y": 1}},
        {"switch_tab": {"url": {"matches": r"^https?://[^/]+/help\?x=1$"}}},
        {"assert_exists": "h1"},
        {"assert_exists": "p"},
        {"close_tab": None},
        {"frame": "xpath=(//iframe | //frame)[1]"},
        {"click": {"selector": "#a", "x": 1, "y": 1}},
        {"frame": "xpath=(//iframe | //frame)[3]"},
        {"click": {"selector": "#b", "x": 1, "y": 1}},
        {"frame": "top"},
        {"frame": "xpath=(//iframe | //frame)[2]"},
        {"click": {"selector": "#c", "x": 1, "y": 1}},
        {"frame": "top"},
        {"hover": "#d"},
        {"switch_tab": {"url": {"equals": "https://other.test/x"}}},
        {"assert_exists": "#e"},
        {"switch_tab": {"index": 0}},
        {"hover": "#f"},
    ]


SELECTORS = {
    "css": ("#save > span", "#save > span"),
    "aria with a role": ('aria/Sign in[role="button"]', 'aria=Sign in[role="button"]'),
    "aria, a name only": ("aria/Username", "aria=Username"),
    "aria, a name that needs quoting": ("aria/Next >> page", 'aria=[name="Next >> page"]'),
    "text": ("text/Sign in", "text=Sign in"),
    "text that would read as a regex": ("text//home", r"text=/\/home/"),
    "text with a separator": ("text/a || b", r"text=/a \x7C\x7C b/"),
    "xpath": ('xpath///*[@id="x"]/li[2]', 'xpath=//*[@id="x"]/li[2]'),
    "pierce (CSS pierces shadow roots already)": ("pierce/#inner", "#inner"),
    "CSS that looks like an engine": ("css=a", "css=css=a"),
}


@pytest.mark.parametrize("case", list(SELECTORS))
def test_each_selector_kind(case: str) -> None:
    recorded, expected = SELECTORS[case]
    assert recorder_selector(recorded) == expected


def test_arrays_hop_into_shadow_roots_and_alternatives_are_tried_in_order() -> None:
    assert recorder_selector(["my-app", "my-dialog", "aria/Close"]) == (
        "my-app >> my-dialog >> aria=Close"
    )
    assert recorder_selectors([["aria/Add"], ["fancy-counter", "button"], ["aria/Add"]]) == (
        "aria=Add || fancy-counter >> button"
    )
    with pytest.raises(Unmappable, match="non-empty list"):
        recorder_selectors([])


def test_the_flow_names_the_suite_sets_its_origin_and_timeout_and_titles_each_step() -> None:
    recording = recognise(
        flow(
            {"type": "click", "selectors": [["aria/Save"], ["#save"]], "offsetX": 1, "offsetY": 1},
            {"type": "change", "selectors": [["#q"]], "value": "tea"},
            {"type": "keyDown", "key": "Enter"},
            {"type": "keyUp", "key": "Enter"},
            timeout=7000,
        ),
        "flow.json",
    )
    assert recording is not None
    suite = load_document(recording.suite, {}, "flow.json")
    assert (suite.name, suite.base_url, suite.timeout_seconds) == ("Recorded", BASE, 7.0)
    assert [s.label for s in suite.tests[0].steps] == [
        f"Navigate to {BASE}/",
        "Click aria/Save",
        "Change #q",
        "Press Enter",
    ]


def test_recorded_text_is_never_read_as_a_variable() -> None:
    assert converted({"type": "change", "selectors": [["#q"]], "value": "${HOME} costs $${x}"}) == [
        {"fill": {"selector": "#q", "value": "$${HOME} costs $$${x}"}}
    ]
    recording = recognise(
        flow({"type": "change", "selectors": [["#q"]], "value": "${HOME}"}), "flow.json"
    )
    assert recording is not None
    suite = load_document(recording.suite, {"HOME": "/root"}, "flow.json")
    assert suite.tests[0].steps[1].input_data == "${HOME}"


def test_every_step_that_cannot_run_is_named_with_its_place_and_type_at_once() -> None:
    assert problems(
        {"type": "customStep", "name": "lighthouse", "parameters": {}},
        {
            "type": "setViewport",
            "width": 390,
            "height": 844,
            "deviceScaleFactor": 3,
            "isMobile": True,
            "hasTouch": True,
            "isLandscape": False,
        },
        {"type": "click", "selectors": [["#a"]], "offsetX": 1, "offsetY": 1, "button": "auxiliary"},
        {"type": "waitForElement", "selectors": [["li"]], "operator": "!="},
        {"type": "teleport"},
        {"type": "keyDown", "key": "Shift"},
        {"type": "click", "selectors": [], "offsetX": 1, "offsetY": 1},
        {"type": "close"},
        {"type": "hover", "selectors": [["#z"]]},
    ) == [
        "flow.json: steps[1].customStep: customStep 'lighthouse' belongs to the Recorder "
        "extension that recorded it and cannot be replayed here; remove it or replace it "
        "with steps",
        "flow.json: steps[2].setViewport: isMobile: mobile and touch emulation is not "
        "available on a Selenium Grid session; record again in desktop mode (or set it false "
        "to replay at this size)",
        "flow.json: steps[3].click: a auxiliary button click cannot be replayed through WebDriver",
        "flow.json: steps[4].waitForElement: operator must be one of ==, >=, <=, not '!='",
        "flow.json: steps[5].teleport: is not a step of the Recorder's format (setViewport, "
        "navigate, click, doubleClick, hover, change, keyDown, keyUp, scroll, waitForElement, "
        "waitForExpression, close, emulateNetworkConditions, customStep)",
        "flow.json: steps[7].click: Shift are held down across a click step; testfleet presses "
        "modifiers only together with a key",
        "flow.json: steps[7].click: selectors must be a non-empty list",
        "flow.json: steps[8].close: the main page can only be closed as the recording's last "
        "step (the fleet keeps the browser)",
    ]


def test_what_the_step_language_refuses_is_said_at_the_recorded_step() -> None:
    assert problems(
        {
            "type": "setViewport",
            "width": 100,
            "height": 844,
            "deviceScaleFactor": 1,
            "isMobile": False,
            "hasTouch": False,
            "isLandscape": False,
        },
    ) == ["flow.json: steps[1].setViewport: width must be 200-7680 px, not 100"]


def test_a_suite_or_a_side_project_is_not_taken_for_a_flow() -> None:
    assert recognise({"name": "s", "tests": [{"name": "t", "steps": []}]}, "s.json") is None
    assert recognise({"title": "t", "steps": [{"click": "#a"}]}, "s.json") is None
    assert recognise(["not", "a", "mapping"], "s.json") is None
