"""A run's metadata from the CI's environment: branch, commit, pull request, provider,
build URL and author.

Each provider is a row of ``PROVIDERS``: how to tell it runs this job, and for each
field the places to read it, in order (the first that gives a value wins). The
variables are the providers' documented ones:

- GitHub Actions: ``GITHUB_*``; a ``pull_request`` event builds a merge commit on
  ``refs/pull/N/merge``, so its source branch is ``GITHUB_HEAD_REF`` and its commit,
  number and author are read from the event's JSON (the file ``GITHUB_EVENT_PATH`` names);
- GitLab CI: ``CI_*``, ``GITLAB_USER_LOGIN`` (merge request pipelines: ``CI_MERGE_REQUEST_*``);
- Jenkins: ``BUILD_URL``, the Git plugin's ``GIT_*``, multibranch's ``BRANCH_NAME`` and
  ``CHANGE_*`` (a pull request's);
- CircleCI: ``CIRCLE_*``; Buildkite: ``BUILDKITE_*``;
- Azure Pipelines: its ``Build.*`` / ``System.PullRequest.*`` variables, as the agent
  exports them (``BUILD_SOURCEBRANCH``, ``SYSTEM_PULLREQUEST_SOURCEBRANCH``, ...).

A pull request's commit is its source branch's head where the CI says it, not the merge
commit the CI may build: that is the commit its author pushed, and the one two runs
share when they test the same code. Pure: the environment is a mapping given in, and a
file is read only through the ``read_file`` given in (the CLI's reads the disk).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from testfleet.results import RunMetadata

ReadFile = Callable[[str], str | None]
"""A file's text by path, None when it cannot be read."""
Parse = Callable[[str], str | None]
"""A raw value made a field's value, None when it gives none."""

_REF_PREFIXES = ("refs/heads/", "refs/remotes/origin/", "origin/")
_NOT_BRANCHES = ("refs/", "HEAD")
_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_PULL_REF = re.compile(r"refs/pull/(\d+)/")
_NUMBER = re.compile(r"(?:^|/)(\d{1,20})/?$")
_PLACEHOLDER = re.compile(r"{(\w+)}")


def _no_files(path: str) -> str | None:
    return None


def text(raw: str) -> str | None:
    """The value as it is, without surrounding blanks; None when blank."""
    value = raw.strip()
    return value or None


def branch(raw: str) -> str | None:
    """A branch name from a branch or ref (``refs/heads/x``, ``origin/x``); None for a
    tag, a pull request's ref or a detached ``HEAD``."""
    value = raw.strip()
    for prefix in _REF_PREFIXES:
        if value.startswith(prefix):
            return value.removeprefix(prefix) or None
    if not value or value.startswith(_NOT_BRANCHES):
        return None
    return value


def commit(raw: str) -> str | None:
    """A commit's hex id (lower case); None for anything else (Buildkite's ``HEAD``)."""
    value = raw.strip().lower()
    return value if _COMMIT.fullmatch(value) else None


def pull_ref(raw: str) -> str | None:
    """The pull request's number in a ``refs/pull/N/merge`` ref; None for other refs."""
    found = _PULL_REF.match(raw.strip())
    return found.group(1) if found else None


def number(raw: str) -> str | None:
    """A pull request's number, alone or ending its URL (``.../pull/42``); None for
    anything else (Buildkite's ``false``)."""
    found = _NUMBER.search(raw.strip())
    return found.group(1) if found else None


def web_url(raw: str) -> str | None:
    """An http(s) URL; None for anything else (it becomes a link in pages)."""
    value = raw.strip()
    return value if value.startswith(("https://", "http://")) and " " not in value else None


