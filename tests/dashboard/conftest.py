"""Fixtures of the dashboard page tests: a gateway and the API on the session's shared
Redis (``redis_url`` in tests/conftest.py) with their own state and artifact directories
and a history database of the module's own on the session's PostgreSQL (the page reads
a run's labels and the test history from the API, as in a fleet), the gateway's URL, one
headless Chromium per module, and the gateway's artifact store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser
from sqlalchemy import create_engine

from api.app import create_app
from gateway.app import build_server
from testfleet.artifacts import ArtifactStore, FileStore
from testfleet.history import migrate
from testfleet.settings import (
    ApiSettings,
    DatabaseSettings,
    GatewaySettings,
    PathSettings,
    RedisSettings,
    Settings,
)
from tests.dashboard.browser import chromium
from tests.fixtures_postgres import PgServer, postgres  # noqa: F401 (a fixture)
from tests.fixtures_redis_api import serving
from tests.ports import held_port


@pytest.fixture(scope="module")
def history_url(postgres: PgServer) -> Iterator[str]:  # noqa: F811 (the fixture above)
    """A migrated history database of the module's own."""
    url = postgres.create_database()
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    if postgres.process is not None:
        postgres.drop_database(url)


@pytest.fixture(scope="module")
def settings(
    redis_url: str, history_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    state = tmp_path_factory.mktemp("dash")
    return Settings(
        redis=RedisSettings(url=redis_url),
        database=DatabaseSettings(url=history_url, connect_timeout_s=2),
        api=ApiSettings(port=held_port()),
        gateway=GatewaySettings(port=held_port(), read_block_ms=100, metrics_interval_s=0.5),
        paths=PathSettings(state_dir=state, artifacts_dir=state / "artifacts"),
    )


def api_server(settings: Settings) -> uvicorn.Server:
    """The API of ``settings`` (on ``settings.api.port``), for ``serving``."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=settings.api.port, log_level="warning"
    )
    return uvicorn.Server(config)


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
