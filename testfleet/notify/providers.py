"""Sending one run's notification to one target, each provider's way, through an
``httpx.Client`` (tests pass one on a local server or a ``MockTransport``).

Every request is tried up to ``notify.attempts`` times: again after a 5xx, a 429, a
GitHub 403 whose ``x-ratelimit-remaining`` is 0, or no answer, waiting as
``testfleet.backoff`` says (the provider's ``Retry-After`` first). Any other 4xx is final:
trying again would not help (a wrong token, a repository that is not there).

- GitHub (REST, ``X-GitHub-Api-Version: 2022-11-28``): a commit status on the run's
  commit (``POST /repos/{owner}/{repo}/statuses/{sha}``), and on a pull request the one
  comment whose body holds ``messages.marker``: listed (``GET .../issues/{n}/comments``,
  every page), then edited (``PATCH .../issues/comments/{id}``) or, when there is none,
  created (``POST .../issues/{n}/comments``). Found again by the marker, a comment is
  never posted twice, even when a delivery is redone after a crash.
- GitLab (REST v4, ``PRIVATE-TOKEN``): ``POST /projects/:id/statuses/:sha`` and the one
  merge request note with the marker (``GET``, ``PUT`` or ``POST
  /projects/:id/merge_requests/:iid/notes``).
- Slack: ``POST`` of a Block Kit message to the incoming webhook.
- Webhook: ``POST`` of the JSON body, signed (``signing``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from testfleet.backoff import Backoff, retry_after_s
from testfleet.notify import destinations, messages, signing
from testfleet.notify.targets import Target
from testfleet.settings import NotifySettings
from testfleet.targets.policy import TargetPolicy

# httpx logs every request's URL at INFO, and a Slack incoming webhook's URL is its
# secret: in a process that sends notifications, httpx says only what went wrong.
logging.getLogger("httpx").setLevel(logging.WARNING)

USER_AGENT = "testfleet-notifier"
GITHUB_API_VERSION = "2022-11-28"
PAGE_SIZE = 100
MAX_PAGES = 50
"""Comments pages read looking for the marker (5,000 comments)."""


class DeliveryFailed(Exception):
    """A request was refused for good, or never answered within the attempts."""


@dataclass
class Sender:
    """Requests with retries; counts what it sent."""

    client: httpx.Client
    settings: NotifySettings
    sleep: Callable[[float], None] = time.sleep
    policy: TargetPolicy = field(default_factory=TargetPolicy)
    """Where requests may go (``destinations``): checked before each one."""
    requests: int = 0
    attempts: int = 0

    def send(
        self, method: str, url: str, shown: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """``method url``, retried as the module says; ``shown``: what errors call the URL
        (a URL that is itself a secret is never put in one)."""
        where = shown or _where(url)
        refused = destinations.refused_addresses(self.policy, url)
        if refused is not None:  # not retried: only an operator's setting changes it
            raise DeliveryFailed(f"{method} {where}: {refused}")
        backoff = Backoff(self.settings.retry_first_s, self.settings.retry_max_s)
        problem = ""
        for attempt in range(1, self.settings.attempts + 1):
            self.attempts += 1
            wait_s: float | None = None
            try:
                self.requests += 1
                response = self.client.request(
                    method, url, timeout=self.settings.timeout_s, **kwargs
                )
            except httpx.TransportError as exc:
                problem = f"{method} {where}: no answer ({type(exc).__name__})"
            else:
                if not _retryable(response):
                    if response.status_code >= 400:
                        raise DeliveryFailed(_refused(method, where, response))
                    return response
                problem = _refused(method, where, response)
                wait_s = retry_after_s(response.headers)
                if wait_s is None:  # 0 is an answer: "now"
                    wait_s = _rate_reset_s(response)
            if attempt < self.settings.attempts:
                self.sleep(backoff.delay_s(attempt, wait_s))
        raise DeliveryFailed(f"{problem} (after {self.settings.attempts} attempts)")


def _where(url: str) -> str:
    """The URL without its query (a Slack webhook's path is its secret: never shown)."""
    return url.split("?", 1)[0]


def _retryable(response: httpx.Response) -> bool:
    if response.status_code >= 500 or response.status_code == 429:
        return True
    return response.status_code == 403 and response.headers.get("x-ratelimit-remaining") == "0"


def _rate_reset_s(response: httpx.Response) -> float | None:
    """GitHub's ``x-ratelimit-reset`` (epoch seconds) as a wait, when it says so."""
    reset = response.headers.get("x-ratelimit-reset")
    if reset is None or response.headers.get("x-ratelimit-remaining") != "0":
        return None
    try:
        return max(0.0, float(reset) - time.time())
    except ValueError:
        return None


def _refused(method: str, where: str, response: httpx.Response) -> str:
    text = response.text[:200].replace("\n", " ")
    return f"{method} {where}: HTTP {response.status_code} {text}".rstrip()


# --- each provider -----------------------------------------------------------------------


def _github(sender: Sender, target: Target, token: str, notice: messages.Notice) -> str:
    api, repo = target.url, target.repo
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": GITHUB_API_VERSION,
        "User-Agent": USER_AGENT,
    }
    meta = notice.metadata
    done = []
    if meta is not None and meta.commit:
        url = f"{api}/repos/{repo}/statuses/{meta.commit}"
        sender.send("POST", url, headers=headers, json=messages.github_status(notice))
        done.append(f"status on {meta.commit[:12]}")
    if meta is not None and meta.pull_request:
        number = meta.pull_request
        body = {"body": messages.comment_body(notice)}
        found = _github_comment(
            sender, f"{api}/repos/{repo}/issues/{number}/comments", headers, notice
        )
        if found is None:
            url = f"{api}/repos/{repo}/issues/{number}/comments"
            sender.send("POST", url, headers=headers, json=body)
            done.append(f"comment on #{number}")
        else:
            url = f"{api}/repos/{repo}/issues/comments/{found}"
            sender.send("PATCH", url, headers=headers, json=body)
            done.append(f"comment on #{number} updated")
    return "; ".join(done) or "nothing to post: the run has no commit nor pull request"


