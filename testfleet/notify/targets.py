"""A project's notification targets, kept in Redis (``keys.notify_targets``), each with
its secret sealed (``sealing``): a GitHub or GitLab token, a webhook's signing secret,
a Slack incoming webhook's URL (the URL is the credential)."""

from __future__ import annotations

import secrets
import time
from typing import Literal
from urllib.parse import urlsplit

import redis
from pydantic import BaseModel, Field

from testfleet import keys
from testfleet.errors import NotFoundError, UsageError
from testfleet.notify import destinations, sealing
from testfleet.settings import NotifySettings
from testfleet.targets.policy import TargetPolicy

Kind = Literal["webhook", "github", "gitlab", "slack"]
KINDS: tuple[Kind, ...] = ("webhook", "github", "gitlab", "slack")
GITHUB_API_URL = "https://api.github.com"
GITLAB_API_URL = "https://gitlab.com/api/v4"


class Target(BaseModel):
    """One target, as stored (``secret`` sealed)."""

    id: str
    project: str
    kind: Kind
    url: str
    """Webhook: where to POST; GitHub / GitLab: the REST API's base URL; Slack: its host
    (the whole URL is the secret)."""
    repo: str | None = None
    """GitHub ``owner/name``; GitLab the project's id or ``group/name`` path."""
    secret: str = Field(repr=False)
    createdMs: int

    def public(self) -> dict[str, object]:
        """What the API and the CLI show: never the secret."""
        return self.model_dump(exclude={"secret"})


def check_url(url: str, what: str) -> str:
    """``url`` when it is an http(s) URL with a host; else ``UsageError`` saying so."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{what} must be an http:// or https:// URL; got {url!r}")
    return url.rstrip("/") if what.endswith("API URL") else url


def _check_repo(kind: Kind, repo: str | None) -> str:
    if not repo or not repo.strip():
        name = "owner/name" if kind == "github" else "its id or group/name path"
        raise UsageError(f"a {kind} target needs its repository: --repo {name}")
    repo = repo.strip().strip("/")
    if kind == "github" and (repo.count("/") != 1 or " " in repo):
        raise UsageError(f"a GitHub repository is owner/name; got {repo!r}")
    return repo


class TargetStore:
    """Add, list, remove a project's targets; open a target's secret to send."""

    def __init__(
        self, client: redis.Redis, settings: NotifySettings, policy: TargetPolicy | None = None
    ) -> None:
        self._r = client
        self._settings = settings
        self._policy = policy or TargetPolicy()

    def add(
        self,
        project: str,
        kind: Kind,
        secret: str,
        url: str | None = None,
        repo: str | None = None,
    ) -> Target:
        """A new target; ``UsageError`` naming what to fix when something is missing."""
        if not secret:
            raise UsageError(f"a {kind} target needs its secret (token, signing secret or URL)")
        if kind == "webhook":
            if not url:
                raise UsageError("a webhook target needs --webhook URL")
            url, repo = check_url(url, "the webhook"), None
        elif kind == "slack":
            url, repo = urlsplit(check_url(secret, "the Slack webhook")).netloc, None
        else:
            default = GITHUB_API_URL if kind == "github" else GITLAB_API_URL
            url = check_url(url or default, f"the {kind} API URL")
            repo = _check_repo(kind, repo)
        # The refusal names the scheme, host and port only (a Slack URL's path is secret).
        refused = destinations.refused_url(self._policy, secret if kind == "slack" else url)
        if refused is not None:
            raise UsageError(refused)
        target = Target(
            id="nt_" + secrets.token_hex(6),
            project=project,
            kind=kind,
            url=url,
            repo=repo,
            secret=sealing.seal(self._settings, secret),
            createdMs=int(time.time() * 1000),
        )
        self._r.hset(keys.notify_targets(project), target.id, target.model_dump_json())
        return target

    def list(self, project: str) -> list[Target]:
        """The project's targets, oldest first."""
        raw = self._r.hvals(keys.notify_targets(project))
        found = [Target.model_validate_json(v) for v in raw]
        return sorted(found, key=lambda t: (t.createdMs, t.id))

    def get(self, project: str, target_id: str) -> Target:
        raw = self._r.hget(keys.notify_targets(project), target_id)
        if raw is None:
            raise NotFoundError(
                f"no notification target {target_id!r} in project {project!r}: "
                "see `testfleet notify list`"
            )
        return Target.model_validate_json(raw)

    def remove(self, project: str, target_id: str) -> None:
        if not self._r.hdel(keys.notify_targets(project), target_id):
            self.get(project, target_id)  # raises, naming it

    def secret(self, target: Target) -> str:
        """The target's secret, opened to make a request (never log it)."""
        return sealing.open_sealed(self._settings, target.secret)
