"""``assert_accessible``: axe-core run in the page through WebDriver, judged against the
test's accepted violations.

axe-core (``axe/axe.min.js``, vendored: no network at run time, see ``axe/NOTICE``) is
injected with ``execute_script`` into the current document when it is not there yet,
and into every ``<iframe>``/``<frame>`` below it (WebDriver switches into each, to
``MAX_FRAME_DEPTH`` levels, same-origin or not), then ``axe.run`` is called with
``execute_async_script`` with ``iframes: true``: axe-core's own frame messaging
checks each frame where it was injected and reports its elements with the frame's
selector first (``iframe#card >> button``). Open shadow roots are checked by
axe-core itself; closed ones cannot be reached by any script. A frame that cannot be
switched to (gone, or sandboxed without scripts) is left out, as axe-core leaves it.

Each element a violation is found on is ``new`` when its impact is at least
``fail_on`` (default ``serious``) and the baseline (``testfleet.visual.accessibility``)
does not list it, ``accepted`` when it does, ``reported`` otherwise; a ``new`` one
fails the step (``not: true``: passes only when there is one). Baseline entries not
found any more are reported as fixed. Up to ``MAX_SHOTS`` elements get a screenshot with
the element outlined (scrolled into view): ``new`` ones before ``reported`` ones, each
rule's first element before any rule's second.
"""

from __future__ import annotations

import contextlib
import functools
from importlib import resources
from typing import Any

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from testfleet.artifacts import safe_name
from testfleet.results import (
    IMPACTS,
    A11yNode,
    A11yViolation,
    AccessibilityResult,
    Impact,
)
from testfleet.suites.steps.model import Step, walk
from testfleet.suites.steps.quality import DEFAULT_FAIL_ON
from testfleet.visual import accessibility
from workers.executor.errors import StepFailed
from workers.executor.page import Handler, Page

AXE_VERSION = "4.14.1"
"""The vendored axe-core's version (``axe/NOTICE``)."""
MAX_FRAME_DEPTH = 3
"""How deep into nested frames axe-core is injected."""
MAX_SHOTS = 3
"""Most highlighted screenshots one step takes (each is a round trip and a PNG)."""
MAX_HTML_CHARS = 500
FRAME_WAIT_MS = 5000
"""How long axe-core waits for a frame's answer before leaving it out."""


@functools.cache
def axe_source() -> str:
    """axe-core's minified source, as shipped with the worker (read once)."""
    return (resources.files("workers.executor") / "axe" / "axe.min.js").read_text("utf-8")


HAS_AXE_JS = """
return {has: !!(window.axe && window.axe.version === arguments[0]),
        frames: document.querySelectorAll("iframe, frame").length};
"""
"""Whether this axe-core is in the document already, and whether it has frames."""

RUN_JS = """
const [context, options, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
window.axe.run(context, options).then(r => done({ok: true, url: r.url,
  violations: r.violations.map(v => ({id: v.id, impact: v.impact, description: v.description,
    help: v.help, helpUrl: v.helpUrl, tags: v.tags,
    nodes: v.nodes.map(n => ({target: n.target, html: n.html, impact: n.impact,
                              summary: n.failureSummary || ""}))}))}),
  e => done({ok: false, error: String((e && e.message) || e)}));
"""
"""Runs axe-core and returns what the report needs of its violations."""

HIGHLIGHT_JS = """
const target = arguments[0];
const before = window.__testfleetA11y;
if (before) {
  before.style.outline = before.getAttribute("data-testfleet-a11y") || "";
  before.style.outlineOffset = ""; before.removeAttribute("data-testfleet-a11y");
  delete window.__testfleetA11y;
}
let root = document, el = null;
for (let i = 0; i < target.length; i++) {
  const part = target[i];
  if (Array.isArray(part)) {
    for (let j = 0; j < part.length && root; j++) {
      el = root.querySelector(part[j]);
      root = j < part.length - 1 && el ? el.shadowRoot : root;
    }
  } else {
    el = root.querySelector(part);
  }
  if (!el) return false;
  if (i < target.length - 1) return false;  // inside a frame: the frame's own document
}
el.scrollIntoView({block: "center", inline: "nearest"});
el.setAttribute("data-testfleet-a11y", el.style.outline);
el.style.outline = "4px solid #d1242f";
el.style.outlineOffset = "2px";
window.__testfleetA11y = el;
return true;
"""
"""Outlines the element a violation names, and no other (frames: not reachable from here)."""
UNHIGHLIGHT_JS = """
const el = window.__testfleetA11y;
if (el) { el.style.outline = el.getAttribute("data-testfleet-a11y") || "";
  el.style.outlineOffset = ""; el.removeAttribute("data-testfleet-a11y");
  delete window.__testfleetA11y; }
"""


