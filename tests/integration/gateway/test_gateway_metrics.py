"""``/metrics`` on the gateway: like the API's, only a key with ``metrics:read`` (or
``admin``) scrapes it; ``/health`` and ``/ready`` stay open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from gateway.app import build_server
from testfleet.fleet.auth import KeyStore
from testfleet.settings import GatewaySettings, PathSettings, RedisSettings, Settings
from tests.fixtures_redis_api import serving
from tests.ports import held_port

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    state_dir: Path = tmp_path_factory.mktemp("state")
    return Settings(
        redis=RedisSettings(url=redis_url),
        gateway=GatewaySettings(host="127.0.0.1", port=held_port(), metrics_interval_s=0),
        paths=PathSettings(state_dir=state_dir),
    )


@pytest.fixture(scope="module")
def gateway_url(settings: Settings) -> Iterator[str]:
    with serving(build_server(settings)):
        yield f"http://127.0.0.1:{settings.gateway.port}"


def test_metrics_need_a_key_with_the_metrics_scope(gateway_url: str, r: redis.Redis) -> None:
    store = KeyStore(r)
    project = store.create("alpha", ["test:read", "dashboard:read"])[1]
    scraper = store.create("ops", ["metrics:read"])[1]
    admin = store.create("ops", ["admin"])[1]
    with httpx.Client(base_url=gateway_url, timeout=10) as anyone:
        # What was found: anyone reaching the port read every stream's traffic figures.
        refused = anyone.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "testfleet_gateway" not in refused.text
        assert anyone.get("/health").status_code == 200
        assert anyone.get("/ready").status_code == 200
        denied = anyone.get("/metrics", headers={"Authorization": f"Bearer {project}"})
        assert denied.status_code == 403
        assert "metrics:read" in denied.json()["error"]["message"]
        for key in (scraper, admin):
            answer = anyone.get("/metrics", headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 200, answer.text
            assert "testfleet_gateway_ws_clients" in answer.text
        assert anyone.get("/metrics", headers={"X-API-Key": scraper}).status_code == 200
        revoked = store.create("ops", ["metrics:read"])
        store.revoke(revoked[0].id)
        gone = anyone.get("/metrics", headers={"Authorization": f"Bearer {revoked[1]}"})
        assert gone.status_code == 401
