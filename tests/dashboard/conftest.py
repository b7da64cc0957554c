"""Fixtures of the dashboard page tests: a gateway on the session's shared Redis
(``redis_url`` in tests/conftest.py) with its own state and artifact directories, its
URL, one headless Chromium per module, and the gateway's artifact store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from gateway.app import build_server
from testfleet.artifacts import ArtifactStore, FileStore
from testfleet.settings import ApiSettings, GatewaySettings, PathSettings, RedisSettings, Settings
from tests.dashboard.browser import chromium
from tests.fixtures_redis import free_port
from tests.fixtures_redis_api import serving


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    state = tmp_path_factory.mktemp("dash")
    return Settings(
        redis=RedisSettings(url=redis_url),
        api=ApiSettings(public_url=f"http://127.0.0.1:{free_port()}"),
        gateway=GatewaySettings(port=free_port(), read_block_ms=100, metrics_interval_s=0.5),
        paths=PathSettings(state_dir=state, artifacts_dir=state / "artifacts"),
    )


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serving(build_server(settings)):
        yield f"http://127.0.0.1:{settings.gateway.port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def artifacts(settings: Settings) -> ArtifactStore:
    return FileStore(settings.paths.artifacts)
