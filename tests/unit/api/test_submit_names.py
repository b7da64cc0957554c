"""A submitted run names each suite once, as a run loaded from files does (one rule:
``testfleet.suites.loader.SuiteNames``), and says so among its other problems."""

from __future__ import annotations

import pytest

from api.submit import Submission, load_suites
from testfleet.errors import SuiteError
from testfleet.settings import LimitSettings


def _suite(name: str, base_url: str = "http://app.test") -> dict[str, object]:
    return {
        "name": name,
        "base_url": base_url,
        "tests": [{"name": "t", "steps": [{"navigate": "/"}]}],
    }


def test_a_second_suite_of_the_same_name_is_refused_with_the_first_ones_source() -> None:
    submission = Submission(
        documents=[
            ("a.yaml", _suite("Login")),
            ("b.yaml", _suite("Broken", base_url="ftp://x")),
            ("c.yaml", _suite("Login")),
        ]
    )
    with pytest.raises(SuiteError) as caught:
        load_suites(submission, LimitSettings())
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("b.yaml: base_url: must start with http:// or https://")
    assert problems[1] == (
        "c.yaml: name: suite name 'Login' is already used by a.yaml; "
        "suite names must be unique within a run"
    )
