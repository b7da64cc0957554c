"""``GET /runs/{id}/labels`` and the reports of the API with the labels the archiver
wrote, on a real Redis and PostgreSQL; the CLI's wait for them, with and without a
history database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from cli.archiver import Archiver
from cli.runner import wait_for_labels
from testfleet.client.http import ApiClient
from testfleet.constants import API_PREFIX
from testfleet.errors import InfrastructureError, NotFoundError
from testfleet.fleet.auth import KeyStore
from testfleet.results import RunResult
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.fixtures_redis_api import serving_api
from tests.integration.history.runs import drain, finish_run
from tests.ports import held_port

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

WAIT_S = 30.0
"""Bound on the CLI's wait: the archiver runs in the test, so it is never reached."""


def _settings(redis_url: str, database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        redis={"url": redis_url},
        database={"url": database_url, "archive_block_ms": 100, "connect_timeout_s": 2},
        api={"port": held_port()},
        paths={"state_dir": tmp_path},
    )


@pytest.fixture
def settings(redis_url: str, database_url: str, tmp_path: Path) -> Settings:
    return _settings(redis_url, database_url, tmp_path)


@pytest.fixture
def api_url(settings: Settings, engine: Engine) -> Iterator[str]:
    with serving_api(settings) as url:
        yield url


def _key(r: redis.Redis, project: str) -> str:
    return KeyStore(r).create(project, ["test:read", "test:write"])[1]


def test_labels_route_says_archived_only_once_the_archiver_wrote_the_run(
    api_url: str, store: RunStore, archiver: Archiver, r: redis.Redis
) -> None:
    finish_run(store, "run-1")
    with ApiClient(api_url, _key(r, "shop")) as api:
        before = api.run_labels("run-1")
        drain(archiver)
        after = api.run_labels("run-1")
        junit = api.get_bytes(f"{API_PREFIX}/runs/run-1/junit.xml").decode()
        page = api.get_bytes(f"{API_PREFIX}/runs/run-1/report.html").decode()

    assert before == {"runId": "run-1", "archived": False, "tests": [], "clusters": []}
    assert after["archived"] is True
    assert {t["name"]: t["labels"] for t in after["tests"]} == {
        "test 1": ["new", "flaky"],
        "test 2": ["new"],
    }
    assert [c["count"] for c in after["clusters"]] == [2]
    assert '<property name="testfleet.label" value="flaky" />' in junit
    assert "2 failure(s), 1 cause(s)" in page
    assert '<span class="label l-new">new</span>' in page


def test_another_projects_key_sees_no_labels(
    api_url: str, store: RunStore, archiver: Archiver, r: redis.Redis
) -> None:
    finish_run(store, "run-1")
    drain(archiver)

    with ApiClient(api_url, _key(r, "other")) as api, pytest.raises(NotFoundError):
        api.run_labels("run-1")


def test_the_cli_waits_for_the_labels_of_a_run_with_failures(
    api_url: str, store: RunStore, archiver: Archiver, r: redis.Redis
) -> None:
    finish_run(store, "run-1")
    drain(archiver)
    run = store.get_run("run-1")
    assert run is not None

    with ApiClient(api_url, _key(r, "shop")) as api:
        found = wait_for_labels(api, run, WAIT_S)
        passed = run.model_copy(update={"tests": [run.tests[0]]})  # test 0 passed
        nothing = wait_for_labels(api, passed, WAIT_S)

    assert found is not None
    assert {t.name for t in found.tests} == {"test 1", "test 2"}
    assert nothing is None


def test_without_a_history_database_the_cli_does_not_wait(
    redis_url: str, store: RunStore, r: redis.Redis, tmp_path: Path
) -> None:
    # A database that does not exist on a socket nobody listens on: the API answers 503.
    missing = f"postgresql+psycopg://nobody@/none?host={tmp_path}&port=1"
    settings = _settings(redis_url, missing, tmp_path)
    finish_run(store, "run-1")
    run = store.get_run("run-1")
    assert isinstance(run, RunResult)

    with serving_api(settings) as api_url, ApiClient(api_url, _key(r, "shop")) as api:
        with pytest.raises(InfrastructureError, match="TESTFLEET_DATABASE__URL"):
            api.run_labels("run-1")
        assert wait_for_labels(api, run, WAIT_S) is None
