"""One round trip that finds an element and says whether a user could act on it now.

Finding an element, asking ``is_displayed`` (which ships Selenium's ~40 KB
visibility atom), ``is_enabled`` and whether it is covered are separate
WebDriver commands, each a round trip through the Grid hub and node (~7-15 ms
each once warm, far more on a busy machine). Every action polls that question
until the element is ready, so ``probe`` asks it in one ``execute_script``
calling ``engine.js`` (the selector engine, the actionability checks), which
also returns the field's current value and checked state. Assertions read what
they compare in one ``inspect`` call the same way. The engine is installed in
each document the first time it is needed (or by ``navigate``'s own check), so
a poll sends a few hundred bytes, not the engine.

A probe that checks stability waits one animation frame inside the page
(``execute_async_script``): Playwright's "same box across two frames", ~8 ms
on average, paid only by pointer actions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal, cast

from selenium.common.exceptions import InvalidSelectorException, WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from testfleet.evidence.snapshot import disarm, riding_call, snapshot_of
from testfleet.suites.steps.base import Check

ENGINE_JS = files("workers.executor").joinpath("engine.js").read_text(encoding="utf-8")
ENGINE_KEY = "__testfleet_engine_" + hashlib.sha256(ENGINE_JS.encode()).hexdigest()[:12]
"""The window property the engine lives under (a new engine gets a new name)."""
INSTALL_JS = f"""if (!Object.prototype.hasOwnProperty.call(window, "{ENGINE_KEY}"))
Object.defineProperty(window, "{ENGINE_KEY}", {{configurable: true, value: (function () {{
{ENGINE_JS}
return {{probe, inspect, queryAll, fill, choose, operate}};
}})()}});"""
_MISSING = "__testfleet_engine_missing__"
_ARGS = "arguments[0], arguments[1], arguments[2], arguments[3]"


@dataclass(frozen=True)
class Script:
    """A call into the engine: ``small`` when the page has it installed, ``full`` (which
    installs it first) when ``small`` says it has not: the ~20 KB engine travels once per
    document, not with every poll."""

    small: str
    full: str
    is_async: bool = False


def _script(body: str, is_async: bool = False) -> Script:
    engine = f'const e = window["{ENGINE_KEY}"];'
    if is_async:
        missing = f'if (!e) return arguments[arguments.length - 1]("{_MISSING}");'
    else:
        missing = f'if (!e) return "{_MISSING}";'
    return Script(f"{engine} {missing} {body}", f"{INSTALL_JS}\n{engine} {body}", is_async)


PROBE = _script(f"let r; e.probe({_ARGS}, (x) => {{ r = x; }}); return r;")
PROBE_ASYNC = _script(f"e.probe({_ARGS}, arguments[arguments.length - 1]);", is_async=True)
INSPECT = _script(f"return e.inspect({_ARGS});")
QUERY = _script(
    "try { return e.queryAll(arguments[0], arguments[1]); }"
    " catch (x) { return {invalid: String((x && x.message) || x)}; }"
)
FILL = _script(
    f"let r; e.probe({_ARGS}, (x) => {{ r = x; }});"
    ' if (r[0] === "ready") r[3].error = e.fill(r[2], arguments[4]); return r;'
)
CHOOSE = _script(
    f"let r; e.probe({_ARGS}, (x) => {{ r = x; }});"
    ' if (r[0] === "ready") Object.assign(r[3], e.choose(r[2], arguments[4])); return r;'
)
OPERATE = _script("return e.operate(arguments[0], arguments[1], arguments[2]);")


def run(driver: WebDriver, script: Script, *args: Any) -> Any:
    """``script`` in the page: one round trip once the engine is there, two the first time.

    When a trace waits for a snapshot of the page (``testfleet.evidence.snapshot.arm``:
    the DOM after the step before), this call takes it on the way, before the engine
    runs: no round trip of its own."""
    execute = driver.execute_async_script if script.is_async else driver.execute_script
    rider = disarm(driver)
    if rider is None:
        answer = execute(script.small, *args)
    else:
        call = riding_call(script.small, len(args), script.is_async)
        pair: Any = None
        try:
            pair = execute(call, *args, rider.secrets, {"maxChars": rider.max_chars})
        finally:  # the trace hears of it however the call went
            pair = pair if isinstance(pair, list) and len(pair) == 2 else [None, None]
            rider.deliver(snapshot_of(pair[0]))
        answer = pair[1]
    if answer == _MISSING:
        answer = execute(script.full, *args)
    return answer


State = Literal[
    "ready", "missing", "hidden", "disabled", "readonly", "noteditable", "unstable", "covered"
]
_STATES: frozenset[str] = frozenset(State.__args__)  # type: ignore[attr-defined]
Retarget = Literal["none", "follow-label", "button-link"]


@dataclass(frozen=True)
class Readiness:
    """What the probe saw of the first element matching a selector."""

    state: State
    element: WebElement | None
    control: WebElement | None
    """The element acted on: a label's control for checks and fills, else ``element``."""
    info: dict[str, Any]
    """``value`` (a field's text, None without one), ``checked`` (True / False / "mixed" /
    None when it cannot be checked), ``tag``, ``type``, ``detail`` (what covers it), and
    what a combined action reported (``error``, ``options``)."""

    @property
    def value(self) -> str | None:
        value = self.info.get("value")
        return value if isinstance(value, str) else None


