"""What ``testfleet run`` says of the code it tests: the CI's metadata
(``testfleet.history.ci``), local git for a branch or commit the CI does not give (or
outside CI), and ``--branch`` / ``--commit`` over both."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from testfleet.errors import UsageError
from testfleet.history.ci import branch as branch_name
from testfleet.history.ci import ci_metadata
from testfleet.history.ci import commit as commit_id
from testfleet.results import RunMetadata

GIT_TIMEOUT_S = 5.0
"""Cap on one ``git`` call: a hung repository (network file system) must not hold a run."""
MAX_EVENT_FILE_BYTES = 10 * 1024 * 1024
"""A CI's event file larger than this is not read (GitHub's are a few kB)."""


def read_file(path: str) -> str | None:
    """A CI's file (GitHub's event JSON) as text; None when it cannot be read."""
    try:
        file = Path(path)
        if file.stat().st_size > MAX_EVENT_FILE_BYTES:
            return None
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _git(where: Path, *args: str) -> str | None:
    """``git ARGS`` in ``where``: its output, None when git is missing or says no."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_metadata(where: Path) -> RunMetadata:
    """Branch and commit of the git checkout ``where`` is in (None each when it is not in
    one, or the checkout is detached: no branch)."""
    head = _git(where, "rev-parse", "--abbrev-ref", "HEAD")
    sha = _git(where, "rev-parse", "HEAD")
    return RunMetadata(
        branch=branch_name(head) if head else None,
        commit=commit_id(sha) if sha else None,
    )


def run_metadata(
    env: Mapping[str, str], where: Path, branch: str | None = None, commit: str | None = None
) -> RunMetadata:
    """The run's metadata: the CI's (``env``), git's in ``where`` for a missing branch or
    commit, then ``branch`` / ``commit`` (``--branch`` / ``--commit``) over both.
    Raises ``UsageError`` for a ``--branch`` or ``--commit`` that cannot be one."""
    found = ci_metadata(env, read_file)
    if found.branch is None or found.commit is None:
        local = git_metadata(where)
        found = found.model_copy(
            update={"branch": found.branch or local.branch, "commit": found.commit or local.commit}
        )
    overrides = {name: value for name, value in (("branch", branch), ("commit", commit)) if value}
    try:
        return RunMetadata.model_validate({**found.model_dump(), **overrides})
    except ValidationError:
        raise UsageError(
            "--commit takes a commit's hex id (7 to 64 hex digits, as `git rev-parse HEAD` "
            "prints it) and --branch a name of at most 255 printable characters"
        ) from None
