"""Every API answer about runs is built from the run store's read model.

The routes read runs only through the store (``RunReader``): each answer here is
compared with what the store's models give for the same run at the same moment,
across a run's lifecycle (queued, running, finished, cancelled).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from api.listing import summary
from api.models import Cancelled, RunDetail
from api.submit import run_links
from testfleet.events import Event
from testfleet.results import CaseResult, RunResult
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.integration.api.helpers import (
    Keys,
    case,
    submit,
    suite,
)

pytestmark = pytest.mark.redis


def stored(store: RunStore, run_id: str) -> RunResult:
    run = store.get_run(run_id)
    assert run is not None
    return run


def finish(store: RunStore, case: CaseResult, status: str) -> None:
    store.begin_case(case.run_id, case.case_id)
    done = case.model_copy(update={"status": status, "attempts": 1})
    kind = "test_completed" if status in ("passed", "flaky") else "test_failed"
    event = Event(kind, case.run_id, "alpha", {"result": {"status": status}})
    assert store.finish_case(done, event)


def listing(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/runs", params=params)
    assert answer.status_code == 200, answer.text
    runs: list[dict[str, Any]] = answer.json()["runs"]
    return runs


def test_every_run_answer_is_the_stores_read_model(
    alpha: httpx.Client, store: RunStore, settings: Settings
) -> None:
    queued = submit(alpha, suite("Queued", case("a", tags=["smoke"])))
    running_id = submit(alpha, suite("Running", case("a"), case("b")))["runId"]
    done_id = submit(alpha, suite("Done", case("a"), case("b"), tags=["nightly"]))["runId"]
    cancel_id = submit(alpha, suite("Cancelled", case("a"), case("b")))["runId"]

    run = stored(store, queued["runId"])
    assert (queued["status"], queued["total"]) == (run.status, len(run.tests))

    first = stored(store, running_id).tests[0]
    store.begin_case(running_id, first.case_id)
    for test, status in zip(stored(store, done_id).tests, ["flaky", "error"], strict=True):
        finish(store, test, status)
    store.begin_case(cancel_id, stored(store, cancel_id).tests[0].case_id)

    answer = alpha.post(f"/api/v1/runs/{cancel_id}/cancel")
    assert answer.status_code == 202, answer.text
    after_cancel = stored(store, cancel_id)
    expected_cancel = Cancelled(
        runId=cancel_id, cancelled=1, status=after_cancel.status, counts=after_cancel.counts
    )
    assert answer.json() == expected_cancel.model_dump(mode="json")
    assert after_cancel.status == "cancelled"

    ids = [cancel_id, done_id, running_id, queued["runId"]]  # newest first
    statuses = {}
    for run_id in ids:
        run = stored(store, run_id)
        statuses[run_id] = run.status
        detail = RunDetail(**run.model_dump(), links=run_links(settings, run_id))
        assert alpha.get(f"/api/v1/runs/{run_id}").json() == detail.model_dump(mode="json")
        junit = ET.fromstring(alpha.get(f"/api/v1/runs/{run_id}/junit.xml").content)
        assert int(junit.get("tests", "0")) == len(run.tests)
    assert statuses == {
        queued["runId"]: "queued",
        running_id: "running",
        done_id: "failed",
        cancel_id: "cancelled",
    }

    overviews = store.overviews(ids)
    expected_list = [summary(o).model_dump(mode="json") for o in overviews if o is not None]
    assert listing(alpha) == expected_list
    assert [r["status"] for r in expected_list] == [statuses[i] for i in ids]
    for status in ("queued", "running", "failed", "cancelled"):
        assert [r["runId"] for r in listing(alpha, status=status)] == [
            i for i in ids if statuses[i] == status
        ]
    tagged = store.overviews(ids, case_tags=True)
    assert [o.runId for o in tagged if o is not None and "smoke" in o.caseTags] == [queued["runId"]]
    assert [r["runId"] for r in listing(alpha, tag="smoke")] == [queued["runId"]]
    assert [r["runId"] for r in listing(alpha, tag="nightly")] == [done_id]


def test_the_dashboard_origin_may_download_reports_with_its_key(
    api_url: str, alpha: httpx.Client, api_keys: Keys
) -> None:
    """CORS: the gateway's dashboard page (its origin only) may GET with a key header."""
    run_id = submit(alpha, suite("S", case("t")))["runId"]
    assert alpha.get(f"/api/v1/runs/{run_id}").json()["links"]["dashboard"] == (
        f"https://gw.example.test:8443/dashboard#/runs/{run_id}"
    )
    asked = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    with httpx.Client(base_url=api_url) as http:
        ok = http.options(
            f"/api/v1/runs/{run_id}/junit.xml",
            headers={"Origin": "https://gw.example.test:8443", **asked},
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://gw.example.test:8443"
        other = http.options(
            f"/api/v1/runs/{run_id}/junit.xml", headers={"Origin": "https://evil.example", **asked}
        )
        assert "access-control-allow-origin" not in other.headers
        got = http.get(
            f"/api/v1/runs/{run_id}/junit.xml",
            headers={"Origin": "https://gw.example.test:8443", "X-API-Key": api_keys.alpha},
        )
        assert got.status_code == 200
        assert got.headers["access-control-allow-origin"] == "https://gw.example.test:8443"
