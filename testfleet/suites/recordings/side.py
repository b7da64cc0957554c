"""Selenium IDE projects (``.side``) as suites.

A project becomes one suite named after it: its suites' tests, each once, in
order (every test when it has no suites), each tagged with the names of the
suites it is in (``--tags`` picks a suite). ``base_url`` is the origin of the
project's ``url``; ``open`` targets resolve against that URL as the IDE does.
Each command becomes the step with the same Selenium meaning (``COMMANDS``);
``verify*`` are soft assertions, ``assert*`` hard ones. Locators and their
``targets`` fallbacks are alternatives (``testfleet.suites.recordings.locators``).

Variables, ``run`` (a ``use`` of a flow made of the test it runs), and the
control flow commands (if / else if / else / end, while, times, do / repeat if,
for each) are converted in ``testfleet.suites.recordings.side_flow``; every step made
is counted under the run's limits (``testfleet.suites.recordings.budget``). Commands
that have no meaning here (plugins, the IDE's own ``set speed``) are errors
naming the test, the command's index and the command, all at once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from testfleet.suites.recordings.base import Origin, Problems, Recording, Short, escape_env
from testfleet.suites.recordings.budget import Budget
from testfleet.suites.recordings.keys import side_keys
from testfleet.suites.recordings.locators import Unmappable, side_target
from testfleet.suites.recordings.side_flow import FLOW_COMMANDS, Command, Flow, Runs, parse_blocks

FORMAT = "selenium-ide"

_DIALOGS = {
    "assertAlert": None,
    "assertConfirmation": None,
    "assertPrompt": None,
    "acceptAlert": "accept",
    "acceptConfirmation": "accept",
    "dismissConfirmation": "dismiss",
    "answerPrompt": "accept",
    "dismissPrompt": "dismiss",
    # The WebDriver playback's names for answering the dialog that is showing.
    "webdriverChooseOkOnVisibleConfirmation": "accept",
    "webdriverChooseCancelOnVisibleConfirmation": "dismiss",
    "webdriverChooseOkOnVisiblePrompt": "accept",
    "webdriverChooseCancelOnVisiblePrompt": "dismiss",
    "webdriverAnswerOnVisiblePrompt": "accept",
}
_ANSWERS = frozenset({"answerPrompt", "webdriverAnswerOnVisiblePrompt"})
"""Commands whose target is the text typed into a prompt."""
_SKIPPED = frozenset({"setSpeed", "debugger"})
"""The IDE's own playback controls: nothing to do when a suite runs."""


def looks_like(document: Any) -> bool:
    """Whether ``document`` is a Selenium IDE project: tests made of ``commands``."""
    if not isinstance(document, dict) or not isinstance(document.get("tests"), list):
        return False
    tests = document["tests"]
    if tests and all(isinstance(t, dict) and "commands" in t for t in tests):
        return True
    return not tests and "suites" in document and "version" in document


def convert(project: dict[str, Any], problems: Problems, budget: Budget) -> Recording:
    """The suite equivalent to ``project`` (problems go to ``problems``, each at its place),
    counted as it converts under ``budget`` (``LimitError`` past it)."""
    name = project.get("name")
    url = project.get("url")
    if not isinstance(name, str) or not name.strip():
        problems.add("name", "a project needs a name (it names the suite)")
        name = "project"
    base = url if isinstance(url, str) and url.startswith(("http://", "https://")) else None
    if url and base is None:
        problems.add("url", f"must be an http(s) URL, not {url!r}")
    tests = [t for t in project["tests"] if isinstance(t, dict)]
    by_name = {str(t.get("name")): t for t in tests}
    chosen = _chosen(project, tests, problems)
    out_tests: list[dict[str, Any]] = []
    places: dict[str, str] = {}
    runs = Runs(by_name, {id(t): i for i, t in enumerate(project["tests"])}, budget)
    for test, tags in chosen:
        ti = runs.positions[id(test)]
        converter = _Test(Origin.of(base), base, runs, problems)
        title = str(test.get("name") or f"test {ti}")
        with budget.unit(f"test {title!r}"):
            steps = converter.test(test, f"tests[{ti}]")
        entry: dict[str, Any] = {"name": title}
        if tags:
            entry["tags"] = tags
        entry["steps"] = steps
        for path, where in converter.places.items():
            # A flow's steps are placed under flows.NAME, where the loader says their problems.
            at = path if path.startswith("flows.") else f"tests[{len(out_tests)}].{path}"
            places[at] = where
        out_tests.append(entry)
    suite: dict[str, Any] = {"name": name, "description": "Recorded with Selenium IDE"}
    if base:
        suite["base_url"] = Origin.of(base).base
    flows = {name: flow for name, flow in runs.flows.items() if flow["steps"]}
    if flows:
        suite["flows"] = flows
    suite["tests"] = out_tests
    return Recording(FORMAT, escape_env(suite), places)


