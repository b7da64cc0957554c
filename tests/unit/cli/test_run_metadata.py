"""``testfleet run``'s metadata: the CI's, local git's for what the CI does not say,
``--branch`` / ``--commit`` over both."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli.run_metadata import git_metadata, run_metadata
from testfleet.errors import UsageError
from testfleet.results import RunMetadata

SHA = "3816a68e0c4f2b1d9a7c5e3f1b2d4c6e8a0f1e2d"


def git(where: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", *args],
        cwd=where,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git checkout on branch ``feature/login`` with one commit; suites in ``suites/``."""
    git(tmp_path, "init", "-q", "-b", "feature/login")
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "login.yaml").write_text("name: Login\n", encoding="utf-8")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_outside_ci_git_says_branch_and_commit(checkout: Path) -> None:
    head = git(checkout, "rev-parse", "HEAD")
    assert run_metadata({}, checkout / "suites") == RunMetadata(branch="feature/login", commit=head)


def test_a_detached_checkout_has_no_branch(checkout: Path) -> None:
    head = git(checkout, "rev-parse", "HEAD")
    git(checkout, "checkout", "-q", "--detach")
    assert git_metadata(checkout) == RunMetadata(commit=head)


def test_outside_git_nothing(tmp_path: Path) -> None:
    assert git_metadata(tmp_path) == RunMetadata()
    assert git_metadata(tmp_path / "missing") == RunMetadata()


def test_the_ci_wins_and_git_fills_in(checkout: Path) -> None:
    head = git(checkout, "rev-parse", "HEAD")
    env = {"BUILDKITE": "true", "BUILDKITE_BRANCH": "main", "BUILDKITE_COMMIT": "HEAD"}
    assert run_metadata(env, checkout) == RunMetadata(
        branch="main", commit=head, ci_provider="buildkite"
    )


def test_flags_win(checkout: Path) -> None:
    env = {"CIRCLECI": "true", "CIRCLE_BRANCH": "ci-branch", "CIRCLE_SHA1": "a" * 40}
    found = run_metadata(env, checkout, branch="release/1", commit=SHA.upper())
    assert found == RunMetadata(branch="release/1", commit=SHA, ci_provider="circleci")


@pytest.mark.parametrize(("branch", "commit"), [(None, "not-hex"), ("bad\nname", None)])
def test_a_bad_flag_says_what_it_takes(
    tmp_path: Path, branch: str | None, commit: str | None
) -> None:
    with pytest.raises(UsageError, match="--commit takes a commit's hex id"):
        run_metadata({}, tmp_path, branch=branch, commit=commit)
