"""Retention removes a run's traces with the run: a trace the worker kept (a failing test
under the default ``retain-on-failure``, run through ``run_case`` on real Redis and
headless Chromium) stays while its run is kept, and is gone from the artifact store
(the local one, and an S3 bucket on SeaweedFS) once a sweep finds the run expired."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testfleet.artifacts import open_store
from testfleet.evidence.tracezip import read_manifest
from testfleet.settings import ArtifactSettings, Settings
from testfleet.store import RunStore
from testfleet.store.retention import sweep
from tests.fixtures_s3 import S3Server, s3_client, seaweedfs_server
from tests.integration.workers.runcase import CountingProvider, create_run, execute, suite_doc

pytestmark = [pytest.mark.redis, pytest.mark.browser]

FAILING_STEPS: list[dict[str, Any]] = [
    {"step_type": "navigate", "input_data": "/dashboard"},
    {"step_type": "assert", "selector": "h1", "expected_result": "Welcome, bob"},
]
BUCKET = "testfleet-trace-retention"


def kept_trace_expires_with_its_run(
    store: RunStore, provider: CountingProvider, settings: Settings, base_url: str
) -> None:
    """Run a failing case, sweep before and after its run's TTL, check the trace each time."""
    document = {**suite_doc(base_url, FAILING_STEPS), "timeout_seconds": 1}
    run_id, case_id = create_run(store, document)
    result = execute(store, provider, settings, run_id, case_id)
    assert result is not None
    assert result.status == "failed"
    name = result.history[0].trace
    assert name == f"{case_id}.attempt-1.trace.zip", result.history
    artifacts = open_store(settings)
    try:
        assert read_manifest(artifacts.read(run_id, name))["status"] == "failed"
        record = store.get_run(run_id)
        assert record is not None
        expires_ms = record.createdMs + settings.retention.run_ttl_s * 1000

        sweep(store.redis, settings, artifacts, expires_ms - 60_000)
        assert artifacts.has_run_artifact(run_id, name), "kept while its run is kept"

        report = sweep(store.redis, settings, artifacts, expires_ms + 1)
        assert report.runs >= 1
        assert not artifacts.has_run_artifact(run_id, name), "gone with its run"
        assert [r.run_id for r in artifacts.runs() if r.run_id == run_id] == []
        assert store.get_run(run_id) is None
    finally:
        artifacts.close()


def test_a_kept_trace_leaves_the_local_store_with_its_run(
    store: RunStore, provider: CountingProvider, settings: Settings, base_url: str
) -> None:
    kept_trace_expires_with_its_run(store, provider, settings, base_url)
    assert not list((settings.paths.artifacts / "runs").glob("*/*.trace.zip"))


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with seaweedfs_server(tmp_path_factory.mktemp("seaweedfs")) as server:
        client = s3_client(server)
        client.create_bucket(Bucket=BUCKET)
        client.close()
        yield server


@pytest.mark.s3
def test_a_kept_trace_leaves_the_s3_bucket_with_its_run(
    s3: S3Server, store: RunStore, settings: Settings, base_url: str
) -> None:
    on_s3 = settings.model_copy(
        update={
            "artifacts": ArtifactSettings(
                url=f"s3://{BUCKET}/t-{uuid.uuid4().hex[:12]}",
                s3_endpoint_url=s3.endpoint,
                s3_access_key_id=s3.access_key,
                s3_secret_access_key=s3.secret_key,
            )
        }
    )
    provider = CountingProvider(on_s3)
    try:
        kept_trace_expires_with_its_run(store, provider, on_s3, base_url)
    finally:
        assert provider.closed == provider.opened, "every session is closed"
    assert not list(Path(settings.paths.artifacts).glob("runs/*/*.trace.zip")), "nothing local"
