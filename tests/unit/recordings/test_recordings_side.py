"""Selenium IDE projects -> short-form suites: the commands, locators, keys, suites, windows
and problems (``testfleet.suites.recordings.side``); what they do in a browser is in
``tests/integration/recordings/test_recordings_grid.py``."""

from __future__ import annotations

from typing import Any

import pytest

from testfleet.errors import SuiteError
from testfleet.suites.loader import load_document
from testfleet.suites.recordings import recognise
from testfleet.suites.recordings.keys import side_keys
from testfleet.suites.recordings.locators import Unmappable, side_locator, side_target

URL = "http://127.0.0.1:8702/app/"


def command(name: str, target: str = "", value: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"c-{name}",
        "comment": "",
        "command": name,
        "target": target,
        "targets": [],
        "value": value,
        **extra,
    }


def project(*tests: dict[str, Any], suites: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": "p",
        "version": "2.0",
        "name": "Demo",
        "url": URL,
        "tests": list(tests),
        "suites": suites or [],
        "urls": [URL],
        "plugins": [],
    }


def side_test(name: str, *commands: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"t-{name}", "name": name, "commands": list(commands)}


def steps(*commands: dict[str, Any]) -> list[dict[str, Any]]:
    """The short-form steps of one test made of ``commands``, names dropped."""
    document = project(side_test("t", *commands))
    recording = recognise(document, "p.side")
    assert recording is not None
    load_document(document, {}, "p.side")  # it loads as a suite
    return [
        {k: v for k, v in s.items() if k != "name"} for s in recording.suite["tests"][0]["steps"]
    ]


def problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(SuiteError) as caught:
        load_document(document, {}, "p.side")
    return caught.value.problems


