"""A run's ``trace`` (``testfleet run --trace``): read from the JSON envelope or the query
of a raw suite, refused when it names no mode, and set on every case's spec by the plan."""

from __future__ import annotations

import json

import pytest

from api.dispatch import plan_run
from api.errors import ApiError
from api.submit import load_suites, parse_submission
from testfleet.settings import LimitSettings
from testfleet.suites.model import CaseSpec

SUITE = {
    "name": "Shop",
    "base_url": "http://app.test",
    "trace": "off",
    "tests": [
        {"name": "a", "steps": [{"navigate": "/"}]},
        {"name": "b", "trace": "on", "steps": [{"navigate": "/"}]},
    ],
}


def modes(body: bytes, media_type: str, query: dict[str, str]) -> list[str]:
    submission = parse_submission(media_type, body, query)
    suites = load_suites(submission, LimitSettings())
    _, _, specs = plan_run("r1", "alpha", suites, set(), "x", trace=submission.trace)
    return [CaseSpec.model_validate_json(spec).trace for spec in specs.values()]


def test_without_a_run_mode_each_test_has_its_own_else_its_suites() -> None:
    envelope = json.dumps({"suites": [SUITE]}).encode()
    assert modes(envelope, "application/json", {}) == ["off", "on"]


def test_the_runs_mode_wins_over_every_tests() -> None:
    envelope = json.dumps({"suites": [SUITE], "trace": "on-first-retry"}).encode()
    assert modes(envelope, "application/json", {}) == ["on-first-retry"] * 2
    raw = json.dumps(SUITE).encode()
    assert modes(raw, "application/json", {"trace": "on"}) == ["on", "on"]


def test_a_mode_that_is_none_is_refused_naming_the_modes() -> None:
    with pytest.raises(ApiError, match="off, on, retain-on-failure, on-first-retry"):
        parse_submission("application/json", json.dumps(SUITE).encode(), {"trace": "always"})
    envelope = json.dumps({"suites": [SUITE], "trace": "always"}).encode()
    with pytest.raises(ApiError, match="trace"):
        parse_submission("application/json", envelope, {})
