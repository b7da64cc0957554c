"""Each provider's calls against a local server that checks every request against the
provider's published description (tests/data/provider_apis/: GitHub's
rest-api-description, GitLab's API docs), keeps state like the provider (one PR's
comments, one MR's notes) and answers 5xx, 429 and rate-limited 403s when told to."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from testfleet.notify import messages, providers, signing
from testfleet.notify.providers import DeliveryFailed, Sender
from testfleet.notify.targets import Target
from testfleet.results import RunMetadata, RunResult
from testfleet.settings import NotifySettings
from tests.fake_receivers import Answer, Received, receiver
from tests.openapi_requests import Description

COMMIT = "3816a68e0c4f2b1d9e7a6b5c4d3e2f1a0b9c8d7e"


def _run(status: str = "failed", name: str = "nightly") -> RunResult:
    cases = [
        {"case_id": "r-1", "run_id": "r", "suite": "shop", "name": "pays", "status": "passed"},
        {
            "case_id": "r-2",
            "run_id": "r",
            "suite": "shop",
            "name": "greets",
            "status": "failed" if status == "failed" else "passed",
            "error": "expected Goodbye, saw Welcome",
        },
    ]
    counts = {"passed": 1, "failed": 1} if status == "failed" else {"passed": 2}
    return RunResult.model_validate(
        {
            "runId": "r",
            "projectId": "shop",
            "name": name,
            "status": status,
            "createdMs": 1,
            "finishedMs": 2,
            "counts": counts,
            "tests": cases,
        }
    )


def _notice(status: str = "failed", pull_request: str | None = "7") -> messages.Notice:
    meta = RunMetadata(commit=COMMIT, pull_request=pull_request, branch="feature")
    links = {"dashboard": "http://gw/dashboard#/runs/r", "report": "http://api/r/report.html"}
    return messages.Notice(_run(status), meta, None, f"## run r: {status}", links)


class Provider:
    """A fake provider: validates, keeps comments, fails on demand."""

    def __init__(self, description: Description, token_header: str) -> None:
        self.description = description
        self.token_header = token_header
        self.problems: list[str] = []
        self.comments: dict[int, str] = {}
        self.next_id = 1000
        self.failures: list[Answer] = []
        """Answers given before the real ones, in order (a 502, a 429 ...)."""

    def add_others(self, count: int) -> None:
        for _ in range(count):
            self.next_id += 1
            self.comments[self.next_id] = "LGTM"

    def __call__(self, request: Received) -> Answer:
        found = self.description.problems(request.method, request.path, request.body)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if self.token_header not in headers:
            found.append(f"no {self.token_header} header")
        if found:
            self.problems += [f"{request.method} {request.path}: {p}" for p in found]
            return Answer(422, {"message": "; ".join(found)})
        if self.failures:
            return self.failures.pop(0)
        path = urlsplit(request.path).path
        query = dict(parse_qsl(urlsplit(request.path).query))
        if request.method == "GET":
            per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
            ids = sorted(self.comments)[(page - 1) * per_page : page * per_page]
            more = page * per_page < len(self.comments)
            extra = {"x-next-page": str(page + 1) if more else ""}
            return Answer(200, [{"id": i, "body": self.comments[i]} for i in ids], extra)
        body = json.loads(request.body)
        if request.method == "POST" and re.search(r"/(comments|notes)$", path):
            self.next_id += 1
            self.comments[self.next_id] = body["body"]
            return Answer(201, {"id": self.next_id, "body": body["body"]})
        if request.method in ("PATCH", "PUT"):
            comment_id = int(path.rsplit("/", 1)[1])
            self.comments[comment_id] = body["body"]
            return Answer(200, {"id": comment_id, "body": body["body"]})
        return Answer(201, {"id": 1, "state": body.get("state")})


SETTINGS = NotifySettings(secret_key="k" * 32, attempts=4, retry_first_s=0.01, retry_max_s=0.05)


def _sender(client: httpx.Client) -> tuple[Sender, list[float]]:
    waits: list[float] = []
    return Sender(client, SETTINGS, sleep=waits.append), waits


@pytest.fixture
def github() -> Iterator[tuple[Provider, str]]:
    fake = Provider(Description("github-rest-subset.json"), "authorization")
    with receiver(fake) as server:
        yield fake, server.url


@pytest.fixture
def gitlab() -> Iterator[tuple[Provider, str]]:
    fake = Provider(Description("gitlab-rest-subset.json", prefix="/api/v4"), "private-token")
    with receiver(fake) as server:
        yield fake, server.url + "/api/v4"


def _target(kind: str, url: str, repo: str) -> Target:
    return Target(id="nt_1", project="shop", kind=kind, url=url, repo=repo, secret="x", createdMs=1)  # type: ignore[arg-type]


def test_github_posts_a_status_and_keeps_one_pr_comment(github: tuple[Provider, str]) -> None:
    fake, url = github
    fake.add_others(130)  # the marker's comment lands on the second page
    target = _target("github", url, "acme/shop")
    with httpx.Client() as client:
        sender, _ = _sender(client)
        first = providers.deliver(sender, target, "ghp_token", _notice("failed"), "r.nt_1")
        again = providers.deliver(sender, target, "ghp_token", _notice("passed"), "r.nt_1")
    assert fake.problems == []
    assert first == f"status on {COMMIT[:12]}; comment on #7"
    assert again == f"status on {COMMIT[:12]}; comment on #7 updated"
    ours = [b for b in fake.comments.values() if messages.marker("shop") in b]
    assert len(ours) == 1, "one comment, updated in place"
    assert "run r: passed" in ours[0]


def test_github_status_is_sent_with_the_runs_state_and_link(github: tuple[Provider, str]) -> None:
    fake, _ = github
    seen: list[Received] = []
    original = fake.__call__

    def spy(request: Received) -> Answer:
        seen.append(request)
        return original(request)

    with receiver(spy) as server, httpx.Client() as client:
        sender, _ = _sender(client)
        target = _target("github", server.url, "acme/shop")
        providers.deliver(sender, target, "ghp_token", _notice("failed", None), "r.nt_1")
    [status] = seen
    assert status.path == f"/repos/acme/shop/statuses/{COMMIT}"
    assert status.json()["state"] == "failure"
    assert status.json()["context"] == "testfleet/shop"
    assert status.json()["target_url"] == "http://gw/dashboard#/runs/r"
    headers = {k.lower(): v for k, v in status.headers.items()}
    assert headers["authorization"] == "Bearer ghp_token"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert fake.problems == []


def test_5xx_429_and_rate_limits_are_retried_then_delivered(github: tuple[Provider, str]) -> None:
    fake, url = github
    reset = str(int(time.time()))
    fake.failures = [
        Answer(502, {"message": "Bad Gateway"}),
        Answer(429, {"message": "slow down"}, {"Retry-After": "0"}),
        Answer(
            403,
            {"message": "rate limit"},
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
        ),
    ]
    with httpx.Client() as client:
        sender, waits = _sender(client)
        providers.deliver(
            sender, _target("github", url, "acme/shop"), "t", _notice(pull_request=None), "d"
        )
    assert sender.requests == 4
    assert len(waits) == 3
    assert waits[1] == 0.0  # Retry-After: 0 is honoured
    assert fake.problems == []


def test_a_refusal_is_final_and_says_what_failed(github: tuple[Provider, str]) -> None:
    fake, url = github
    fake.failures = [Answer(404, {"message": "Not Found"})]
    target = _target("github", url, "acme/gone")
    with httpx.Client() as client:
        sender, _ = _sender(client)
        with pytest.raises(DeliveryFailed, match="HTTP 404") as failed:
            providers.deliver(sender, target, "t", _notice(), "d")
    assert sender.requests == 1
    assert "/repos/acme/gone/statuses/" in str(failed.value)


def test_an_unreachable_provider_is_given_up_after_the_attempts() -> None:
    with httpx.Client() as client:
        sender, waits = _sender(client)
        target = _target("webhook", "http://127.0.0.1:9/hook", "")
        with pytest.raises(DeliveryFailed, match=r"no answer.*after 4 attempts"):
            providers.deliver(sender, target, "s", _notice(), "d")
    assert len(waits) == 3


def test_gitlab_posts_a_status_and_keeps_one_mr_note(gitlab: tuple[Provider, str]) -> None:
    fake, url = gitlab
    fake.add_others(3)
    target = _target("gitlab", url, "acme/shop")
    with httpx.Client() as client:
        sender, _ = _sender(client)
        providers.deliver(sender, target, "glpat", _notice("failed"), "d")
        done = providers.deliver(sender, target, "glpat", _notice("passed"), "d")
    assert fake.problems == []
    assert done == f"status on {COMMIT[:12]}; note on !7 updated"
    assert sum(messages.marker("shop") in b for b in fake.comments.values()) == 1


def test_the_fake_refuses_what_the_description_does_not_allow(gitlab: tuple[Provider, str]) -> None:
    fake, url = gitlab
    with httpx.Client() as client:
        answer = client.post(
            f"{url}/projects/acme%2Fshop/statuses/{COMMIT}",
            json={"state": "failure"},
            headers={"PRIVATE-TOKEN": "t"},
        )
    assert answer.status_code == 422
    assert "is not one of" in fake.problems[0]


def test_a_webhook_is_signed_and_a_replay_is_refused() -> None:
    got: list[Received] = []

    def keep(request: Received) -> Answer:
        got.append(request)
        return Answer(204, b"")

    with receiver(keep) as hook, httpx.Client() as client:
        sender, _ = _sender(client)
        providers.deliver(
            sender, _target("webhook", hook.url + "/in", ""), "s3cret", _notice(), "r.nt_1"
        )
    [request] = got
    now = time.time()
    assert signing.verify("s3cret", request.body, request.headers, now, 300)
    assert not signing.verify("s3cret", request.body, request.headers, now + 301, 300)
    assert not signing.verify("s3cret", request.body + b" ", request.headers, now, 300)
    forged = {**request.headers, "X-Testfleet-Timestamp": str(int(now) + 5)}
    assert not signing.verify("s3cret", request.body, forged, now, 300)
    body: dict[str, Any] = request.json()
    assert body["failedTests"][0]["error"] == "expected Goodbye, saw Welcome"
    assert body["run"]["metadata"]["commit"] == COMMIT


def test_slack_messages_keep_within_block_kit_limits() -> None:
    long = "x" * 5000
    cases = [
        {
            "case_id": f"r-{i}",
            "run_id": "r",
            "suite": long,
            "name": f"t{i}",
            "status": "failed",
            "error": long,
        }
        for i in range(80)
    ]
    run = RunResult.model_validate(
        {
            "runId": "r",
            "projectId": "p",
            "name": long,
            "status": "failed",
            "createdMs": 1,
            "counts": {"failed": 80},
            "tests": cases,
        }
    )
    body = messages.slack_body(messages.Notice(run, links={"dashboard": "http://gw/d"}))
    blocks = body["blocks"]
    assert len(blocks) <= messages.SLACK_MAX_BLOCKS
    assert len(blocks[0]["text"]["text"]) <= messages.SLACK_MAX_HEADER_CHARS
    sections = [b for b in blocks if b["type"] == "section"]
    assert all(len(b["text"]["text"]) <= messages.SLACK_MAX_SECTION_CHARS for b in sections)
    assert len(sections) == 1 + messages.SLACK_MAX_FAILED_LISTED
    assert "60 more failed" in json.dumps(blocks)
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert all(
        len(e["text"]["text"]) <= messages.SLACK_MAX_BUTTON_CHARS for e in actions["elements"]
    )
    assert body["text"]  # the notification's fallback text


def test_a_slack_webhooks_url_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="testfleet")
    caplog.set_level("INFO")
    with receiver() as slack, httpx.Client() as client:
        sender, _ = _sender(client)
        secret_url = f"{slack.url}/services/T000/B000/s3cretpath"
        providers.deliver(sender, _target("slack", "hooks", ""), secret_url, _notice(), "d")
        assert len(slack.received()) == 1
    assert "s3cretpath" not in caplog.text


def test_a_failed_slack_delivery_does_not_say_its_url() -> None:
    with receiver(lambda _r: Answer(404, b"no_service")) as slack, httpx.Client() as client:
        sender, _ = _sender(client)
        secret_url = f"{slack.url}/services/T000/B000/s3cretpath"
        with pytest.raises(DeliveryFailed) as failed:
            providers.deliver(sender, _target("slack", "hooks", ""), secret_url, _notice(), "d")
    assert "the Slack webhook: HTTP 404" in str(failed.value)
    assert "s3cretpath" not in str(failed.value)
