"""What a notification says of a finished run, in each provider's shape: a signed
webhook's JSON, a Slack Block Kit message, a GitHub or GitLab commit status, and the
one pull (merge) request comment, found again by its hidden marker.

Slack's limits (Block Kit reference): at most 50 blocks a message; a section's text at
most 3,000 characters; a header's plain text at most 150; a context block at most 10
elements; a button's text at most 75 and its URL at most 3,000. GitHub: a status's
``description`` is kept short (140 characters), a comment at most 65,536 characters;
GitLab notes at most 1,000,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from testfleet.payloads import RunLabels
from testfleet.results import GOOD_STATUSES, CaseResult, RunMetadata, RunResult

FAILED_STATUSES = ("failed", "error")
SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION_CHARS = 3000
SLACK_MAX_HEADER_CHARS = 150
SLACK_MAX_BUTTON_CHARS = 75
SLACK_MAX_URL_CHARS = 3000
SLACK_MAX_FAILED_LISTED = 20
GITHUB_MAX_DESCRIPTION_CHARS = 140
GITHUB_MAX_COMMENT_CHARS = 65_536
MAX_ERROR_CHARS = 300


def marker(project: str) -> str:
    """The hidden line that finds a project's comment again (one per PR and project)."""
    return f"<!-- testfleet:comment project={project} -->"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Notice:
    """A finished run, with what is known of it when the notifier sends."""

    run: RunResult
    metadata: RunMetadata | None = None
    labels: RunLabels | None = None
    markdown: str = ""
    """The run's Markdown summary (``api.report_markdown``): the PR comment's body."""
    links: dict[str, str] = field(default_factory=dict)
    """``dashboard`` and ``report``: absolute URLs."""

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.run.tests if c.status in FAILED_STATUSES]

    @property
    def passed_count(self) -> int:
        return sum(n for s, n in self.run.counts.items() if s in GOOD_STATUSES)

    def test_labels(self, case: CaseResult) -> list[str]:
        if self.labels is None:
            return []
        found = next((t for t in self.labels.tests if t.testId == case.case_id), None)
        return list(found.labels) if found is not None else []

    def headline(self) -> str:
        """``run 2026...: failed, 3/4 passed``."""
        run = self.run
        return f"run {run.runId}: {run.status}, {self.passed_count}/{len(run.tests)} passed"


def webhook_body(notice: Notice, timestamp_s: int, delivery_id: str) -> dict[str, Any]:
    """The generic webhook's JSON (docs/notifications.md#webhooks)."""
    run = notice.run
    return {
        "event": "run.completed",
        "delivery": delivery_id,
        "timestamp": timestamp_s,
        "run": {
            "id": run.runId,
            "project": run.projectId,
            "name": run.name,
            "status": run.status,
            "createdMs": run.createdMs,
            "finishedMs": run.finishedMs,
            "metadata": notice.metadata.model_dump() if notice.metadata else None,
        },
        "totals": {"total": len(run.tests), "passed": notice.passed_count, **run.counts},
        "failedTests": [
            {
                "id": c.case_id,
                "suite": c.suite,
                "name": c.name,
                "status": c.status,
                "error": c.error,
                "failedStep": c.failed_step,
                "labels": notice.test_labels(c),
            }
            for c in notice.failed
        ],
        "labelled": notice.labels is not None,
        "clusters": [c.dump() for c in notice.labels.clusters] if notice.labels else [],
        "links": notice.links,
    }


def _mrkdwn(text: str) -> str:
    """Text safe in Slack's mrkdwn: its three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(notice: Notice) -> dict[str, Any]:
    """An incoming-webhook message: a header, the totals, a section per failed test (up
    to ``SLACK_MAX_FAILED_LISTED``, then a count), buttons to the dashboard and report."""
    run = notice.run
    mark = ":white_check_mark:" if run.status == "passed" else ":x:"
    counts = ", ".join(f"{n} {s}" for s, n in sorted(run.counts.items()))
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(f"testfleet: {run.name} {run.status}", SLACK_MAX_HEADER_CHARS),
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _cut(
                    f"{mark} *{notice.passed_count}/{len(run.tests)} passed* ({counts})"
                    f" · run `{_mrkdwn(run.runId)}`",
                    SLACK_MAX_SECTION_CHARS,
                ),
            },
        },
    ]
    for case in notice.failed[:SLACK_MAX_FAILED_LISTED]:
        labels = " ".join(f"`{_mrkdwn(label)}`" for label in notice.test_labels(case))
        error = _mrkdwn(_cut(case.error or case.status, MAX_ERROR_CHARS))
        text = f"*{_mrkdwn(case.suite)} › {_mrkdwn(case.name)}* {labels}\n{error}"
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(text, SLACK_MAX_SECTION_CHARS)},
            }
        )
    more = len(notice.failed) - SLACK_MAX_FAILED_LISTED
    if more > 0:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"… and {more} more failed"}],
            }
        )
    buttons = [
        {
            "type": "button",
            "text": {
                "type": "plain_text",
                "text": _cut(f"Open the {what}", SLACK_MAX_BUTTON_CHARS),
            },
            "url": url,
        }
        for what, url in notice.links.items()
        if url and len(url) <= SLACK_MAX_URL_CHARS
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons[:25]})
    return {"text": notice.headline(), "blocks": blocks[:SLACK_MAX_BLOCKS]}


def github_status(notice: Notice) -> dict[str, Any]:
    """``POST /repos/{owner}/{repo}/statuses/{sha}``'s body."""
    state = {"passed": "success", "failed": "failure"}.get(notice.run.status, "error")
    body: dict[str, Any] = {
        "state": state,
        "description": _cut(notice.headline(), GITHUB_MAX_DESCRIPTION_CHARS),
        "context": f"testfleet/{notice.run.projectId}",
    }
    if notice.links.get("dashboard"):
        body["target_url"] = notice.links["dashboard"]
    return body


def gitlab_status(notice: Notice) -> dict[str, Any]:
    """``POST /projects/:id/statuses/:sha``'s body."""
    state = {"passed": "success", "cancelled": "canceled"}.get(notice.run.status, "failed")
    body: dict[str, Any] = {
        "state": state,
        "name": f"testfleet/{notice.run.projectId}",
        "description": _cut(notice.headline(), 255),
    }
    if notice.links.get("dashboard"):
        body["target_url"] = notice.links["dashboard"]
    return body


def comment_body(notice: Notice) -> str:
    """The PR / MR comment: the marker, then the run's Markdown summary (cut to fit)."""
    head = marker(notice.run.projectId) + "\n"
    return head + _cut(notice.markdown or notice.headline(), GITHUB_MAX_COMMENT_CHARS - len(head))
