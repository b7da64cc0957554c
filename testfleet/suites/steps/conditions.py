"""Conditions (``if:``, ``when:``, ``repeat: {until|while}``) in the short form and back.

A condition is a mapping with one question and, optionally, ``not: true`` and
``wait: seconds`` (how long it may take to become true; it is looked at once
by default)::

    {visible: "#banner"}   {hidden: ".spinner"}   {exists: "testid=row"}
    {url: /done}           {url: {matches: "/orders/\\d+$"}}     {title: Checkout}
    {text: {selector: h1, contains: Welcome}}
    {value: "@{count}", equals: "3"}                 # a captured or parameter value
    {script: "return window.cart.length > 2"}

The canonical form is ``testfleet.suites.steps.model.Condition``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from testfleet.suites.steps.base import MATCHES

if TYPE_CHECKING:
    from testfleet.suites.steps.model import Condition

_QUESTIONS = ("visible", "hidden", "exists", "url", "title", "text", "value", "script")
QUESTIONS_DOC = "visible, hidden, exists (a selector), url, title, text, value or script"


def to_condition(value: Any, where: str, problems: list[str]) -> dict[str, Any] | None:
    """The canonical condition for a short-form one; None after adding to ``problems``."""
    if not isinstance(value, dict):
        problems.append(f"{where}: a condition is a mapping such as {{visible: '#banner'}}")
        return None
    asked = [q for q in _QUESTIONS if q in value]
    if len(asked) != 1:
        problems.append(f"{where}: a condition asks exactly one of {QUESTIONS_DOC}")
        return None
    kind = asked[0]
    out: dict[str, Any] = {"kind": kind}
    extra = set(value) - {kind, "not", "wait", *(MATCHES if kind == "value" else ())}
    if extra:
        problems.append(f"{where}: unknown key {sorted(extra)[0]!r} in a {kind} condition")
        return None
    body = value[kind]
    if kind in ("visible", "hidden", "exists"):
        out["selector"] = body
    elif kind == "script":
        out["input"] = body
    elif kind in ("url", "title"):
        if not _compare(body, out, f"{where}.{kind}", problems):
            return None
    elif kind == "text":
        if not isinstance(body, dict) or "selector" not in body:
            problems.append(f"{where}.text: needs {{selector, equals|contains|matches}}")
            return None
        out["selector"] = body["selector"]
        rest = {k: v for k, v in body.items() if k != "selector"}
        if not _compare(rest, out, f"{where}.text", problems):
            return None
    else:  # value: the compare key sits beside it
        out["input"] = body
        if not _compare({m: value[m] for m in MATCHES if m in value}, out, where, problems):
            return None
    if "not" in value:
        out["negate"] = value["not"]
    if "wait" in value:
        out["wait_s"] = value["wait"]
    return out


def _compare(body: Any, out: dict[str, Any], where: str, problems: list[str]) -> bool:
    if isinstance(body, dict):
        given = [m for m in MATCHES if m in body]
        if len(given) != 1 or len(body) != 1:
            problems.append(f"{where}: takes a text, or one of {{equals|contains|matches: text}}")
            return False
        out["match"], out["expected"] = given[0], _text(body[given[0]])
        return True
    if body is None:
        problems.append(f"{where}: needs a text to compare with")
        return False
    out["match"], out["expected"] = "contains", _text(body)
    return True


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def condition_to_short(condition: Condition) -> dict[str, Any]:
    """``condition`` in the short form (``to_condition`` gives it back)."""
    kind = condition.kind
    compared: Any = condition.expected
    if condition.match != "contains":
        compared = {condition.match: condition.expected}
    out: dict[str, Any]
    if kind in ("visible", "hidden", "exists"):
        out = {kind: condition.selector}
    elif kind == "script":
        out = {kind: condition.input}
    elif kind in ("url", "title"):
        out = {kind: compared}
    elif kind == "text":
        out = {kind: {"selector": condition.selector, condition.match: condition.expected}}
    else:
        out = {kind: condition.input, condition.match or "contains": condition.expected}
    if condition.negate:
        out["not"] = True
    if condition.wait_s:
        out["wait"] = condition.wait_s
    return out