COMMANDS: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "open (resolved against the project's URL)": (
        [
            command("open", "/login"),
            command("open", "settings"),
            command("open", "https://other.test/x"),
        ],
        [
            {"navigate": "/login"},
            {"navigate": "/app/settings"},
            {"navigate": "https://other.test/x"},
        ],
    ),
    "set window size": (
        [command("setWindowSize", "1280x800")],
        [{"set_viewport": {"width": 1280, "height": 800}}],
    ),
    "click, double click, mouse over, check, uncheck": (
        [
            command("click", "id=a"),
            command("doubleClick", "id=b"),
            command("mouseOver", "id=c"),
            command("check", "id=d"),
            command("uncheck", "id=e"),
        ],
        [
            {"click": "#a"},
            {"double_click": "#b"},
            {"hover": "#c"},
            {"check": "#d"},
            {"uncheck": "#e"},
        ],
    ),
    "type": (
        [command("type", "name=q", "tea")],
        [{"type": {"selector": '[name="q"]', "text": "tea"}}],
    ),
    "send keys": (
        [command("sendKeys", "id=q", "tea${KEY_ENTER}")],
        [{"press": {"selector": "#q", "keys": "t e a Enter"}}],
    ),
    "select by label, by value, by text": (
        [
            command("select", "id=s", "label=Open"),
            command("select", "id=s", "value=o-1"),
            command("select", "id=s", "Shipped"),
        ],
        [
            {"select": {"selector": "#s", "option": "Open"}},
            {"fill": {"selector": "#s", "value": "o-1"}},
            {"select": {"selector": "#s", "option": "Shipped"}},
        ],
    ),
    "edit content, drag and drop": (
        [
            command("editContent", "css=[contenteditable]", "Hi"),
            command("dragAndDropToObject", "id=a", "id=b"),
        ],
        [
            {"fill": {"selector": "[contenteditable]", "value": "Hi"}},
            {"drag": {"from": "#a", "to": "#b"}},
        ],
    ),
    "assert and verify (soft) text, value, title": (
        [
            command("assertText", "id=h", "Hi"),
            command("verifyText", "id=h", "Hi"),
            command("assertNotText", "id=h", "Bye"),
            command("assertValue", "id=v", "1"),
            command("verifyNotValue", "id=v", "2"),
            command("assertTitle", "Home"),
        ],
        [
            {"assert_text": {"selector": "#h", "equals": "Hi"}},
            {"assert_text": {"selector": "#h", "equals": "Hi"}, "soft": True},
            {"assert_text": {"selector": "#h", "equals": "Bye"}, "not": True},
            {"assert_value": {"selector": "#v", "equals": "1"}},
            {"assert_value": {"selector": "#v", "equals": "2"}, "not": True, "soft": True},
            {"assert_title": {"equals": "Home"}},
        ],
    ),
    "assert element present, not present, checked, editable, selected": (
        [
            command("assertElementPresent", "id=a"),
            command("assertElementNotPresent", "id=a"),
            command("verifyChecked", "id=c"),
            command("assertNotChecked", "id=c"),
            command("assertEditable", "id=e"),
            command("assertNotEditable", "id=e"),
            command("assertSelectedValue", "id=s", "o-1"),
            command("assertSelectedLabel", "id=s", "Open"),
        ],
        [
            {"assert_exists": "#a"},
            {"assert_exists": "#a", "not": True},
            {"assert_checked": "#c", "soft": True},
            {"assert_checked": "#c", "not": True},
            {"assert_editable": "#e"},
            {"assert_editable": "#e", "not": True},
            {"assert_selected": {"selector": "#s", "equals": "o-1"}},
            {"assert_selected": {"selector": "#s", "equals": "Open"}},
        ],
    ),
    "wait for element visible, not visible, present, not present, editable, text": (
        [
            command("waitForElementVisible", "id=a", "3000"),
            command("waitForElementNotVisible", "id=a", "1500"),
            command("waitForElementPresent", "id=a", "3000"),
            command("waitForElementNotPresent", "id=a", "3000"),
            command("waitForElementEditable", "id=a", "3000"),
            command("waitForElementNotEditable", "id=a", "3000"),
            command("waitForText", "id=a", "done"),
        ],
        [
            {"wait": "#a", "timeout": 3.0},
            {"assert_hidden": "#a", "timeout": 1.5},
            {"assert_exists": "#a", "timeout": 3.0},
            {"assert_exists": "#a", "not": True, "timeout": 3.0},
            {"assert_editable": "#a", "timeout": 3.0},
            {"assert_editable": "#a", "not": True, "timeout": 3.0},
            {"assert_text": {"selector": "#a", "equals": "done"}},
        ],
    ),
    "alerts, confirmations and prompts: checked and answered in one step": (
        [
            command("assertAlert", "Saved!"),
            command("assertConfirmation", "Sure?"),
            command("dismissConfirmation"),
            command("acceptConfirmation"),
            command("assertPrompt", "Name?"),
            command("answerPrompt", "Alice"),
            command("dismissPrompt"),
            command("verifyPrompt", "Age?"),
            command("acceptAlert"),
        ],
        [
            {"dialog": {"text": {"equals": "Saved!"}}},
            {"dialog": {"text": {"equals": "Sure?"}, "action": "dismiss"}},
            {"dialog": {"action": "accept"}},
            {"dialog": {"text": {"equals": "Name?"}, "action": "accept", "answer": "Alice"}},
            {"dialog": {"action": "dismiss"}},
            {
                "dialog": {"text": {"equals": "Age?"}, "action": "accept"},
                "continue_on_failure": True,
            },
        ],
    ),
    "the WebDriver playback's dialog answers": (
        [
            command("assertConfirmation", "Sure?"),
            command("webdriverChooseCancelOnVisibleConfirmation"),
            command("webdriverChooseOkOnVisibleConfirmation"),
            command("webdriverAnswerOnVisiblePrompt", "Bob"),
            command("webdriverChooseCancelOnVisiblePrompt"),
            command("webdriverChooseOkOnVisiblePrompt"),
        ],
        [
            {"dialog": {"text": {"equals": "Sure?"}, "action": "dismiss"}},
            {"dialog": {"action": "accept"}},
            {"dialog": {"action": "accept", "answer": "Bob"}},
            {"dialog": {"action": "dismiss"}},
            {"dialog": {"action": "accept"}},
        ],
    ),
    "select frame": (
        [
            command("selectFrame", "index=0"),
            command("selectFrame", "id=pay"),
            command("selectFrame", "relative=parent"),
            command("selectFrame", "relative=top"),
        ],
        [
            {"frame": "xpath=(//iframe | //frame)[1]"},
            {"frame": "#pay"},
            {"frame": "parent"},
            {"frame": "top"},
        ],
    ),
    "pause, echo, execute script, run script": (
        [
            command("pause", "250"),
            command("echo", "hello"),
            command("executeScript", "return false"),
            command("runScript", "window.x = 1"),
        ],
        [
            {"wait": {"seconds": 0.25}},
            {"wait": {"seconds": 0}},
            {
                "script": (
                    "return Promise.resolve((function () {\nreturn false\n})"
                    ".apply(this, arguments)).then(() => null);"
                )
            },
            {
                "script": (
                    "const s = document.createElement('script'); s.text = \"window.x = 1\"; "
                    "document.body.appendChild(s); return null;"
                )
            },
        ],
    ),
    "commented out, disabled, set speed and debugger do nothing": (
        [
            command("//click", "id=a"),
            command("click", "id=b", skip=True),
            command("", ""),
            command("setSpeed", "100"),
            command("debugger"),
            command("click", "id=c"),
        ],
        [{"click": "#c"}],
    ),
}


