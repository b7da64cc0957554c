"""A run as a Markdown summary: what a CI shows on the job's page.

``testfleet run --summary markdown FILE`` writes it (GitHub's ``$GITHUB_STEP_SUMMARY``,
a GitLab or Jenkins job description); the GitHub Action appends it to the job summary.
It says the totals, a table of the tests that did not pass with their error (and their
labels from history when known), the failure clusters and where the dashboard and the
HTML report are. Everything the run says (names, errors) is escaped: a ``|`` cannot
break the table, ``<script>`` shows as text, a newline cannot end a row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from api.reports import failure_message
from testfleet.payloads import RunLabels
from testfleet.results import GOOD_STATUSES, CaseResult, RunResult

MAX_FAILED_ROWS = 50
"""Failed tests listed in the table; the rest are counted in one line (GitHub keeps at
most 1 MiB of a step's summary)."""
MAX_ERROR_CHARS = 300
"""An error longer than this is cut (the HTML report has it whole)."""
NOT_PASSED_STATUSES = ("failed", "error", "cancelled")
"""Final statuses listed in the table, in this order (flaky tests passed: they show
in the totals)."""

_MARKS = {
    "passed": "✅",
    "flaky": "⚠️",
    "failed": "❌",
    "error": "❌",
    "cancelled": "⏹️",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#~])")


def escape(text: object, limit: int | None = None) -> str:
    """``text`` as literal Markdown on one line: control characters dropped, newlines
    as spaces, every character Markdown or HTML would read backslash-escaped; cut to
    ``limit`` characters (before escaping) with an ellipsis."""
    plain = _CONTROL.sub("", str(text)).replace("\r\n", "\n").replace("\n", " ").strip()
    if limit is not None and len(plain) > limit:
        plain = plain[: limit - 1].rstrip() + "…"
    return _SPECIAL.sub(r"\\\1", plain)


def _url(url: str) -> str:
    """``url`` safe inside ``(<...>)``: what would end it percent-encoded."""
    return url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")


def _totals(run: RunResult) -> str:
    good = sum(n for s, n in run.counts.items() if s in GOOD_STATUSES)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(run.counts.items()))
    duration = ""
    if run.finishedMs:
        duration = f" in {(run.finishedMs - run.createdMs) / 1000:.1f} s"
    return f"**{good}/{len(run.tests)} passed** ({counts}){duration}"


def _row(case: CaseResult, labels: list[str] | None) -> str:
    mark = _MARKS.get(case.status, "")
    error = failure_message(case) if case.status in ("failed", "error") else case.status
    cells = [
        f"{escape(case.suite)} › {escape(case.name)}",
        f"{mark} {escape(case.status)}",
        escape(error, MAX_ERROR_CHARS),
    ]
    if labels is not None:
        cells.append(", ".join(f"`{escape(label)}`" for label in labels))
    return "| " + " | ".join(cells) + " |"


def markdown_summary(
    run: RunResult,
    labels: RunLabels | None = None,
    links: Mapping[str, str] | None = None,
) -> str:
    """The run as Markdown: a heading with its status, the totals, a table of the tests
    that did not pass (with a ``labels`` column when ``labels`` are given), the failure
    causes shared by several tests, and ``links`` (``dashboard``, ``report``: absolute
    URLs) as a line of links."""
    mark = _MARKS.get(run.status, "")
    lines = [f"## {mark} testfleet run `{escape(run.runId)}`: {escape(run.status)}".strip()]
    lines += ["", f"{escape(run.name)}: {_totals(run)}", ""]
    labelled = {t.testId: t.labels for t in labels.tests} if labels is not None else None
    not_passed = [c for status in NOT_PASSED_STATUSES for c in run.tests if c.status == status]
    if not_passed:
        head = ["test", "status", "error"] + (["labels"] if labelled is not None else [])
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for case in not_passed[:MAX_FAILED_ROWS]:
            found = labelled.get(case.case_id, []) if labelled is not None else None
            lines.append(_row(case, found))
        if len(not_passed) > MAX_FAILED_ROWS:
            more = len(not_passed) - MAX_FAILED_ROWS
            lines += ["", f"… and {more} more: see the report."]
        lines.append("")
    if labels is not None and labels.clusters:
        failures = sum(c.count for c in labels.clusters)
        lines.append(f"{failures} failure(s), {len(labels.clusters)} cause(s)")
        names = {c.case_id: f"{c.suite} › {c.name}" for c in run.tests}
        for cluster in labels.clusters:
            if cluster.count > 1:
                tests = ", ".join(escape(names.get(t, t)) for t in cluster.tests)
                cause = escape(cluster.error or cluster.signature, MAX_ERROR_CHARS)
                lines.append(f"- {cluster.count} × {cause}: {tests}")
        lines.append("")
    shown = [(what, url) for what, url in (links or {}).items() if url]
    if shown:
        lines.append(" · ".join(f"[{escape(what)}](<{_url(url)}>)" for what, url in shown))
        lines.append("")
    return "\n".join(lines)
