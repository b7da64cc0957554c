"""The selector language: CSS by default, and engines beyond it, chained with ``>>``.

A selector is one or more alternatives separated by `` || ``, tried in order: the
first that matches any element is the one used (recorded selectors come with
fallbacks; each poll of a step tries them all, so they race within its timeout).
An alternative is one or more parts separated by `` >> ``; each part finds
elements inside every element the previous part found (scoping). A part is
``engine=body`` for the engines below, XPath when it starts with ``//``,
``(//`` or ``..``, and CSS otherwise (CSS is unchanged: ``a[href=x]`` is CSS).
Open shadow roots are searched by every engine except XPath. The worker's
JavaScript engine (``workers/executor/engine.js``) runs them; this module
checks what can be checked before anything is queued.

============== ================================================================
``css=``       CSS (the default; ``css=`` only needed when the CSS looks like an engine)
``xpath=``     XPath (relative to the scope when chained)
``text=``      the smallest elements whose text contains this, case-insensitive;
               ``text="Exact"`` for the whole text, ``text=/re/i`` a JS regex
``role=``      ARIA role (explicit or implicit), with ``[name="..."]`` (accessible
               name, same matching as ``text=``), ``[level=2]``, ``[checked]``,
               ``[disabled]``, ``[expanded]``, ``[pressed]``, ``[selected]``,
               ``[include-hidden]``
``label=``     form controls by their label (``<label>``, ``aria-label``, ``aria-labelledby``)
``aria=``      the elements whose accessible name is exactly this (``aria=Sign in``), with
               ``[role="button"]`` to ask for a role too (Chrome Recorder's ``aria/``)
``placeholder=`` inputs by their placeholder
``testid=``    ``[data-testid=...]`` (the suite's ``testid_attribute`` names the attribute)
``nth=``       keep the Nth element found so far (0-based; -1 is the last)
``has_text=``  keep elements whose text contains this (quotes and /re/ as for ``text=``)
``visible=``   keep the visible (``true``) or hidden (``false``) elements
============== ================================================================
"""

from __future__ import annotations

import re

ENGINES: tuple[str, ...] = (
    "css",
    "xpath",
    "text",
    "role",
    "aria",
    "label",
    "placeholder",
    "testid",
    "nth",
    "has_text",
    "visible",
)
FILTERS = frozenset({"nth", "has_text", "visible"})
"""Engines that filter what earlier parts found rather than search inside it."""

_ARIA_ROLES = """
    alert alertdialog application article banner blockquote button caption cell checkbox
    code columnheader combobox complementary contentinfo definition deletion dialog
    directory document emphasis feed figure form generic grid gridcell group heading img
    insertion link list listbox listitem log main marquee math menu menubar menuitem
    menuitemcheckbox menuitemradio meter navigation none note option paragraph presentation
    progressbar radio radiogroup region row rowgroup rowheader scrollbar search searchbox
    separator slider spinbutton status strong subscript superscript switch tab table tablist
    tabpanel term textbox time timer toolbar tooltip tree treegrid treeitem
"""
ROLES = frozenset(_ARIA_ROLES.split())
"""ARIA 1.2 roles ``role=`` accepts."""
_ROLE_OPTIONS = frozenset(
    {"name", "level", "checked", "disabled", "expanded", "pressed", "selected", "include-hidden"}
)
_ENGINE_PART = re.compile(r"^([a-z_]+)=(.*)$", re.DOTALL)
_ROLE = re.compile(r"^([a-z]+)((?:\[[^\]]*\])*)$", re.DOTALL)
_ROLE_OPTION = re.compile(r"\[\s*([a-z-]+)\s*(?:=\s*(.*?))?\s*\]", re.DOTALL)
_ARIA_OPTION = re.compile(
    r"""\[\s*(\w+)\s*=\s*(?:"((?:\\.|[^"\\])*)"|'((?:\\.|[^'\\])*)'|([^\]]*?))\s*\]""", re.DOTALL
)
"""``[name="..."]``, ``[role='...']`` or ``[role=button]`` in an ``aria=`` body (a backslash
escapes a quote)."""