def _chosen(
    project: dict[str, Any], tests: list[dict[str, Any]], problems: Problems
) -> list[tuple[dict[str, Any], list[str]]]:
    """The tests a run of the project runs (those in its suites, else all) and their suites."""
    by_id = {t.get("id"): t for t in tests}
    tags: dict[int, list[str]] = {}
    order: list[dict[str, Any]] = []
    for si, suite in enumerate(project.get("suites") or []):
        if not isinstance(suite, dict):
            continue
        for test_id in suite.get("tests") or []:
            test = by_id.get(test_id)
            if test is None:
                problems.add(f"suites[{si}].tests", f"no test has the id {test_id!r}")
                continue
            if id(test) not in tags:
                tags[id(test)] = []
                order.append(test)
            name = str(suite.get("name") or "")
            if name and name not in tags[id(test)]:
                tags[id(test)].append(name)
    if not order:
        return [(t, []) for t in tests]
    return [(t, tags[id(t)]) for t in order]


class _Test:
    """Converts one test's commands (and those of the tests it runs) into steps."""

    def __init__(
        self,
        origin: Origin,
        base: str | None,
        runs: Runs,
        problems: Problems,
    ) -> None:
        self.origin = origin
        self.base = base
        self.by_name = runs.by_name
        self.problems = problems
        self.budget = runs.budget
        self.places: dict[str, str] = {}
        self.flow = Flow(self, runs)
        self.tabs: list[str] = [""]
        """Tab names in the order they opened ("" the first; IDE window handle variables)."""
        self.tab = 0
        self.path = "steps"
        """Where the step being converted goes (``steps[3]``): a block's insides go below."""

    def test(self, test: dict[str, Any], where: str) -> list[Short]:
        commands = self.commands(test, where)
        self.flow.prepare(commands)
        self.flow.running = [str(test.get("name"))]  # a run of itself is a cycle too
        return self.steps(parse_blocks(commands, self.problems), "steps")

    def commands(self, test: dict[str, Any], where: str) -> list[Command]:
        raw = test.get("commands")
        if not isinstance(raw, list):
            self.problems.add(f"{where}.commands", "must be a list of commands")
            return []
        out = []
        for ci, command in enumerate(raw):
            name = command.get("command") if isinstance(command, dict) else None
            if not isinstance(name, str):
                self.problems.add(f"{where}.commands[{ci}]", "a command needs a command name")
                continue
            if not name or name.startswith("//") or command.get("skip"):
                continue  # blank, commented out or disabled: the IDE skips them too
            out.append(Command(command, f"{where}.commands[{ci}].{name}"))
        return out

    def steps(self, nodes: list[Any], path: str) -> list[Short]:
        """Steps for ``nodes`` (commands and blocks), their places recorded under ``path``
        (``steps``, ``steps[3].then``): blocks convert their insides at ``self.path``."""
        out: list[Short] = []
        pending: Command | None = None
        outer = self.path
        try:
            for node in nodes:
                if isinstance(node, Command) and _answered(node):
                    pending = node  # answered by the next command, if it is the answer
                    continue
                self.path = f"{path}[{len(out)}]"
                made = self._node(node, pending)
                if pending is not None and (made is None or made[1] is not pending):
                    out += self._placed(self._dialog(pending, None), pending, path, len(out))
                pending = None
                if made is not None:
                    out += self._placed(made[0], made[1], path, len(out))
            if pending is not None:
                out += self._placed(self._dialog(pending, None), pending, path, len(out))
        finally:
            self.path = outer
        return out

    def _placed(self, steps: list[Short], command: Command, path: str, at: int) -> list[Short]:
        self.budget.count(steps)  # as they are made: a limit stops the conversion here
        for i in range(len(steps)):
            self.places.setdefault(f"{path}[{at + i}]", command.where)
        return steps

    def _node(self, node: Any, pending: Command | None) -> tuple[list[Short], Command] | None:
        if not isinstance(node, Command):
            return self.flow.block(node)
        try:
            if pending is not None and node.name in _DIALOGS and _DIALOGS[node.name]:
                return self._dialog(pending, node), pending
            return self.command(node), node
        except Unmappable as exc:
            self.problems.add(node.where, str(exc))
            return None

    # -- one command ----------------------------------------------------------------------

    def command(self, c: Command) -> list[Short]:
        """The steps one (non-block) command becomes."""
        name = c.name
        if name in _SKIPPED:
            return []
        handler = _COMMANDS.get(name) or _ASSERTIONS.get(name.replace("verify", "assert", 1))
        if name in FLOW_COMMANDS:
            handler = _Test._flow_command
        if handler is None:
            raise Unmappable(
                f"{name!r} has no meaning outside the Selenium IDE (a plugin's command, or one "
                "testfleet does not run); remove it or replace it"
            )
        made = handler(self, c)
        soft = name.startswith("verify") and name != "verify"
        steps = [made] if isinstance(made, dict) else made
        for step in steps:
            step.setdefault("name", c.title)
            if soft:
                step["soft"] = True
        if c.raw.get("opensWindow"):
            handle = c.raw.get("windowHandleName")
            self.tabs.append(str(handle) if handle else f"window {len(self.tabs)}")
        return steps

    def _flow_command(self, c: Command) -> list[Short]:
        return self.flow.command(c)

    def text(self, c: Command, value: str) -> str:
        """``value`` with the IDE's ``${variables}`` and ``${nbsp}`` replaced."""
        return self.flow.text(c, value)

    def selector(self, c: Command, field: str = "target") -> str:
        locator = self.text(c, c.arg(field))
        fallbacks = c.raw.get("targets") if field == "target" else None
        if isinstance(fallbacks, list):  # the IDE puts variables in whichever locator it uses
            fallbacks = [
                [self.text(c, f[0]), *f[1:]]
                if isinstance(f, list) and f and isinstance(f[0], str)
                else f
                for f in fallbacks
            ]
        return side_target(locator, fallbacks)

    def _dialog(self, assertion: Command | None, answer: Command | None) -> list[Short]:
        body: Short = {}
        titles = []
        if assertion is not None:
            body["text"] = {"equals": self.text(assertion, assertion.arg("target"))}
            titles.append(assertion.title)
        if answer is not None:
            body["action"] = _DIALOGS[answer.name]
            if answer.name in _ANSWERS and answer.arg("target"):
                body["answer"] = self.text(answer, answer.arg("target"))
            titles.append(answer.title)
        soft = assertion is not None and assertion.name.startswith("verify")
        if answer is None and assertion is not None and "Prompt" in assertion.name:
            body["action"] = "accept"
        step: Short = {"dialog": body or None, "name": "; ".join(titles)}
        return [{**step, "continue_on_failure": True} if soft else step]


