"""Fixtures of the API test modules: an API on a real Redis, keys of two projects.

The uvicorn thread is per module; Redis is the session's shared server
(``redis_url``), emptied per test (``r``; both in tests/conftest.py). Plain helpers
are in ``tests.integration.api.helpers``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from testfleet.settings import (
    ApiSettings,
    GatewaySettings,
    GridSettings,
    PathSettings,
    RedisSettings,
    Settings,
    WorkerSettings,
)
from tests.fixtures_redis_api import serving_api
from tests.integration.api.helpers import MAX_BODY_BYTES, QUEUE, Keys, client_for
from tests.ports import held_port


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The module's settings on the shared Redis (``redis_url`` in tests/conftest.py)."""
    workdir = tmp_path_factory.mktemp("api")
    return Settings(
        redis=RedisSettings(url=redis_url),
        api=ApiSettings(port=held_port(), max_body_bytes=MAX_BODY_BYTES),
        gateway=GatewaySettings(public_url="https://gw.example.test:8443"),
        # Nothing listens there: /fleet must report the Grid unreachable, not hang.
        grid=GridSettings(url=f"http://127.0.0.1:{held_port()}"),
        worker=WorkerSettings(queue=QUEUE),
        paths=PathSettings(state_dir=workdir / "state"),
    )


@pytest.fixture(scope="module")
def api_url(settings: Settings) -> Iterator[str]:
    with serving_api(settings) as url:
        yield url


@pytest.fixture
def api_keys(r: redis.Redis) -> Keys:
    return Keys(r)


@pytest.fixture
def alpha(api_url: str, api_keys: Keys) -> Iterator[httpx.Client]:
    """Project alpha's client, presenting its key as ``Authorization: Bearer`` (beta's
    uses ``X-API-Key``: both ways are exercised by every test using both)."""
    headers = {"Authorization": f"Bearer {api_keys.alpha}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def beta(api_url: str, api_keys: Keys) -> Iterator[httpx.Client]:
    with client_for(api_url, api_keys.beta) as client:
        yield client