def _github_comment(
    sender: Sender, url: str, headers: dict[str, str], notice: messages.Notice
) -> int | None:
    """The id of the project's comment on the PR (by its marker), or None."""
    wanted = messages.marker(notice.run.projectId)
    for page in range(1, MAX_PAGES + 1):
        params = {"per_page": PAGE_SIZE, "page": page}
        listed = sender.send("GET", url, headers=headers, params=params).json()
        for comment in listed:
            if wanted in (comment.get("body") or ""):
                return int(comment["id"])
        if len(listed) < PAGE_SIZE:
            return None
    return None


def _gitlab(sender: Sender, target: Target, token: str, notice: messages.Notice) -> str:
    project = quote(target.repo or "", safe="")
    api = f"{target.url}/projects/{project}"
    headers = {"PRIVATE-TOKEN": token, "User-Agent": USER_AGENT}
    meta = notice.metadata
    done = []
    if meta is not None and meta.commit:
        url = f"{api}/statuses/{meta.commit}"
        sender.send("POST", url, headers=headers, json=messages.gitlab_status(notice))
        done.append(f"status on {meta.commit[:12]}")
    if meta is not None and meta.pull_request:
        notes = f"{api}/merge_requests/{meta.pull_request}/notes"
        body = {"body": messages.comment_body(notice)}
        found = _gitlab_note(sender, notes, headers, notice)
        if found is None:
            sender.send("POST", notes, headers=headers, json=body)
            done.append(f"note on !{meta.pull_request}")
        else:
            sender.send("PUT", f"{notes}/{found}", headers=headers, json=body)
            done.append(f"note on !{meta.pull_request} updated")
    return "; ".join(done) or "nothing to post: the run has no commit nor merge request"


def _gitlab_note(
    sender: Sender, url: str, headers: dict[str, str], notice: messages.Notice
) -> int | None:
    wanted = messages.marker(notice.run.projectId)
    for page in range(1, MAX_PAGES + 1):
        params = {"per_page": PAGE_SIZE, "page": page}
        response = sender.send("GET", url, headers=headers, params=params)
        for note in response.json():
            if wanted in (note.get("body") or ""):
                return int(note["id"])
        if not response.headers.get("x-next-page"):
            return None
    return None


def _slack(sender: Sender, webhook_url: str, notice: messages.Notice) -> str:
    shown = "the Slack webhook"  # its URL is the credential
    sender.send("POST", webhook_url, shown=shown, json=messages.slack_body(notice))
    return "message posted"


def _webhook(
    sender: Sender, target: Target, secret: str, notice: messages.Notice, delivery_id: str
) -> str:
    timestamp_s = int(time.time())
    body = json.dumps(
        messages.webhook_body(notice, timestamp_s, delivery_id), separators=(",", ":")
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.SIGNATURE_HEADER: signing.signature(secret, body),
        signing.TIMESTAMP_HEADER: str(timestamp_s),
        signing.DELIVERY_HEADER: delivery_id,
        signing.EVENT_HEADER: "run.completed",
    }
    response = sender.send("POST", target.url, headers=headers, content=body)
    return f"HTTP {response.status_code}"


def deliver(
    sender: Sender, target: Target, secret: str, notice: messages.Notice, delivery_id: str
) -> str:
    """Notify ``target`` of ``notice``; returns what was done, in a few words. Raises
    ``DeliveryFailed`` saying which request failed and how."""
    if target.kind == "github":
        return _github(sender, target, secret, notice)
    if target.kind == "gitlab":
        return _gitlab(sender, target, secret, notice)
    if target.kind == "slack":
        return _slack(sender, secret, notice)
    return _webhook(sender, target, secret, notice, delivery_id)