@pytest.mark.parametrize("case", list(COMMANDS))
def test_each_command_maps_to_its_steps(case: str) -> None:
    recorded, expected = COMMANDS[case]
    assert steps(*recorded) == expected


LOCATORS = {
    "id": ("id=login", "#login"),
    "id that is not a CSS name": ("id=2fa:code", '[id="2fa:code"]'),
    "name": ("name=q", '[name="q"]'),
    "linkText": ("linkText=Sign out", 'a >> has_text="Sign out"'),
    "link": ('link=Say "hi"', 'a >> has_text="Say \\"hi\\""'),
    "partialLinkText": ("partialLinkText=out (now)", r"a >> has_text=/out \(now\)/"),
    "css": ("css=form > button.primary", "form > button.primary"),
    "xpath": ("xpath=//button[@type='submit']", "xpath=//button[@type='submit']"),
    "bare xpath": ("//a[contains(.,'x')]", "xpath=//a[contains(.,'x')]"),
}


@pytest.mark.parametrize("case", list(LOCATORS))
def test_each_locator_kind(case: str) -> None:
    recorded, expected = LOCATORS[case]
    assert side_locator(recorded) == expected


def test_targets_are_fallbacks_tried_in_order_and_unreadable_ones_left_out() -> None:
    fallbacks = [
        ["css=#gone", "css:finder"],
        ["id=go", "id"],
        ["dom=document.forms[0]", "dom"],
        ["xpath=//button[2]", "xpath:position"],
        ["id=go", "id"],
    ]
    assert side_target("css=#gone", fallbacks) == "#gone || #go || xpath=//button[2]"
    with pytest.raises(Unmappable, match="strategy 'dom' is not supported"):
        side_locator("dom=document.forms[0]")
    with pytest.raises(Unmappable, match="is not a locator"):
        side_locator("button.primary")


def test_send_keys_holds_modifiers_until_null_as_webdriver_does() -> None:
    assert side_keys("${KEY_CONTROL}a${KEY_NULL}${KEY_DELETE}") == "Control+a Delete"
    assert side_keys("${KEY_SHIFT}ab${KEY_SHIFT}c") == "Shift+a Shift+b c"
    assert side_keys("a b\t${KEY_DOWN}${KEY_F5}${KEY_BACK_SPACE}${KEY_NUMPAD3}") == (
        "a Space b Tab ArrowDown F5 Backspace Numpad3"
    )
    assert side_keys("${KEY_ALT}") == "Alt"
    with pytest.raises(Unmappable, match="KEY_WARP"):
        side_keys("${KEY_WARP}")


def test_the_projects_suites_choose_and_tag_its_tests() -> None:
    document = project(
        side_test("sign in", command("open", "/login")),
        side_test("checkout", command("open", "/checkout")),
        side_test("helper", command("open", "/")),
        suites=[
            {"id": "s1", "name": "Smoke", "tests": ["t-checkout", "t-sign in"]},
            {"id": "s2", "name": "Nightly", "tests": ["t-sign in"]},
        ],
    )
    suite = load_document(document, {}, "p.side")
    assert suite.name == "Demo"
    assert suite.base_url == "http://127.0.0.1:8702"
    assert [(t.name, t.tags) for t in suite.tests] == [
        ("checkout", ["Smoke"]),
        ("sign in", ["Smoke", "Nightly"]),
    ]
    assert [t.name for t in load_document(project(*document["tests"]), {}, "p.side").tests] == [
        "sign in",
        "checkout",
        "helper",
    ]