def _answered(c: Command) -> bool:
    """A confirmation or prompt check, which the next command may answer (one dialog step)."""
    return c.name.replace("verify", "assert", 1) in ("assertConfirmation", "assertPrompt")


def _open(t: _Test, c: Command) -> Short:
    url = t.text(c, c.arg("target"))
    absolute = urljoin(t.base, url) if t.base else url
    return {"navigate": t.origin.path(absolute)}


def _window_size(t: _Test, c: Command) -> Short:
    width, _, height = c.arg("target").partition("x")
    if not (width.strip().isdigit() and height.strip().isdigit()):
        raise Unmappable(f"the size is written WIDTHxHEIGHT, not {c.arg('target')!r}")
    # The IDE sizes the window; its page is what a test sees, so the size is the page's.
    return {"set_viewport": {"width": int(width), "height": int(height)}}


def _select_window(t: _Test, c: Command) -> Short:
    target = c.arg("target")
    if not target.startswith("handle=${") or not target.endswith("}"):
        raise Unmappable("select window takes handle=${name} (a window handle variable)")
    name = target[len("handle=${") : -1]
    if name not in t.tabs:
        raise Unmappable(
            f"no earlier command opens the window {name!r} or stores its handle (store "
            "window handle, or a command that opens a window)"
        )
    t.tab = t.tabs.index(name)
    return {"switch_tab": {"index": t.tab}}