class _Environment:
    """The variables, and the JSON documents some of them name (each read once)."""

    def __init__(self, env: Mapping[str, str], read_file: ReadFile) -> None:
        self._env = env
        self._read_file = read_file
        self._documents: dict[str, Any] = {}

    def value(self, name: str) -> str | None:
        raw = self._env.get(name)
        return raw if raw and raw.strip() else None

    def document(self, name: str) -> Any:
        path = self.value(name)
        if path is None:
            return None
        if path not in self._documents:
            raw = self._read_file(path)
            try:
                self._documents[path] = json.loads(raw) if raw is not None else None
            except ValueError:
                self._documents[path] = None  # not JSON: the other sources still count
        return self._documents[path]


@dataclass(frozen=True)
class Var:
    """An environment variable's value."""

    name: str
    parse: Parse = text

    def read(self, env: _Environment) -> str | None:
        raw = env.value(self.name)
        return self.parse(raw) if raw is not None else None


@dataclass(frozen=True)
class JsonField:
    """A field (dotted path) of the JSON file an environment variable names."""

    file_var: str
    path: str
    parse: Parse = text

    def read(self, env: _Environment) -> str | None:
        found: Any = env.document(self.file_var)
        for part in self.path.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        if isinstance(found, bool) or not isinstance(found, (str, int)):
            return None
        return self.parse(str(found))


@dataclass(frozen=True)
class Template:
    """A URL made of variables (``{NAME}``), when every one of them is set."""

    pattern: str
    parse: Parse = web_url

    def read(self, env: _Environment) -> str | None:
        values = {name: env.value(name) for name in _PLACEHOLDER.findall(self.pattern)}
        if any(v is None for v in values.values()):
            return None
        quoted = {name: quote(str(v).strip(), safe=":/@") for name, v in values.items()}
        return self.parse(self.pattern.format(**quoted))


Source = Var | JsonField | Template


@dataclass(frozen=True)
class Provider:
    """How one CI is recognised, and where each field is read (first value wins)."""

    name: str
    """``RunMetadata.ci_provider``."""
    marker: str
    """The variable set in every job of this CI..."""
    marker_value: str | None
    """...to this value (case-insensitive); None: to any non-blank value."""
    branch: tuple[Source, ...]
    commit: tuple[Source, ...]
    pull_request: tuple[Source, ...]
    build_url: tuple[Source, ...]
    author: tuple[Source, ...]

    def runs(self, env: _Environment) -> bool:
        """This CI runs the job."""
        value = env.value(self.marker)
        if value is None:
            return False
        return self.marker_value is None or value.strip().lower() == self.marker_value


_GITHUB_EVENT = "GITHUB_EVENT_PATH"