def probe(
    driver: WebDriver,
    selector: str,
    testid: str,
    checks: tuple[Check, ...] = (),
    retarget: Retarget = "none",
) -> Readiness:
    """The first element matching ``selector`` and whether it passes ``checks``.

    Raises ``InvalidSelectorException`` for a selector the page cannot use, as
    ``find_elements`` would.
    """
    script = PROBE_ASYNC if "stable" in checks else PROBE
    return _readiness(run(driver, script, selector, testid, list(checks), retarget))


def probe_and(
    driver: WebDriver,
    script: Script,
    selector: str,
    testid: str,
    checks: tuple[Check, ...],
    argument: str,
) -> Readiness:
    """``probe`` (without stability), then ``FILL`` or ``CHOOSE`` on the control when it
    is ready, in the same round trip; what the action reported is in ``info``."""
    return _readiness(run(driver, script, selector, testid, list(checks), "follow-label", argument))


def inspect(
    driver: WebDriver, selector: str, testid: str, kind: str, name: str | None = None
) -> dict[str, Any]:
    """What an assertion of ``kind`` reads of the elements matching ``selector``:
    ``count`` always, and the first element's ``value``/``checked``/... (see engine.js)."""
    answer = run(driver, INSPECT, selector, testid, kind, name or "")
    if not isinstance(answer, dict):
        raise WebDriverException(f"element inspection answered {answer!r}")
    if "invalid" in answer:
        raise InvalidSelectorException(f"invalid selector: {answer['invalid']}")
    return answer


def query(driver: WebDriver, selector: str, testid: str) -> list[WebElement]:
    """Every element matching ``selector``."""
    found = run(driver, QUERY, selector, testid)
    if isinstance(found, dict):
        raise InvalidSelectorException(f"invalid selector: {found.get('invalid')}")
    return [e for e in found if isinstance(e, WebElement)] if isinstance(found, list) else []


def operate(driver: WebDriver, selector: str, testid: str, operation: str) -> str:
    """Focus (``focus``) or blur (``blur``) the first element matching ``selector``, or blur
    the focused one (``blur-active``): ``ok``, ``missing`` or ``unfocusable``."""
    answer = str(run(driver, OPERATE, selector, testid, operation))
    if answer.startswith("invalid:"):
        raise InvalidSelectorException(f"invalid selector: {answer.removeprefix('invalid:')}")
    return answer


def _readiness(answer: Any) -> Readiness:
    if not isinstance(answer, list) or len(answer) != 4:
        raise WebDriverException(f"element probe answered {answer!r}")
    state, element, control, info = answer
    info = info if isinstance(info, dict) else {}
    if state == "invalid":
        raise InvalidSelectorException(f"invalid selector: {info.get('detail')}")
    if state not in _STATES:
        raise WebDriverException(f"element probe answered state {state!r}")
    return Readiness(
        cast(State, state),
        cast(WebElement | None, element),
        cast(WebElement | None, control),
        info,
    )
