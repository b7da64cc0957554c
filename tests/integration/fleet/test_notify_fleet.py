"""Notifications from a real local fleet (``conftest.fleet``, whose ``testfleet up``
starts the notifier): a signed webhook registered with ``testfleet notify add`` gets
exactly one delivery for a run with a failing test, whose signature checks and whose
body says the run, its totals, the failed test with its labels and the links; a run
handed to the notifiers again sends nothing more; ``notify test`` delivers now."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
import redis

from testfleet import keys
from testfleet.notify import signing
from tests.conftest import Fleet
from tests.fake_receivers import Received, receiver
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

SECRET = "whsec-ci-only-7d1f"
SUITE = """
name: Notified
env: [DEMO_URL]
base_url: ${DEMO_URL}
tests:
  - name: login page loads
    steps:
      - navigate: /login
  - name: greeting is wrong
    steps:
      - navigate: /login
      - assert_text: {selector: h1, contains: Goodbye, timeout: 2}
"""


def check_delivery(fleet: Fleet, request: Received, run_id: str, target_id: str) -> None:
    """The signature checks and the body says the run."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert headers["x-testfleet-signature"] == f"sha256={expected}"
    assert signing.verify(SECRET, request.body, request.headers, time.time(), 300)
    assert not signing.verify("another-secret", request.body, request.headers, time.time(), 300)
    body = request.json()
    assert body["run"]["id"] == run_id
    assert body["run"]["status"] == "failed"
    assert int(headers["x-testfleet-timestamp"]) == body["timestamp"]
    assert headers["x-testfleet-delivery"] == f"{run_id}.{target_id}"
    assert body["totals"]["total"] == 2
    assert body["totals"]["passed"] == 1
    assert body["totals"]["failed"] == 1
    [failed] = body["failedTests"]
    assert failed["name"] == "greeting is wrong"
    assert "Goodbye" in failed["error"]
    assert failed["labels"] == ["new"]  # from the history, once archived
    assert body["labelled"] is True
    assert body["links"]["dashboard"].startswith(str(fleet.status["gateway_url"]))
    assert body["links"]["report"].startswith(str(fleet.status["api_url"]))


def test_a_webhook_gets_one_signed_delivery_per_run(fleet: Fleet, tmp_path: Path) -> None:
    with receiver() as hook:
        added = fleet.run("notify", "add", "--webhook", f"{hook.url}/hook", "--secret", SECRET)
        assert added.returncode == 0, added.stdout + added.stderr
        target_id = added.stdout.split("target ", 1)[1].split()[0]
        listed = fleet.run("notify", "list", "--json")
        assert target_id in listed.stdout
        assert SECRET not in listed.stdout + added.stdout + added.stderr  # never shown

        try:
            suite = tmp_path / "notified.yaml"
            suite.write_text(SUITE)
            out = tmp_path / "result.json"
            done = fleet.run("run", str(suite), "--json", str(out))
            assert done.returncode == 1, done.stdout + done.stderr
            run_id = json.loads(out.read_text())["runId"]

            def delivered() -> list[dict[str, object]]:
                answer = fleet.run("notify", "deliveries", "--json", "--limit", "100")
                found = json.loads(answer.stdout or "[]")
                return [d for d in found if d["runId"] == run_id]

            [entry] = wait_until("the run's delivery", delivered, timeout_s=120)
            assert entry["status"] == "delivered", entry
            mine = [r for r in hook.received() if r.path == "/hook"]
            assert len(mine) == 1, mine
            [request] = mine

            check_delivery(fleet, request, run_id, target_id)

            # The archiver hands a run on again after a crash: nothing more is sent.
            client = redis.Redis.from_url(str(fleet.status["redis_url"]), decode_responses=True)
            client.xadd(keys.NOTIFY_STREAM, {keys.ARCHIVE_RUN_FIELD: run_id})

            def consumed() -> bool:
                pending = client.xpending(keys.NOTIFY_STREAM, keys.NOTIFY_GROUP)["pending"]
                return client.xlen(keys.NOTIFY_STREAM) == 0 and pending == 0

            wait_until("the repeat to be read", consumed, timeout_s=60)
            assert len([r for r in hook.received() if r.path == "/hook"]) == 1
            assert len(delivered()) == 1

            tested = fleet.run("notify", "test", target_id)
            assert tested.returncode == 0, tested.stdout + tested.stderr
            assert "delivered" in tested.stdout
            [_, test_request] = [r for r in hook.received() if r.path == "/hook"]
            assert signing.verify(SECRET, test_request.body, test_request.headers, time.time(), 300)
            assert test_request.json()["run"]["name"] == "testfleet notify test"
        finally:
            removed = fleet.run("notify", "remove", target_id)
            assert removed.returncode == 0, removed.stdout + removed.stderr
        assert target_id not in fleet.run("notify", "list", "--json").stdout
