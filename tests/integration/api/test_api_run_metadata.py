"""A submission's metadata (branch, commit, pull request, CI build, author) is checked,
kept on the run's record in the run store, and given back with the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from api import reports
from cli.main import main
from testfleet.events import Event
from testfleet.history.ci import PROVIDERS
from testfleet.results import CaseResult, RunMetadata, RunResult
from testfleet.store import RunStore
from tests.integration.api.helpers import Keys, case, error_of, submit, suite

pytestmark = pytest.mark.redis

SHA = "3816a68e0c4f2b1d9a7c5e3f1b2d4c6e8a0f1e2d"
METADATA: dict[str, Any] = {
    "branch": "feature/login",
    "commit": SHA.upper(),
    "pull_request": "42",
    "ci_provider": "github",
    "build_url": "https://github.com/acme/shop/actions/runs/7",
    "author": "alice",
}
EXPECTED = RunMetadata(**{**METADATA, "commit": SHA})


def test_metadata_is_kept_with_the_run(alpha: httpx.Client, store: RunStore) -> None:
    run_id = submit(alpha, suite("Login", case("valid login")), metadata=METADATA)["runId"]
    record = store.get_record(run_id)
    assert record is not None
    assert record.metadata == EXPECTED
    answer = alpha.get(f"/api/v1/runs/{run_id}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["metadata"] == EXPECTED.model_dump()
    # Still there once the run finished: what the archiver and `run --json` read.
    queued = CaseResult.model_validate(answer.json()["tests"][0])
    store.begin_case(run_id, queued.case_id)
    done = queued.model_copy(update={"status": "passed", "attempts": 1})
    event = Event("test_completed", run_id, "alpha", {"result": {"status": "passed"}})
    assert store.finish_case(done, event)
    finished = store.get_run(run_id)
    assert finished is not None
    assert finished.status == "passed"
    assert finished.metadata == EXPECTED
    result = reports.json_result(
        RunResult.model_validate(alpha.get(f"/api/v1/runs/{run_id}").json())
    )
    assert result["metadata"] == EXPECTED.model_dump()


def test_partial_and_absent_metadata(alpha: httpx.Client, store: RunStore) -> None:
    partial = submit(alpha, suite("Login", case("a")), metadata={"branch": "main"})["runId"]
    assert (
        alpha.get(f"/api/v1/runs/{partial}").json()["metadata"]
        == RunMetadata(branch="main").model_dump()
    )
    bare = submit(alpha, suite("Login", case("a")))["runId"]
    assert alpha.get(f"/api/v1/runs/{bare}").json()["metadata"] is None
    record = store.get_record(bare)
    assert record is not None
    assert record.metadata is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("commit", "not-a-commit"),
        ("build_url", "javascript:alert(1)"),
        ("branch", "x" * 256),
        ("author", "eve\x1b[31m"),
        ("pull_request", "12; drop"),
        ("ci_provider", "GitHub Actions!"),
        ("unknown", "field"),
    ],
)
def test_bad_metadata_is_refused_naming_the_field(
    alpha: httpx.Client, field: str, value: str
) -> None:
    body = {"suites": [suite("Login", case("a"))], "metadata": {field: value}}
    answer = alpha.post("/api/v1/runs", json=body)
    assert answer.status_code == 422, answer.text
    assert f"metadata.{field}" in error_of(answer)["message"]
    listed = alpha.get("/api/v1/runs").json()["runs"]
    assert listed == [], "nothing is recorded for a refused submission"


def test_testfleet_run_sends_the_cis_metadata_and_the_flags(
    alpha: httpx.Client, api_url: str, api_keys: Keys, tmp_path: Path
) -> None:
    suite_file = tmp_path / "login.yaml"
    suite_file.write_text(json.dumps(suite("Login", case("valid login"))), encoding="utf-8")
    # Other CIs' markers unset: this test may itself run in one of them.
    env: dict[str, str | None] = {p.marker: None for p in PROVIDERS}
    env |= {
        "TESTFLEET_PATHS__STATE_DIR": str(tmp_path / "state"),
        "GITLAB_CI": "true",
        "CI_COMMIT_BRANCH": "main",
        "CI_COMMIT_SHA": "a" * 40,
        "CI_MERGE_REQUEST_IID": "17",
        "CI_PIPELINE_URL": "https://gitlab.example.test/acme/shop/-/pipelines/9",
        "GITLAB_USER_LOGIN": "bob",
    }
    args = ["run", str(suite_file), "--server", api_url, "--key", api_keys.alpha, "--no-follow"]
    done = CliRunner().invoke(main, [*args, "--commit", SHA], env=env, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    run_id = done.output.split()[1].rstrip(":")
    assert alpha.get(f"/api/v1/runs/{run_id}").json()["metadata"] == {
        "branch": "main",
        "commit": SHA,
        "pull_request": "17",
        "ci_provider": "gitlab",
        "build_url": "https://gitlab.example.test/acme/shop/-/pipelines/9",
        "author": "bob",
    }
