"""Fixtures of the dashboard page tests: a gateway and the API on the session's shared
Redis (``redis_url`` in tests/conftest.py) with their own state and artifact directories
and a history database of the module's own on the session's PostgreSQL (the page reads
a run's labels and the test history from the API, as in a fleet), the gateway's URL, one
headless Chromium per module, and the gateway's artifact store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from gateway.app import build_server
from testfleet.artifacts import ArtifactStore, FileStore
from testfleet.settings import (
    ApiSettings,
    DatabaseSettings,
    GatewaySettings,
    PathSettings,
    RedisSettings,
    Settings,
)
from tests.dashboard.browser import chromium
from tests.fixtures_postgres import history_url, postgres  # noqa: F401 (fixtures)
from tests.fixtures_redis_api import api_server, serving
from tests.ports import held_port


@pytest.fixture(scope="module")
def settings(
    redis_url: str,
    history_url: str,  # noqa: F811 (the fixture above)
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    state = tmp_path_factory.mktemp("dash")
    return Settings(
        redis=RedisSettings(url=redis_url),
        database=DatabaseSettings(url=history_url, connect_timeout_s=2),
        api=ApiSettings(port=held_port()),
        gateway=GatewaySettings(port=held_port(), read_block_ms=100, metrics_interval_s=0.5),
        paths=PathSettings(state_dir=state, artifacts_dir=state / "artifacts"),
    )


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serving(api_server(settings)), serving(build_server(settings)):
        yield f"http://127.0.0.1:{settings.gateway.port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def artifacts(settings: Settings) -> ArtifactStore:
    return FileStore(settings.paths.artifacts)
