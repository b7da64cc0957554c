"""The Python WebSocket client: follows a run across a gateway restart with no gap, no dup."""

from __future__ import annotations

import pytest
import redis

from gateway.app import build_server
from testfleet.client.ws import follow_link, follow_run
from testfleet.errors import AuthError
from testfleet.fleet.auth import KeyStore
from testfleet.settings import GatewaySettings, PathSettings, RedisSettings, Settings
from testfleet.store import RunStore
from tests.fixtures_redis_api import serving
from tests.integration.gateway.test_gateway_sse import complete_run, event, new_run, stream_ids
from tests.ports import held_port

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        redis=RedisSettings(url=redis_url),
        gateway=GatewaySettings(port=held_port(), read_block_ms=100, metrics_interval_s=0),
        paths=PathSettings(state_dir=tmp_path_factory.mktemp("state")),
    )


def test_follows_a_run_across_a_gateway_restart(
    settings: Settings, store: RunStore, r: redis.Redis
) -> None:
    key = KeyStore(r).create("alpha", ["test:read"])[1]
    cases = new_run(store, n_tests=2)
    run_id = cases[0].run_id
    for step in range(5):
        store.publish(event(cases[0], "test_progress", progress={"stepNumber": step}))
    gateway = f"http://127.0.0.1:{settings.gateway.port}"
    with serving(build_server(settings)):
        events = follow_run(gateway, key, run_id)
        got = [next(events) for _ in range(4)]
    # The gateway is gone (clients were told 1001); events keep coming meanwhile.
    for step in range(5, 10):
        store.publish(event(cases[0], "test_progress", progress={"stepNumber": step}))
    with serving(build_server(settings)):
        complete_run(store, cases)
        got.extend(events)
    assert [e["id"] for e in got] == stream_ids(r, run_id), "no gap, no duplicate"
    assert got[-1]["type"] == "run_completed"


def test_the_events_link_is_followed_over_websocket_and_a_bad_key_fails_fast(
    settings: Settings, store: RunStore, r: redis.Redis
) -> None:
    key = KeyStore(r).create("alpha", ["test:read"])[1]
    cases = new_run(store, n_tests=1)
    complete_run(store, cases)
    link = f"http://127.0.0.1:{settings.gateway.port}/sse/events?runId={cases[0].run_id}"
    with serving(build_server(settings)):
        got = list(follow_link(link, key))
        with pytest.raises(AuthError):
            list(follow_run(link.split("/sse", 1)[0], "tfk_bad_key", cases[0].run_id))
    assert [e["id"] for e in got] == stream_ids(r, cases[0].run_id)