def test_titles_are_the_ides_own_comment_or_command_target_and_value() -> None:
    document = project(
        side_test(
            "t",
            command("click", "id=a", comment="the big button"),
            command("type", "id=pass", "s3cret"),
            command("assertText", "id=h", "Hi"),
        )
    )
    labels = [s.label for s in load_document(document, {}, "p.side").tests[0].steps]
    assert labels == ["the big button", "type id=pass", "assert text id=h Hi"]


def test_windows_are_switched_by_the_handles_the_ide_stored() -> None:
    assert steps(
        command("storeWindowHandle", "root"),
        command("click", "id=a", opensWindow=True, windowHandleName="win1"),
        command("click", "id=b", opensWindow=True, windowHandleName="win2"),
        command("selectWindow", "handle=${win2}"),
        command("close"),
        command("selectWindow", "handle=${win1}"),
        command("selectWindow", "handle=${root}"),
    ) == [
        {"click": "#a"},
        {"click": "#b"},
        {"switch_tab": {"index": 2}},
        {"close_tab": None},
        {"switch_tab": {"index": 1}},
        {"switch_tab": {"index": 0}},
    ]


def test_constants_and_run_need_no_page() -> None:
    document = project(
        side_test("login", command("open", "/login"), command("type", "id=user", "${user}")),
        side_test(
            "main",
            command("store", "alice", "user"),
            command("run", "login"),
            command("assert", "user", "alice"),
            command("verify", "user", "bob"),
            command("storeJson", '{"n": [1, 2]}', "data"),
            command("executeScript", "return ${data}.n.length === 2"),
        ),
        suites=[{"id": "s", "name": "S", "tests": ["t-main"]}],
    )
    suite = load_document(document, {}, "p.side")
    [run] = [s for s in suite.tests[0].steps if s.step_type == "group"]
    assert (run.name, [s.step_type for s in run.steps or []]) == ("run login", ["navigate", "type"])
    assert [s.input_data for s in run.steps or [] if s.step_type == "type"] == ["alice"]
    checks = [
        (s.input_data, s.expected_result, s.continue_on_failure)
        for s in suite.tests[0].steps
        if s.step_type == "custom"
    ]
    assert checks[:2] == [
        ('return String("alice");', "alice", False),
        ('return String("alice");', "bob", True),
    ]
    assert '{"n": [1, 2]}.n.length === 2' in str(checks[2][0])


def test_every_command_that_cannot_run_is_named_with_its_test_index_and_command() -> None:
    document = project(
        side_test(
            "t",
            command("open", "/"),
            command("clickAt", "id=a", "10,10"),
            command("myPlugin:doThing", "x"),
            command("click", "dom=document.body"),
            command("select", "id=s", "index=2"),
            command("selectWindow", "name=popup"),
            command("times", "3"),
            command("end"),
            command("end"),
            command("run", "nope"),
            command("pause", "soon"),
        ),
        suites=[{"id": "s", "name": "S", "tests": ["t-t", "t-missing"]}],
    )
    found = problems(document)
    assert "p.side: suites[0].tests: no test has the id 't-missing'" in found
    expected = [
        "p.side: tests[0].commands[1].clickAt: 'clickAt' has no meaning outside the Selenium "
        "IDE (a plugin's command, or one testfleet does not run); remove it or replace it",
        "p.side: tests[0].commands[2].myPlugin:doThing: 'myPlugin:doThing' has no meaning "
        "outside the Selenium IDE (a plugin's command, or one testfleet does not run); remove "
        "it or replace it",
        "p.side: tests[0].commands[3].click: the locator strategy 'dom' is not supported (use "
        "one of id, name, link, linkText, partialLinkText, css, xpath)",
        "p.side: tests[0].commands[4].select: choosing an option by index= is not supported: "
        "use label=",
        "p.side: tests[0].commands[5].selectWindow: select window takes handle=${name} (a "
        "window handle variable)",
        "p.side: tests[0].commands[8].end: end closes no if, while, times or for each",
        "p.side: tests[0].commands[9].run: there is no test named 'nope' in this project",
        "p.side: tests[0].commands[10].pause: pause takes milliseconds, not 'soon'",
    ]
    for line in expected:
        assert line in found


