"""The HTML report's trace view: for a failed test with a kept trace, the same step
timeline as the trace's own viewer (console lines, requests, DOM snapshots and
screenshots per step), inlined so the report stays one self-contained file.

No script: the view is radio buttons and CSS (``testfleet.evidence.viewer``), and the
snapshots, the tested page's HTML, sit in ``<iframe sandbox srcdoc>`` with their
policy first. What it inlines is capped (``TRACE_INLINE_BYTES`` a test): the failing
step's snapshots and screenshot first; the view says what it left out, and where
the whole trace is (``testfleet trace``).
"""

from __future__ import annotations

import html
import shlex

from testfleet.artifacts import ArtifactStore, safe_name
from testfleet.errors import TestfleetError
from testfleet.evidence.viewer import inline_media, render_view, viewer_css
from testfleet.evidence.viewer_model import kept_traces, parse, read_zip
from testfleet.results import CaseResult

TRACE_INLINE_BYTES = 1_500_000
"""Snapshots and screenshots of one test's trace inlined into the report, at most."""
TRACE_CSS = viewer_css()
"""The view's stylesheet, for the report's ``<style>``."""


def trace_block(case: CaseResult, store: ArtifactStore) -> str:
    """The trace view of a failed test's last kept attempt, or ``""`` without one."""
    if case.status not in ("failed", "error"):
        return ""
    kept = kept_traces(case)
    if not kept:
        return ""
    attempt, name = max(kept.items())
    try:
        trace = parse(read_zip(store.read(case.run_id, name)))
    except (TestfleetError, OSError) as exc:
        why = html.escape(f"trace of attempt {attempt} ({name}) could not be read: {exc}")
        return f'<p class="dim">{why}</p>'
    fetch = f"testfleet trace {case.run_id} {shlex.quote(case.name)} -o trace.zip"
    # The report shows each screenshot once already (thumbnail and full size): the
    # view points there instead of inlining the same picture again.
    media = inline_media(
        trace, TRACE_INLINE_BYTES, screenshots_shown="shown with the test's screenshots"
    )
    view = render_view(trace, media, f"trace-{safe_name(case.case_id)}")
    return (
        f'<details class="trace" open><summary>trace of attempt {attempt}</summary>{view}'
        f'<p class="dim">the whole trace (every snapshot, console line and request): '
        f"<code>{html.escape(fetch)}</code></p></details>"
    )
