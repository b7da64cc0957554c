"""Accessibility baselines: the violations a test has accepted, so only new ones fail.

An ``assert_accessible`` step's baseline is a set of ``rule target`` entries (an
axe-core rule id and the selector of an element it was found on), versioned in the
same store as the visual baselines (``BaselineStore``): its viewport is
``ACCESSIBILITY_VIEWPORT`` and in place of an image each version holds its entries as
JSON (``.a11y.json``). There is no baseline until one is approved (``testfleet
baselines approve RUN_ID``): a first run never accepts what it finds by itself.
"""

from __future__ import annotations

import json

from testfleet.errors import NotFoundError
from testfleet.results import AccessibilityResult
from testfleet.visual.baselines import BaselineIdentity, BaselineStore, BaselineVersion

ACCESSIBILITY_VIEWPORT = "accessibility"
"""What an accessibility baseline's identity has in place of a viewport."""
ACCEPTED_SUFFIX = ".a11y.json"


def entry(rule: str, target: str) -> str:
    """One accepted violation: ``color-contrast #footer > a``."""
    return f"{rule} {target}"


def identity(suite: str, test: str, name: str, browser: str) -> BaselineIdentity:
    return BaselineIdentity(suite, test, name, ACCESSIBILITY_VIEWPORT, browser)


def accepted(store: BaselineStore, baseline_id: str) -> tuple[int | None, set[str]]:
    """The newest version of a baseline and its entries; (None, empty) when there is none."""
    version = store.latest(baseline_id)
    if version is None:
        return None, set()
    try:
        raw = store.image(baseline_id, version.version, ACCEPTED_SUFFIX)
    except NotFoundError:
        return None, set()  # a visual baseline of the same id: not ours
    entries = json.loads(raw)
    return version.version, {str(e) for e in entries}


def found(result: AccessibilityResult) -> list[str]:
    """Every violation a step found, as baseline entries, sorted."""
    return sorted({entry(v.rule, n.target) for v in result.violations for n in v.nodes})


def approve_found(
    store: BaselineStore,
    result: AccessibilityResult,
    *,
    run_id: str,
    case_id: str,
    step: int,
    approved_by: str | None,
) -> BaselineVersion:
    """Record what a step found as the next version of its baseline."""
    entries = found(result)
    return store.add(
        identity(result.suite, result.test, result.name, result.browser),
        json.dumps(entries, indent=1).encode(),
        (0, 0),
        "approved",
        run_id=run_id,
        case_id=case_id,
        step=step,
        approved_by=approved_by,
        baseline_id=result.baseline_id,
        suffix=ACCEPTED_SUFFIX,
    )