def inject(driver: WebDriver, depth: int = 0) -> None:
    """axe-core in the current document and in the frames below it."""
    seen = driver.execute_script(HAS_AXE_JS, AXE_VERSION)
    if not seen["has"]:
        driver.execute_script(axe_source())
    if depth >= MAX_FRAME_DEPTH or not seen["frames"]:
        return
    for frame in driver.find_elements(By.CSS_SELECTOR, "iframe, frame"):
        try:
            driver.switch_to.frame(frame)
        except WebDriverException:
            continue  # gone since it was found: axe-core leaves it out too
        try:
            with contextlib.suppress(WebDriverException):
                inject(driver, depth + 1)
        finally:
            driver.switch_to.parent_frame()


def target_text(target: list[Any]) -> str:
    """axe-core's target (frames' selectors, then the element's; a shadow host's path as a
    list) as one line: ``iframe#card >> fancy-counter >> button``."""
    parts = [" >> ".join(p) if isinstance(p, list) else str(p) for p in target]
    return " >> ".join(parts)


def baseline_name(page: Page, step: Step) -> str:
    """The step's name, or ``accessibility-N`` for the Nth unnamed ``assert_accessible``."""
    if step.name:
        return step.name
    unnamed = [
        s for s in walk(page.spec.test.steps) if s.kind == "assert_accessible" and not s.name
    ]
    number = next((i for i, s in enumerate(unnamed, 1) if s is step), len(unnamed) + 1)
    return f"accessibility-{number}"


def run_axe(page: Page, step: Step, timeout_s: float) -> tuple[str, list[dict[str, Any]]]:
    """axe-core's violations on the page as the step scopes it, and the page's URL."""
    context: dict[str, Any] = {}
    if step.selector:
        element = page.wait_attached(step.selector, timeout_s)
        context["include"] = [element]
    elif step.include:
        context["include"] = list(step.include)
    if step.exclude:
        context["exclude"] = list(step.exclude)
    options: dict[str, Any] = {
        "resultTypes": ["violations"],
        "iframes": True,
        "frameWaitTime": FRAME_WAIT_MS,
    }
    if step.tags:
        options["runOnly"] = {"type": "tag", "values": list(step.tags)}
    if step.disable_rules:
        options["rules"] = {rule: {"enabled": False} for rule in step.disable_rules}
    inject(page.driver)
    if page.script_timeout_s != timeout_s:
        page.driver.set_script_timeout(timeout_s)
        page.script_timeout_s = timeout_s
    answer = page.driver.execute_async_script(RUN_JS, context or {"exclude": []}, options)
    if not answer.get("ok"):
        raise StepFailed(f"axe-core could not check the page: {page.shown(answer.get('error'))}")
    return str(answer.get("url") or page.driver.current_url), list(answer["violations"])


def _impact(value: Any, default: Impact) -> Impact:
    return value if value in IMPACTS else default


def judge(
    raw: list[dict[str, Any]], accepted: set[str], fail_on: Impact, mask: Any
) -> tuple[list[A11yViolation], list[str], int]:
    """The violations with each element judged, the baseline's entries not found any more,
    and how many elements are ``new``."""
    least = IMPACTS.index(fail_on)
    violations, seen, new = [], set(), 0
    for v in raw:
        impact = _impact(v.get("impact"), "minor")
        nodes = []
        for n in v.get("nodes", []):
            target = mask(target_text(n.get("target") or []))
            entry = accessibility.entry(v["id"], target)
            seen.add(entry)
            node_impact = IMPACTS.index(_impact(n.get("impact"), impact))
            status = (
                "accepted" if entry in accepted else "new" if node_impact >= least else "reported"
            )
            new += status == "new"
            html = mask(str(n.get("html") or ""))[:MAX_HTML_CHARS]
            nodes.append(
                A11yNode(target=target, html=html, summary=mask(n["summary"]), status=status)
            )
        violations.append(
            A11yViolation(
                rule=v["id"],
                impact=impact,
                description=v.get("description") or "",
                help=v.get("help") or "",
                help_url=v.get("helpUrl") or "",
                tags=list(v.get("tags") or []),
                nodes=nodes,
            )
        )
    violations.sort(key=lambda v: (-IMPACTS.index(v.impact), v.rule))
    return violations, sorted(accepted - seen), new