# -- variables and control flow (the step language's captures and blocks) ---------------

COUNT = (
    "return Promise.resolve((function () {\nreturn 2\n}).apply(this, arguments))"
    ".then((v) => JSON.stringify(v === undefined ? null : v));"
)

FLOW: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "store text, value, attribute, title: captured and used as @{name}": (
        [
            command("storeText", "id=h", "heading"),
            command("storeValue", "name=q", "query"),
            command("storeAttribute", "css=a.next@href", "next"),
            command("storeTitle", "title"),
            command("type", "id=q", "${heading} ${query} ${next} ${title}"),
        ],
        [
            {"capture": {"as": "heading", "text": "#h"}},
            {"capture": {"as": "query", "value": '[name="q"]'}},
            {"capture": {"as": "next", "attribute": "href", "selector": "a.next"}},
            {"capture": {"as": "title", "from": "title"}},
            {"type": {"selector": "#q", "text": "@{heading} @{query} @{next} @{title}"}},
        ],
    ),
    "execute script into a variable: its value as JSON and as text": (
        [
            command("executeScript", "return 2", "n"),
            command("type", "id=q", "${n}"),
            command("executeScript", "return ${n} + 1"),
        ],
        [
            {"capture": {"as": "n", "script": COUNT}},
            {"capture": {"as": "n__text", "script": "return String(@{n});"}},
            {"type": {"selector": "#q", "text": "@{n__text}"}},
            {
                "script": (
                    "return Promise.resolve((function () {\nreturn @{n} + 1\n})"
                    ".apply(this, arguments)).then(() => null);"
                )
            },
        ],
    ),
    "store of a text with variables in it is a script building the text": (
        [
            command("storeText", "id=h", "who"),
            command("store", "Hi ${who}!", "greeting"),
            command("store", "a", "twice"),
            command("store", "b", "twice"),
            command("echo", "${twice}"),
        ],
        [
            {"capture": {"as": "who", "text": "#h"}},
            {
                "capture": {
                    "as": "greeting",
                    "script": 'return "Hi " + String(String.raw`@{who}`) + "!";',
                }
            },
            {"capture": {"as": "twice", "script": 'return "a";'}},
            {"capture": {"as": "twice", "script": 'return "b";'}},
            {"wait": {"seconds": 0}},
        ],
    ),
    "if, else if, else": (
        [
            command("if", "${n} > 1"),
            command("click", "id=a"),
            command("elseIf", "${n} > 0"),
            command("click", "id=b"),
            command("else"),
            command("click", "id=c"),
            command("end"),
        ],
        [
            {
                "if": {"script": "return ($${n} > 1);"},
                "then": [{"click": "#a"}],
                "else": [
                    {
                        "if": {"script": "return ($${n} > 0);"},
                        "then": [{"click": "#b"}],
                        "else": [{"click": "#c"}],
                    }
                ],
            }
        ],
    ),
    "times, and an empty block does nothing": (
        [
            command("times", "3"),
            command("click", "id=a"),
            command("end"),
            command("if", "true"),
            command("end"),
        ],
        [
            {"repeat": 3, "steps": [{"click": "#a"}]},
            {"if": {"script": "return (true);"}, "then": [{"wait": {"seconds": 0}}]},
        ],
    ),
    "while, with the IDE's limit of rounds": (
        [
            command("executeScript", "return 2", "n"),
            command("while", "${n} < 5", "20"),
            command("click", "id=a"),
            command("end"),
        ],
        [
            {"capture": {"as": "n", "script": COUNT}},
            {"capture": {"as": "n__text", "script": "return String(@{n});"}},
            {
                "repeat": {"while": {"script": "return (@{n} < 5);"}, "max": 20},
                "steps": [{"click": "#a"}],
            },
        ],
    ),
    "do ... repeat if: once, then again while the condition holds": (
        [command("do"), command("click", "id=a"), command("repeatIf", "false", "10")],
        [
            {
                "group": "do",
                "steps": [
                    {"click": "#a"},
                    {
                        "repeat": {"while": {"script": "return (false);"}, "max": 9},
                        "steps": [{"click": "#a"}],
                    },
                ],
            }
        ],
    ),
    "for each over a stored list: once per item": (
        [
            command("storeJson", '["tea", "cake"]', "menu"),
            command("forEach", "menu", "dish"),
            command("type", "id=q", "${dish}"),
            command("end"),
        ],
        [
            {"wait": {"seconds": 0}},
            {
                "group": "for each menu dish",
                "steps": [
                    {"group": "dish = tea", "steps": [{"type": {"selector": "#q", "text": "tea"}}]},
                    {
                        "group": "dish = cake",
                        "steps": [{"type": {"selector": "#q", "text": "cake"}}],
                    },
                ],
            },
        ],
    ),
    "for each over a list the page gave: a counted repeat": (
        [
            command("executeScript", "return 2", "rows"),
            command("forEach", "rows", "row"),
            command("echo", "${row}"),
            command("end"),
        ],
        [
            {"capture": {"as": "rows", "script": COUNT}},
            {"capture": {"as": "rows__text", "script": "return String(@{rows});"}},
            {
                "group": "for each rows row",
                "steps": [
                    {"capture": {"as": "loop1__index", "script": "return 0;"}},
                    {
                        "repeat": {
                            "while": {"script": "return @{loop1__index} < @{rows}.length;"},
                            "max": 100,
                        },
                        "steps": [
                            {
                                "capture": {
                                    "as": "row",
                                    "script": "return JSON.stringify(@{rows}[@{loop1__index}]);",
                                }
                            },
                            {"capture": {"as": "row__text", "script": "return String(@{row});"}},
                            {"wait": {"seconds": 0}},
                            {
                                "capture": {
                                    "as": "loop1__index",
                                    "script": "return @{loop1__index} + 1;",
                                }
                            },
                        ],
                    },
                ],
            },
        ],
    ),
    "run: a use of the flow made of the other test (loaded: a group named after it)": (
        [command("run", "helper")],
        [{"use": "helper"}],
    ),
}


