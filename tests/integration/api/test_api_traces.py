"""``GET /api/v1/runs/{id}/traces/{case_id}``, ``testfleet trace`` and ``testfleet
show-trace`` against a real API and Redis: the kept trace zips of a run's test, one
attempt or all of them, 404 saying why when none was kept."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from cli.main import main
from cli.traces import serving
from testfleet.artifacts import open_store, trace_name
from testfleet.events import Event
from testfleet.evidence.viewer_model import SNAPSHOT_HEADER_POLICY
from testfleet.results import AttemptSummary, CaseResult
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.integration.api.helpers import Keys, case, error_of, submit, suite
from tests.trace_files import CONSOLE_ERROR, FAILED_URL, trace_zip

pytestmark = pytest.mark.redis


def _failed_twice(store: RunStore, settings: Settings, alpha: httpx.Client) -> CaseResult:
    """A run of two tests: "pay" failed both attempts (each kept a trace), "browse" passed
    (its trace was not kept)."""
    run_id = submit(alpha, suite("Shop", case("pay"), case("browse")))["runId"]
    run = store.get_run(run_id)
    assert run is not None
    artifacts = open_store(settings)
    pay, browse = run.tests
    names = {n: trace_name(pay.case_id, n) for n in (1, 2)}
    for attempt, name in names.items():
        artifacts.save(run_id, name, trace_zip(attempt=attempt))
    history = [
        AttemptSummary(attempt=n, status="failed", worker="w", trace=name)
        for n, name in names.items()
    ]
    for test, status, kept in ((pay, "failed", history), (browse, "passed", [])):
        store.begin_case(run_id, test.case_id)
        done = test.model_copy(
            update={
                "status": status,
                "attempts": len(kept) or 1,
                "history": kept,
                "artifacts": [h.trace for h in kept],
            }
        )
        kind = "test_completed" if status == "passed" else "test_failed"
        assert store.finish_case(done, Event(kind, run_id, "alpha", {"result": {"status": status}}))
    return pay.model_copy(update={"history": history})


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def test_a_kept_trace_is_served_and_a_missing_one_is_a_404_saying_why(
    alpha: httpx.Client, store: RunStore, settings: Settings
) -> None:
    pay = _failed_twice(store, settings, alpha)
    base = f"/api/v1/runs/{pay.run_id}/traces"

    last = alpha.get(f"{base}/{pay.case_id}")
    assert last.status_code == 200, last.text
    assert last.headers["content-type"] == "application/zip"
    assert "attempt-2.trace.zip" in last.headers["content-disposition"]
    members = _members(last.content)
    assert json.loads(members["trace.json"])["attempt"] == 2
    assert CONSOLE_ERROR in members["console.jsonl"].decode()
    assert FAILED_URL in members["trace.har"].decode()

    first = alpha.get(f"{base}/{pay.case_id}", params={"attempt": "1"})
    assert json.loads(_members(first.content)["trace.json"])["attempt"] == 1

    every = _members(alpha.get(f"{base}/{pay.case_id}", params={"attempt": "all"}).content)
    assert {"index.html", "attempt-1/trace.json", "attempt-2/trace.json"} <= set(every)
    assert b'href="attempt-2/index.html"' in every["index.html"]

    run = store.get_run(pay.run_id)
    assert run is not None
    browse = next(t for t in run.tests if t.name == "browse")
    missing = alpha.get(f"{base}/{browse.case_id}")
    assert missing.status_code == 404
    assert "retain-on-failure" in error_of(missing)["message"]
    assert alpha.get(f"{base}/{pay.case_id}", params={"attempt": "3"}).status_code == 404
    assert alpha.get(f"{base}/nope").status_code == 404
    assert alpha.get(f"{base}/{pay.case_id}", params={"attempt": "x"}).status_code in (400, 422)


def test_the_cli_downloads_by_test_name_and_serves_it(
    alpha: httpx.Client,
    store: RunStore,
    settings: Settings,
    api_url: str,
    api_keys: Keys,
    tmp_path: Path,
) -> None:
    pay = _failed_twice(store, settings, alpha)
    out = tmp_path / "trace.zip"
    args = ["trace", pay.run_id, "pay", "-o", str(out), "--server", api_url, "--key"]
    result = CliRunner().invoke(main, [*args, api_keys.alpha_read, "--attempt", "all"])
    assert result.exit_code == 0, result.output
    assert "attempt-1/trace.json" in _members(out.read_bytes())

    unknown = CliRunner().invoke(
        main, ["trace", pay.run_id, "nope", "--server", api_url, "--key", api_keys.alpha_read]
    )
    assert unknown.exit_code == 2
    assert "no test named 'nope'" in unknown.output
    assert "pay" in unknown.output

    with serving(trace_zip()) as url:
        index = httpx.get(url)
        assert index.status_code == 200
        assert "script-src" not in index.headers["content-security-policy"]
        snapshot = httpx.get(url.replace("index.html", "snapshots/002-after.html"))
        assert snapshot.headers["content-security-policy"] == SNAPSHOT_HEADER_POLICY
        assert httpx.get(url.replace("index.html", "snapshots/")).status_code == 404
        assert httpx.get(url.replace("index.html", "../../etc/passwd")).status_code == 404