def _shot_order(violations: list[A11yViolation]) -> list[tuple[A11yViolation, A11yNode]]:
    """Which elements get a screenshot, best first: new before reported, and each rule's
    first element before any rule's second."""
    order = []
    for status in ("new", "reported"):
        rounds = max((len(v.nodes) for v in violations), default=0)
        for i in range(rounds):
            order += [
                (v, v.nodes[i])
                for v in violations
                if i < len(v.nodes) and v.nodes[i].status == status
            ]
    return order


def _screenshots(page: Page, violations: list[A11yViolation], raw: list[dict[str, Any]]) -> None:
    recorder = page.visual
    if recorder is None:
        return
    targets = {
        (v["id"], page.mask(target_text(n.get("target") or []))): n.get("target") or []
        for v in raw
        for n in v.get("nodes", [])
    }
    taken = 0
    try:
        for violation, node in _shot_order(violations):
            if taken >= MAX_SHOTS:
                return
            target = targets.get((violation.rule, node.target))
            if not target or not page.driver.execute_script(HIGHLIGHT_JS, target):
                continue
            taken += 1
            png = page.driver.get_screenshot_as_png()
            name = f"step{recorder.step_number:02d}-a11y-{safe_name(violation.rule)}-{taken}.png"
            node.screenshot = recorder.save(name, png)
    finally:
        if taken:
            page.driver.execute_script(UNHIGHLIGHT_JS)


def _message(result: AccessibilityResult, step: Step) -> str:
    if step.negate:
        return f"expected accessibility violations of at least {result.fail_on} impact, found none"
    lines = [
        f"{result.new} new accessibility violation(s) of at least {result.fail_on} impact "
        f"on {result.url}:"
    ]
    for v in result.violations:
        news = [n.target for n in v.nodes if n.status == "new"]
        if news:
            shown = ", ".join(news[:3]) + (f" and {len(news) - 3} more" if len(news) > 3 else "")
            lines.append(f"- {v.rule} ({v.impact}): {v.help} — {shown} ({v.help_url})")
    lines.append(
        "fix them, or accept them with `testfleet baselines approve RUN_ID` (fail_on sets "
        "the least impact that fails)"
    )
    return "\n".join(lines)


def assert_accessible(page: Page, step: Step, timeout_s: float) -> None:
    fail_on = _impact(step.mode, DEFAULT_FAIL_ON)
    spec = page.spec
    name = baseline_name(page, step)
    identity = accessibility.identity(spec.suite, spec.test.name, name, spec.browser)
    version: int | None = None
    accepted: set[str] = set()
    context = page.visual.context if page.visual is not None else None
    if context is not None:
        version, accepted = accessibility.accepted(context.baselines, identity.id)
    url, raw = run_axe(page, step, timeout_s)
    violations, fixed, new = judge(raw, accepted, fail_on, page.mask)
    result = AccessibilityResult(
        baseline_id=identity.id,
        baseline_version=version,
        suite=spec.suite,
        test=page.mask(spec.test.name),
        name=page.mask(name),
        browser=spec.browser,
        url=page.mask(url),
        fail_on=fail_on,
        axe_version=AXE_VERSION,
        violations=violations,
        fixed=fixed,
        new=new,
    )
    _screenshots(page, violations, raw)
    if page.visual is not None:
        page.visual.accessibility = result
    if (new > 0) != step.negate:
        raise StepFailed(_message(result, step))


HANDLERS: dict[str, Handler] = {"assert_accessible": assert_accessible}
