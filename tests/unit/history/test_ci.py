"""Run metadata from each CI's documented environment variables."""

from __future__ import annotations

import json

import pytest

from testfleet.history.ci import PROVIDERS, ci_metadata
from testfleet.results import RunMetadata

SHA = "3816a68e0c4f2b1d9a7c5e3f1b2d4c6e8a0f1e2d"
HEAD_SHA = "0123456789abcdef0123456789abcdef01234567"

CASES: dict[str, tuple[dict[str, str], RunMetadata]] = {
    "github push": (
        {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_REF": "refs/heads/release/2.0",
            "GITHUB_REF_NAME": "release/2.0",
            "GITHUB_HEAD_REF": "",
            "GITHUB_SHA": SHA.upper(),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "acme/shop",
            "GITHUB_RUN_ID": "7001",
            "GITHUB_ACTOR": "alice",
        },
        RunMetadata(
            branch="release/2.0",
            commit=SHA,
            ci_provider="github",
            build_url="https://github.com/acme/shop/actions/runs/7001",
            author="alice",
        ),
    ),
    "github tag": (
        {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/tags/v2.0", "GITHUB_SHA": SHA},
        RunMetadata(commit=SHA, ci_provider="github"),
    ),
    "gitlab branch": (
        {
            "GITLAB_CI": "true",
            "CI_COMMIT_BRANCH": "main",
            "CI_COMMIT_REF_NAME": "main",
            "CI_COMMIT_SHA": SHA,
            "CI_PIPELINE_URL": "https://gitlab.com/acme/shop/-/pipelines/9",
            "CI_JOB_URL": "https://gitlab.com/acme/shop/-/jobs/90",
            "GITLAB_USER_LOGIN": "bob",
            "CI_COMMIT_AUTHOR": "Bob <bob@example.com>",
        },
        RunMetadata(
            branch="main",
            commit=SHA,
            ci_provider="gitlab",
            build_url="https://gitlab.com/acme/shop/-/jobs/90",
            author="bob",
        ),
    ),
    "gitlab merge request": (
        {
            "GITLAB_CI": "true",
            "CI_MERGE_REQUEST_IID": "17",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "fix/cart",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": HEAD_SHA,
            "CI_COMMIT_SHA": SHA,
            "CI_PIPELINE_URL": "https://gitlab.com/acme/shop/-/pipelines/9",
            "CI_COMMIT_AUTHOR": "Bob <bob@example.com>",
        },
        RunMetadata(
            branch="fix/cart",
            commit=HEAD_SHA,
            pull_request="17",
            ci_provider="gitlab",
            build_url="https://gitlab.com/acme/shop/-/pipelines/9",
            author="Bob <bob@example.com>",
        ),
    ),
    "jenkins git plugin": (
        {
            "JENKINS_URL": "https://ci.acme.test/",
            "BUILD_URL": "https://ci.acme.test/job/shop/12/",
            "GIT_BRANCH": "origin/main",
            "GIT_COMMIT": SHA,
        },
        RunMetadata(
            branch="main",
            commit=SHA,
            ci_provider="jenkins",
            build_url="https://ci.acme.test/job/shop/12/",
        ),
    ),
    "jenkins multibranch pull request": (
        {
            "JENKINS_URL": "https://ci.acme.test/",
            "BUILD_URL": "https://ci.acme.test/job/shop/PR-5/1/",
            "BRANCH_NAME": "PR-5",
            "CHANGE_ID": "5",
            "CHANGE_BRANCH": "feature/search",
            "CHANGE_AUTHOR": "carol",
            "GIT_COMMIT": SHA,
        },
        RunMetadata(
            branch="feature/search",
            commit=SHA,
            pull_request="5",
            ci_provider="jenkins",
            build_url="https://ci.acme.test/job/shop/PR-5/1/",
            author="carol",
        ),
    ),
    "circleci pull request": (
        {
            "CIRCLECI": "true",
            "CIRCLE_BRANCH": "feature/pay",
            "CIRCLE_SHA1": SHA,
            "CIRCLE_PULL_REQUEST": "https://github.com/acme/shop/pull/31",
            "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/shop/310",
            "CIRCLE_USERNAME": "dave",
        },
        RunMetadata(
            branch="feature/pay",
            commit=SHA,
            pull_request="31",
            ci_provider="circleci",
            build_url="https://circleci.com/gh/acme/shop/310",
            author="dave",
        ),
    ),
    "buildkite without a pull request or a resolved commit": (
        {
            "BUILDKITE": "true",
            "BUILDKITE_BRANCH": "main",
            "BUILDKITE_COMMIT": "HEAD",
            "BUILDKITE_PULL_REQUEST": "false",
            "BUILDKITE_BUILD_URL": "https://buildkite.com/acme/shop/builds/59",
            "BUILDKITE_BUILD_CREATOR": "erin",
        },
        RunMetadata(
            branch="main",
            ci_provider="buildkite",
            build_url="https://buildkite.com/acme/shop/builds/59",
            author="erin",
        ),
    ),
    "buildkite pull request": (
        {
            "BUILDKITE": "true",
            "BUILDKITE_BRANCH": "feature/x",
            "BUILDKITE_COMMIT": SHA,
            "BUILDKITE_PULL_REQUEST": "88",
            "BUILDKITE_BUILD_AUTHOR": "Frank",
            "BUILDKITE_BUILD_CREATOR": "erin",
        },
        RunMetadata(
            branch="feature/x",
            commit=SHA,
            pull_request="88",
            ci_provider="buildkite",
            author="Frank",
        ),
    ),
    "azure pipelines pull request": (
        {
            "TF_BUILD": "True",
            "BUILD_SOURCEBRANCH": "refs/pull/412/merge",
            "BUILD_SOURCEVERSION": SHA,
            "SYSTEM_PULLREQUEST_SOURCEBRANCH": "refs/heads/feature/basket",
            "SYSTEM_PULLREQUEST_SOURCECOMMITID": HEAD_SHA,
            "SYSTEM_PULLREQUEST_PULLREQUESTID": "9001",
            "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER": "412",
            "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/",
            "SYSTEM_TEAMPROJECT": "Web Shop",
            "BUILD_BUILDID": "77",
            "BUILD_REQUESTEDFOR": "Grace Hopper",
        },
        RunMetadata(
            branch="feature/basket",
            commit=HEAD_SHA,
            pull_request="412",
            ci_provider="azure",
            build_url="https://dev.azure.com/acme/Web%20Shop/_build/results?buildId=77",
            author="Grace Hopper",
        ),
    ),
    "azure pipelines branch": (
        {
            "TF_BUILD": "True",
            "BUILD_SOURCEBRANCH": "refs/heads/main",
            "BUILD_SOURCEBRANCHNAME": "main",
            "BUILD_SOURCEVERSION": SHA,
        },
        RunMetadata(branch="main", commit=SHA, ci_provider="azure"),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_each_provider(name: str) -> None:
    env, expected = CASES[name]
    assert ci_metadata(env) == expected


def test_every_provider_is_covered() -> None:
    covered = {expected.ci_provider for _, expected in CASES.values()}
    assert covered == {p.name for p in PROVIDERS}


def test_github_pull_request_reads_the_event_file() -> None:
    event = {
        "action": "synchronize",
        "number": 1234,
        "pull_request": {
            "number": 1234,
            "head": {"sha": HEAD_SHA, "ref": "feat/login"},
            "user": {"login": "octocat"},
        },
    }
    files = {"/github/workflow/event.json": json.dumps(event)}
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": "/github/workflow/event.json",
        "GITHUB_REF": "refs/pull/1234/merge",
        "GITHUB_HEAD_REF": "feat/login",
        "GITHUB_SHA": SHA,  # the merge commit GitHub builds, not the one pushed
        "GITHUB_ACTOR": "someone-else",
    }
    assert ci_metadata(env, files.get) == RunMetadata(
        branch="feat/login",
        commit=HEAD_SHA,
        pull_request="1234",
        ci_provider="github",
        author="octocat",
    )
    # Without the event file, the ref still gives the number and GITHUB_SHA the commit.
    assert ci_metadata(env) == RunMetadata(
        branch="feat/login",
        commit=SHA,
        pull_request="1234",
        ci_provider="github",
        author="someone-else",
    )
    # A file that is not JSON counts as absent.
    assert ci_metadata(env, {"/github/workflow/event.json": "{oops"}.get) == ci_metadata(env)


def test_outside_ci_nothing() -> None:
    assert ci_metadata({"CI": "true", "HOME": "/root", "GITHUB_ACTIONS": "false"}) == RunMetadata()


def test_odd_values_are_left_out_never_raised() -> None:
    env = {
        "CIRCLECI": "true",
        "CIRCLE_BRANCH": "x" * 300,
        "CIRCLE_SHA1": "not-a-sha",
        "CIRCLE_BUILD_URL": "javascript:alert(1)",
        "CIRCLE_USERNAME": "mallory\x1b[31m",
        "CIRCLE_PR_NUMBER": "",
    }
    assert ci_metadata(env) == RunMetadata(ci_provider="circleci")