def unnamed(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for step in steps:
        bare = {k: v for k, v in step.items() if k != "name"}
        for block in ("steps", "then", "else"):
            if block in bare:
                bare[block] = unnamed(bare[block])
        out.append(bare)
    return out


@pytest.mark.parametrize("case", list(FLOW))
def test_each_variable_and_control_flow_command_maps_to_its_steps(case: str) -> None:
    recorded, expected = FLOW[case]
    document = project(
        side_test("t", *recorded),
        side_test("helper", command("open", "/")),
        suites=[{"id": "s", "name": "S", "tests": ["t-t"]}],
    )
    recording = recognise(document, "p.side")
    assert recording is not None
    load_document(document, {}, "p.side")  # it loads as a suite
    assert unnamed(recording.suite["tests"][0]["steps"]) == expected


def test_blocks_are_titled_by_their_commands_and_their_problems_said_where_recorded() -> None:
    document = project(
        side_test(
            "t",
            command("times", "3", comment="three rounds"),
            command("click", "id=a"),
            command("end"),
            command("times", "0"),
            command("end"),
            command("times", "many"),
            command("end"),
            command("forEach", "nothing", "x"),
            command("end"),
            command("while", "true"),
            command("else"),
            command("if", "true"),
            command("storeText", "id=a", "bad name"),
        )
    )
    recording = recognise(project(side_test("ok", *document["tests"][0]["commands"][:3])), "p")
    assert recording is not None
    assert recording.suite["tests"][0]["steps"][0]["name"] == "three rounds"
    found = problems(document)
    for line in [
        "p.side: tests[0].commands[3].times: times runs 1 to 100 rounds here, not 0",
        "p.side: tests[0].commands[5].times: times takes a number (or a variable stored from "
        "one), not 'many'",
        "p.side: tests[0].commands[7].forEach: no earlier command stores the list 'nothing'",
        "p.side: tests[0].commands[10].else: else must follow an if (or an else if) before its end",
        "p.side: tests[0].commands[9].while: this while has no end",
        "p.side: tests[0].commands[11].if: this if has no end",
    ]:
        assert line in found