def split_alternatives(selector: str) -> list[str]:
    """``selector`` split at ``||`` outside quotes and brackets (alternatives stripped)."""
    return _split(selector, "||")


def split_parts(selector: str) -> list[str]:
    """One alternative split at ``>>`` outside quotes and brackets (parts stripped)."""
    return _split(selector, ">>")


def _split(selector: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    depth = 0
    i = 0
    while i < len(selector):
        char = selector[i]
        if quote:
            if char == "\\" and i + 1 < len(selector):
                current.append(selector[i : i + 2])
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth = max(0, depth - 1)
        elif selector.startswith(separator, i) and depth == 0:
            parts.append("".join(current).strip())
            current = []
            i += len(separator)
            continue
        current.append(char)
        i += 1
    parts.append("".join(current).strip())
    return parts


def engine_of(part: str) -> tuple[str, str]:
    """(engine, body) of one part: ``("text", "Save")``, ``("css", "#go")``."""
    found = _ENGINE_PART.match(part)
    if found and found.group(1) in ENGINES:
        return found.group(1), found.group(2).strip()
    if part.startswith(("//", "(//", "..")):
        return "xpath", part
    return "css", part


def selector_problem(selector: str) -> str | None:
    """Why ``selector`` cannot work, or None (CSS and XPath are left to the browser)."""
    if not selector.strip():
        return "must not be empty"
    for alternative in split_alternatives(selector):
        if not alternative:
            return f"has an empty alternative around '||' in {selector!r}"
        for index, part in enumerate(split_parts(alternative)):
            if not part:
                return f"has an empty part around '>>' in {selector!r}"
            engine, body = engine_of(part)
            problem = _part_problem(engine, body, first=index == 0)
            if problem:
                return f"is not valid: {problem} (in {selector!r})"
    return None


def _part_problem(engine: str, body: str, first: bool) -> str | None:
    if engine in FILTERS and first:
        return f"{engine}= filters what an earlier part found: write e.g. 'li >> {engine}=...'"
    if not body:
        return f"{engine}= needs a value"
    if engine == "nth" and not re.fullmatch(r"-?\d+", body):
        return f"nth= takes a whole number (0 is the first, -1 the last), not {body!r}"
    if engine == "visible" and body not in ("true", "false"):
        return f"visible= takes true or false, not {body!r}"
    if engine == "role":
        return _role_problem(body)
    if engine == "aria":
        return _aria_problem(body)
    return None


def aria_parts(body: str) -> tuple[str, dict[str, str]]:
    """(accessible name, ``{"role": ..., "name": ...}`` options) of an ``aria=`` body:
    ``Sign in[role="button"]`` -> ``("Sign in", {"role": "button"})``."""
    options = {
        m.group(1): re.sub(r"\\(.)", r"\1", next(g for g in m.groups()[1:] if g is not None))
        for m in _ARIA_OPTION.finditer(body)
    }
    return _ARIA_OPTION.sub("", body).strip(), options


def _aria_problem(body: str) -> str | None:
    name, options = aria_parts(body)
    unknown = sorted(set(options) - {"name", "role"})
    if unknown:
        return f'aria= takes [name="..."] and [role="..."], not [{unknown[0]}]'
    if name and "name" in options:
        return "aria= takes the name before the brackets or as [name=...], not both"
    if not name and "name" not in options and "role" not in options:
        return f"aria= needs an accessible name or a [role=...], not {body!r}"
    return None


def _role_problem(body: str) -> str | None:
    found = _ROLE.match(body)
    if not found:
        return f"role= takes a role and optional [option=value] filters, not {body!r}"
    role, options = found.group(1), found.group(2)
    if role not in ROLES:
        return f"{role!r} is not an ARIA role (e.g. button, link, checkbox, textbox, heading)"
    for option in _ROLE_OPTION.finditer(options):
        if option.group(1) not in _ROLE_OPTIONS:
            allowed = ", ".join(sorted(_ROLE_OPTIONS))
            return f"role= filter [{option.group(1)}] is not one of {allowed}"
        if option.group(1) == "level" and not (option.group(2) or "").isdigit():
            return "role= filter [level=N] takes a whole number"
    return None
