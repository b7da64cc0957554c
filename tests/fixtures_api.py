"""Fixtures of the API test modules: an API on a real Redis, keys of two projects.

A test module imports the fixtures it uses (``from tests.fixtures_api import ...``);
the uvicorn thread is per module; Redis is the session's shared server
(``redis_url``), emptied per test (``r``; both in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from orchestrator.api import create_app
from testfleet.auth import KeyStore
from testfleet.settings import (
    ApiSettings,
    GatewaySettings,
    GridSettings,
    PathSettings,
    RedisSettings,
    Settings,
    WorkerSettings,
)
from tests.fixtures_redis import free_port
from tests.fixtures_redis_api import serving

QUEUE = "tfq-api"
MAX_BODY_BYTES = 60_000


def suite(name: str, *tests: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A suite document in short form."""
    return {"name": name, "base_url": "http://demo.test", "tests": list(tests), **fields}


def case(name: str, **fields: Any) -> dict[str, Any]:
    """A two-step test case document."""
    return {"name": name, "steps": [{"navigate": "/"}, {"click": "#go"}], **fields}


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The module's settings on the shared Redis (``redis_url`` in tests/conftest.py)."""
    workdir = tmp_path_factory.mktemp("api")
    return Settings(
        redis=RedisSettings(url=redis_url),
        api=ApiSettings(port=free_port(), max_body_bytes=MAX_BODY_BYTES),
        gateway=GatewaySettings(public_url="https://gw.example.test:8443"),
        # Nothing listens there: /fleet must report the Grid unreachable, not hang.
        grid=GridSettings(url=f"http://127.0.0.1:{free_port()}"),
        worker=WorkerSettings(queue=QUEUE),
        paths=PathSettings(state_dir=workdir / "state"),
    )


@pytest.fixture(scope="module")
def api_url(settings: Settings) -> Iterator[str]:
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=settings.api.port, log_level="warning"
    )
    with serving(uvicorn.Server(config)):
        yield f"http://127.0.0.1:{settings.api.port}"


class Keys:
    """API keys of projects alpha and beta, with various scopes."""

    def __init__(self, r: redis.Redis) -> None:
        ks = KeyStore(r)
        self.alpha = ks.create("alpha", ["test:read", "test:write"])[1]
        self.beta = ks.create("beta", ["test:read", "test:write"])[1]
        self.alpha_read = ks.create("alpha", ["test:read"])[1]
        self.alpha_dashboard = ks.create("alpha", ["dashboard:read"])[1]
        self.beta_dashboard = ks.create("beta", ["dashboard:read"])[1]
        self.alpha_admin = ks.create("alpha", ["admin"])[1]


@pytest.fixture
def api_keys(r: redis.Redis) -> Keys:
    return Keys(r)


def client_for(api_url: str, key: str | None) -> httpx.Client:
    """An HTTP client of the API presenting ``key`` (none when None)."""
    headers = {"X-API-Key": key} if key else {}
    return httpx.Client(base_url=api_url, headers=headers, timeout=30)


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


def submit(client: httpx.Client, *suites: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Submit suites as a run; the 202 answer."""
    answer = client.post("/api/v1/runs", json={"suites": list(suites), **fields})
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` of an error answer, checked to be in the one shape."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"], body
    assert body["error"]["message"], body
    detail: dict[str, Any] = body["error"]
    return detail