def _store_window_handle(t: _Test, c: Command) -> list[Short]:
    name = c.arg("target")
    if not name:
        raise Unmappable("store window handle needs a variable name")
    t.tabs[t.tab] = name
    return []  # bookkeeping: select window switches by it


def _close(t: _Test, c: Command) -> Short:
    if len(t.tabs) > 1:
        del t.tabs[t.tab]
        t.tab = max(0, t.tab - 1)
    return {"close_tab": None}


def _select_frame(t: _Test, c: Command) -> Short:
    target = t.text(c, c.arg("target"))
    if target == "relative=top":
        return {"frame": "top"}
    if target == "relative=parent":
        return {"frame": "parent"}
    if target.startswith("index="):
        index = target[len("index=") :]
        if not index.isdigit():
            raise Unmappable(f"index= takes a frame's number (0 is the first), not {index!r}")
        return {"frame": f"xpath=(//iframe | //frame)[{int(index) + 1}]"}
    return {"frame": t.selector(c)}


def _element(key: str) -> Any:
    def make(t: _Test, c: Command) -> Short:
        return {key: t.selector(c)}

    return make


def _type(t: _Test, c: Command) -> Short:
    return {"type": {"selector": t.selector(c), "text": t.text(c, c.arg("value"))}}


def _send_keys(t: _Test, c: Command) -> Short:
    keys = side_keys(t.text(c, c.arg("value")))
    return {"press": {"selector": t.selector(c), "keys": keys}}


def _edit_content(t: _Test, c: Command) -> Short:
    return {"fill": {"selector": t.selector(c), "value": t.text(c, c.arg("value"))}}


def _select(t: _Test, c: Command) -> Short:
    option = t.text(c, c.arg("value"))
    strategy, sep, body = option.partition("=")
    if sep and strategy == "value":
        # fill picks a <select>'s option by its value first, as value= asks.
        return {"fill": {"selector": t.selector(c), "value": body}}
    if sep and strategy in ("id", "index"):
        raise Unmappable(f"choosing an option by {strategy}= is not supported: use label=")
    label = body if sep and strategy == "label" else option
    return {"select": {"selector": t.selector(c), "option": label}}


def _drag(t: _Test, c: Command) -> Short:
    return {"drag": {"from": t.selector(c), "to": side_target(t.text(c, c.arg("value")), None)}}


def _pause(t: _Test, c: Command) -> Short:
    ms = c.arg("target") or c.arg("value")
    if not ms.isdigit():
        raise Unmappable(f"pause takes milliseconds, not {ms!r}")
    return {"wait": {"seconds": int(ms) / 1000}}


