"""One round trip that finds an element and says whether a user could act on it now.

Finding an element, asking ``is_displayed`` (which ships Selenium's ~40 KB
visibility atom) and ``is_enabled`` are three WebDriver commands, each a round
trip through the Grid hub and node (~10-15 ms each once warm, far more on a busy
machine). Clicks and typing poll that question until the element is ready, so
the probe below asks it in one ``execute_script`` and also returns the field's
current value (typing then skips ``clear`` when the field is already empty).

"Visible" follows what the atom checks that matters for acting on an element:
CSS ``display``/``visibility``/``content-visibility`` on it and its ancestors,
opacity 0, and a non-empty box (its own or, for inline wrappers, a
descendant's). "Enabled" is ``:disabled`` (form controls, and controls inside a
disabled fieldset). The action itself is still checked by chromedriver, which
rejects a covered or non-interactable element; the executor retries those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from selenium.common.exceptions import InvalidSelectorException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

READY_JS = r"""
const [kind, selector] = arguments;
let el;
try {
  el = kind === "xpath"
    ? document.evaluate(selector, document, null,
        XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue
    : document.querySelector(selector);
} catch (e) {
  return ["invalid", null, String((e && e.message) || e)];
}
if (!el) return ["missing", null, null];
if (!(el instanceof Element)) return ["invalid", null, "the XPath selects no element"];
const sized = (node) => {
  const box = node.getBoundingClientRect();
  return box.width > 0 && box.height > 0;
};
const styled = !el.checkVisibility
  || el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
if (!styled || !(sized(el) || Array.from(el.querySelectorAll("*")).some(sized))) {
  return ["hidden", el, null];
}
if (el.matches(":disabled")) return ["disabled", el, null];
return ["ready", el, typeof el.value === "string" ? el.value : null];
"""

State = Literal["missing", "hidden", "disabled", "ready"]
_STATES: frozenset[str] = frozenset({"missing", "hidden", "disabled", "ready"})


@dataclass(frozen=True)
class Readiness:
    """What the probe saw of the first element matching a selector."""

    state: State
    element: WebElement | None
    value: str | None
    """The form control's current value; None for elements without one."""


def probe(driver: WebDriver, by: str, selector: str) -> Readiness:
    """The first element matching ``selector`` (``By.CSS_SELECTOR`` or ``By.XPATH``) and
    whether it is ready to act on. Raises ``InvalidSelectorException`` for a selector
    the page cannot parse, as ``find_elements`` would."""
    kind = "xpath" if by == By.XPATH else "css"
    answer = driver.execute_script(READY_JS, kind, selector)
    if not isinstance(answer, list) or len(answer) != 3:
        raise WebDriverException(f"element probe answered {answer!r}")
    state, element, extra = answer
    if state == "invalid":
        raise InvalidSelectorException(f"invalid selector: {extra}")
    if state not in _STATES:
        raise WebDriverException(f"element probe answered state {state!r}")
    value = extra if isinstance(extra, str) else None
    return Readiness(state, cast(WebElement | None, element), value)
