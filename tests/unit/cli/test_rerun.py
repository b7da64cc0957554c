"""``--last-failed`` needs a branch to look up: without one it says how to give it."""

from __future__ import annotations

import pytest

from cli.rerun import pick
from testfleet.errors import UsageError
from testfleet.results import RunMetadata
from testfleet.suites.loader import load_document


def test_last_failed_without_a_branch_says_to_pass_one() -> None:
    document = {
        "name": "A",
        "base_url": "http://a.test",
        "tests": [{"name": "t", "steps": [{"navigate": "/"}]}],
    }
    suite = load_document(document, {}, "a.yaml")
    for metadata in (None, RunMetadata(commit="abcdef1")):
        with pytest.raises(UsageError, match="--branch NAME"):
            # Nothing listens there: the branch is checked before the server is asked.
            pick("http://127.0.0.1:9", None, [suite], metadata)