def _echo(t: _Test, c: Command) -> Short:
    # Echo only prints; its title (the message) is what shows in the report.
    return {"wait": {"seconds": 0}, "name": f"echo {c.arg('target')}"}


def _script(t: _Test, c: Command) -> list[Short]:
    return t.flow.script(c)


def _wait_for(key: str, negate: bool = False) -> Any:
    def make(t: _Test, c: Command) -> Short:
        step: Short = {key: t.selector(c), **({"not": True} if negate else {})}
        ms = c.arg("value")
        if ms:
            if not ms.isdigit() or int(ms) == 0:
                raise Unmappable(f"the timeout is a number of milliseconds, not {ms!r}")
            step["timeout"] = int(ms) / 1000
        return step

    return make


def _wait_for_text(t: _Test, c: Command) -> Short:
    value = t.text(c, c.arg("value"))
    return {"assert_text": {"selector": t.selector(c), "equals": value}}


_COMMANDS: dict[str, Any] = {
    "open": _open,
    "setWindowSize": _window_size,
    "selectWindow": _select_window,
    "storeWindowHandle": _store_window_handle,
    "close": _close,
    "selectFrame": _select_frame,
    "click": _element("click"),
    "doubleClick": _element("double_click"),
    "mouseOver": _element("hover"),
    "check": _element("check"),
    "uncheck": _element("uncheck"),
    "type": _type,
    "sendKeys": _send_keys,
    "editContent": _edit_content,
    "select": _select,
    "dragAndDropToObject": _drag,
    "pause": _pause,
    "echo": _echo,
    "executeScript": _script,
    "executeAsyncScript": _script,
    "runScript": _script,
    "waitForElementVisible": _wait_for("wait"),
    "waitForElementNotVisible": _wait_for("assert_hidden"),
    "waitForElementPresent": _wait_for("assert_exists"),
    "waitForElementNotPresent": _wait_for("assert_exists", negate=True),
    "waitForElementEditable": _wait_for("assert_editable"),
    "waitForElementNotEditable": _wait_for("assert_editable", negate=True),
    "waitForText": _wait_for_text,
    **{name: lambda t, c: t._dialog(None, c) for name, action in _DIALOGS.items() if action},
}
"""Command -> its steps (assertions below; variables and blocks: ``side_flow``)."""


def _compare(key: str, field: str = "value", negate: bool = False) -> Any:
    def make(t: _Test, c: Command) -> Short:
        expected = t.text(c, c.arg(field))
        body: Short = {"equals": expected}
        if field == "value":
            body = {"selector": t.selector(c), **body}
        return {key: body, **({"not": True} if negate else {})}

    return make


def _state(key: str, negate: bool = False) -> Any:
    def make(t: _Test, c: Command) -> Short:
        return {key: t.selector(c), **({"not": True} if negate else {})}

    return make


_ASSERTIONS: dict[str, Any] = {
    "assertText": _compare("assert_text"),
    "assertNotText": _compare("assert_text", negate=True),
    "assertValue": _compare("assert_value"),
    "assertNotValue": _compare("assert_value", negate=True),
    "assertTitle": _compare("assert_title", field="target"),
    "assertSelectedValue": _compare("assert_selected"),
    "assertNotSelectedValue": _compare("assert_selected", negate=True),
    "assertSelectedLabel": _compare("assert_selected"),
    "assertNotSelectedLabel": _compare("assert_selected", negate=True),
    "assertElementPresent": _state("assert_exists"),
    "assertElementNotPresent": _state("assert_exists", negate=True),
    "assertChecked": _state("assert_checked"),
    "assertNotChecked": _state("assert_checked", negate=True),
    "assertEditable": _state("assert_editable"),
    "assertNotEditable": _state("assert_editable", negate=True),
    "assertAlert": lambda t, c: t._dialog(c, None),
}
"""``assert*`` commands (``verify*`` map here too, made soft)."""