PROVIDERS: tuple[Provider, ...] = (
    Provider(
        name="github",
        marker="GITHUB_ACTIONS",
        marker_value="true",
        branch=(Var("GITHUB_HEAD_REF", branch), Var("GITHUB_REF", branch)),
        commit=(
            JsonField(_GITHUB_EVENT, "pull_request.head.sha", commit),
            Var("GITHUB_SHA", commit),
        ),
        pull_request=(
            JsonField(_GITHUB_EVENT, "pull_request.number", number),
            Var("GITHUB_REF", pull_ref),
        ),
        build_url=(
            Template("{GITHUB_SERVER_URL}/{GITHUB_REPOSITORY}/actions/runs/{GITHUB_RUN_ID}"),
        ),
        author=(JsonField(_GITHUB_EVENT, "pull_request.user.login"), Var("GITHUB_ACTOR")),
    ),
    Provider(
        name="gitlab",
        marker="GITLAB_CI",
        marker_value="true",
        branch=(
            Var("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", branch),
            Var("CI_COMMIT_BRANCH", branch),
        ),
        commit=(Var("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", commit), Var("CI_COMMIT_SHA", commit)),
        pull_request=(Var("CI_MERGE_REQUEST_IID", number),),
        build_url=(Var("CI_JOB_URL", web_url), Var("CI_PIPELINE_URL", web_url)),
        author=(Var("GITLAB_USER_LOGIN"), Var("CI_COMMIT_AUTHOR")),
    ),
    Provider(
        name="jenkins",
        marker="JENKINS_URL",
        marker_value=None,
        branch=(
            Var("CHANGE_BRANCH", branch),
            Var("BRANCH_NAME", branch),
            Var("GIT_LOCAL_BRANCH", branch),
            Var("GIT_BRANCH", branch),
        ),
        commit=(Var("GIT_COMMIT", commit),),
        pull_request=(Var("CHANGE_ID", number),),
        build_url=(Var("BUILD_URL", web_url),),
        author=(Var("CHANGE_AUTHOR"), Var("GIT_AUTHOR_NAME")),
    ),
    Provider(
        name="circleci",
        marker="CIRCLECI",
        marker_value="true",
        branch=(Var("CIRCLE_BRANCH", branch),),
        commit=(Var("CIRCLE_SHA1", commit),),
        pull_request=(Var("CIRCLE_PR_NUMBER", number), Var("CIRCLE_PULL_REQUEST", number)),
        build_url=(Var("CIRCLE_BUILD_URL", web_url),),
        author=(Var("CIRCLE_USERNAME"),),
    ),
    Provider(
        name="buildkite",
        marker="BUILDKITE",
        marker_value="true",
        branch=(Var("BUILDKITE_BRANCH", branch),),
        commit=(Var("BUILDKITE_COMMIT", commit),),
        pull_request=(Var("BUILDKITE_PULL_REQUEST", number),),
        build_url=(Var("BUILDKITE_BUILD_URL", web_url),),
        author=(Var("BUILDKITE_BUILD_AUTHOR"), Var("BUILDKITE_BUILD_CREATOR")),
    ),
    Provider(
        name="azure",
        marker="TF_BUILD",
        marker_value="true",
        branch=(
            Var("SYSTEM_PULLREQUEST_SOURCEBRANCH", branch),
            Var("BUILD_SOURCEBRANCH", branch),
        ),
        commit=(
            Var("SYSTEM_PULLREQUEST_SOURCECOMMITID", commit),
            Var("BUILD_SOURCEVERSION", commit),
        ),
        pull_request=(
            Var("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", number),
            Var("SYSTEM_PULLREQUEST_PULLREQUESTID", number),
        ),
        build_url=(
            Template(
                "{SYSTEM_COLLECTIONURI}{SYSTEM_TEAMPROJECT}/_build/results?buildId={BUILD_BUILDID}"
            ),
        ),
        author=(Var("BUILD_REQUESTEDFOR"),),
    ),
)
"""The CIs recognised, in the order they are tried."""


def _first(sources: tuple[Source, ...], env: _Environment) -> str | None:
    for source in sources:
        value = source.read(env)
        if value is not None:
            return value
    return None


def _valid(fields: dict[str, str | None]) -> RunMetadata:
    """The fields as ``RunMetadata``, each one the model refuses (a branch name too long,
    an author with control characters) left out: a CI's odd value never stops a run."""
    kept: dict[str, str] = {}
    for name, value in fields.items():
        if value is None:
            continue
        try:
            RunMetadata.model_validate({name: value})
        except ValidationError:
            continue
        kept[name] = value
    return RunMetadata.model_validate(kept)


def ci_metadata(env: Mapping[str, str], read_file: ReadFile = _no_files) -> RunMetadata:
    """What the CI running this job says of it (every field None outside a known CI, or
    where the CI does not say). ``read_file`` reads the files the environment names
    (GitHub's event JSON); without it they count as absent."""
    environment = _Environment(env, read_file)
    found = next((p for p in PROVIDERS if p.runs(environment)), None)
    if found is None:
        return RunMetadata()
    return _valid(
        {
            "branch": _first(found.branch, environment),
            "commit": _first(found.commit, environment),
            "pull_request": _first(found.pull_request, environment),
            "ci_provider": found.name,
            "build_url": _first(found.build_url, environment),
            "author": _first(found.author, environment),
        }
    )
