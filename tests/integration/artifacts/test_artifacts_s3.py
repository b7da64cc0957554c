"""The S3 artifact store against a real S3-compatible server (SeaweedFS, started here)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from testfleet.artifacts import open_store
from testfleet.artifacts.s3 import S3Store
from testfleet.errors import InfrastructureError
from testfleet.events import Event, now_ms
from testfleet.results import CaseResult, RunRecord
from testfleet.settings import ArtifactSettings, Settings
from testfleet.store import RunStore
from testfleet.store.retention import sweep
from tests.contract_artifacts import ArtifactStoreContract
from tests.contract_baselines import BaselineStoreContract
from tests.fixtures_s3 import S3Server, free_ports, s3_client, seaweedfs_server

pytestmark = pytest.mark.s3

BUCKET = "testfleet-contract"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with seaweedfs_server(tmp_path_factory.mktemp("seaweedfs")) as server:
        client = s3_client(server)
        client.create_bucket(Bucket=BUCKET)
        client.close()
        yield server


def s3_settings(server: S3Server, url: str, **extra: object) -> Settings:
    section = ArtifactSettings(
        url=url,
        s3_endpoint_url=server.endpoint,
        s3_access_key_id=server.access_key,
        s3_secret_access_key=server.secret_key,  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )
    return Settings(artifacts=section)


@contextmanager
def empty_store(s3: S3Server) -> Iterator[S3Store]:
    """An empty S3 store: a prefix of its own, in the one bucket."""
    store = open_store(s3_settings(s3, f"s3://{BUCKET}/t-{uuid.uuid4().hex[:12]}/fleet"))
    assert isinstance(store, S3Store)
    try:
        yield store
    finally:
        store.close()


class TestS3Baselines(BaselineStoreContract):
    @pytest.fixture
    def artifacts(self, s3: S3Server) -> Iterator[S3Store]:
        with empty_store(s3) as store:
            yield store


class TestS3Store(ArtifactStoreContract):
    @pytest.fixture
    def store(self, s3: S3Server) -> Iterator[S3Store]:
        with empty_store(s3) as store:
            yield store

    def test_artifacts_are_objects_under_the_prefix(self, store: S3Store, s3: S3Server) -> None:
        store.save("r1", "a.png", b"\x89PNG")
        store.save("r1", "b.log", b"text")
        client = s3_client(s3)
        try:
            listed = client.list_objects_v2(Bucket=BUCKET, Prefix=store.prefix)["Contents"]
            assert [o["Key"] for o in listed] == [
                f"{store.prefix}runs/r1/a.png",
                f"{store.prefix}runs/r1/b.log",
            ]
            head = client.head_object(Bucket=BUCKET, Key=f"{store.prefix}runs/r1/a.png")
            assert head["ContentType"] == "image/png"
        finally:
            client.close()
        assert store.url == f"s3://{BUCKET}/{store.prefix}"

    def test_wrong_credentials_say_which_settings_to_check(self, s3: S3Server) -> None:
        settings = s3_settings(s3, f"s3://{BUCKET}/x")
        settings.artifacts.s3_secret_access_key = SecretStr("not-the-secret")
        store = open_store(settings)
        with pytest.raises(InfrastructureError, match="S3_SECRET_ACCESS_KEY") as caught:
            store.put("runs/r/a.png", b"x")
        assert "not-the-secret" not in str(caught.value)

    def test_a_missing_bucket_says_how_to_get_one(self, s3: S3Server) -> None:
        name = f"tf-missing-{uuid.uuid4().hex[:8]}"
        store = open_store(s3_settings(s3, f"s3://{name}"))
        with pytest.raises(InfrastructureError, match="S3_CREATE_BUCKET=true"):
            store.put("runs/r/a.png", b"x")
        created = open_store(s3_settings(s3, f"s3://{name}", s3_create_bucket=True))
        created.put("runs/r/a.png", b"x")
        again = open_store(s3_settings(s3, f"s3://{name}", s3_create_bucket=True))  # idempotent
        assert again.get("runs/r/a.png") == b"x"

    def test_a_store_nobody_answers_fails_fast_and_clearly(self, s3: S3Server) -> None:
        (port,) = free_ports(1)
        settings = s3_settings(s3, f"s3://{BUCKET}", s3_timeout_s=1.0, s3_max_attempts=2)
        settings.artifacts.s3_endpoint_url = f"http://127.0.0.1:{port}"
        store = open_store(settings)
        started = time.monotonic()
        with pytest.raises(InfrastructureError, match=r"not answering.*S3_ENDPOINT_URL"):
            store.get("runs/r/a.png")
        assert time.monotonic() - started < 30


def test_the_default_store_is_no_s3(tmp_path: Path) -> None:
    assert not isinstance(open_store(Settings(paths={"state_dir": tmp_path})), S3Store)  # type: ignore[arg-type]


@pytest.mark.redis
def test_retention_deletes_expired_runs_from_the_bucket(s3: S3Server, redis_url: str) -> None:
    settings = s3_settings(s3, f"s3://{BUCKET}/retention-{uuid.uuid4().hex[:8]}")
    settings.redis.url = redis_url
    settings.retention.run_ttl_s = 3600
    store = open_store(settings)
    runs = RunStore.connect(settings, source="test")
    now = now_ms()
    for run_id, age_ms in (("old", 2 * 3600 * 1000), ("fresh", 60 * 1000)):
        record = RunRecord(
            run_id=run_id, project_id="p", name="x", suites=["s"], created_ms=now - age_ms, total=1
        )
        case = CaseResult(case_id=f"{run_id}-1", run_id=run_id, suite="s", name="t")
        started = Event("run_started", run_id, "p", {"total": 1}, source="test")
        runs.create_run(record, [case], {case.case_id: "{}"}, started)
        store.save(run_id, "shot.png", b"\x89PNG")
        store.save(run_id, "shot.thumb.png", b"\x89PNG")

    report = sweep(runs.redis, settings, store, now)

    assert (report.runs, report.artifact_dirs, report.artifacts) == (1, 1, 2)
    assert [i.key for i in store.list()] == ["runs/fresh/shot.png", "runs/fresh/shot.thumb.png"]
    runs.redis.close()
