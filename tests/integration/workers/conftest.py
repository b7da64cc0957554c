"""Fixtures of the worker test modules: local pages on a page server, settings on the
session's shared Redis (``redis_url`` in tests/conftest.py) with the local browser
provider, the run store on them, a provider that counts its sessions, a flushed Redis
client (``r``) and a fake OpenAI-compatible server (``fake``) for the AI tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from testfleet.settings import GridSettings, PathSettings, RedisSettings, Settings
from testfleet.store import RunStore
from tests.fake_openai import FakeOpenAI, fake_openai
from tests.fixtures_pages import page_server
from tests.integration.workers.runcase import CountingProvider, Pages


@pytest.fixture(scope="module")
def pages() -> Pages:
    return Pages()


@pytest.fixture(scope="module")
def base_url(pages: Pages) -> Iterator[str]:
    with page_server(pages.all()) as url:
        yield url


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return Settings(
        redis=RedisSettings(url=redis_url),
        grid=GridSettings(provider="local"),
        paths=PathSettings(state_dir=tmp_path, artifacts_dir=tmp_path / "artifacts"),
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[RunStore]:
    store = RunStore.connect(settings, source="test")
    yield store
    store.redis.close()


@pytest.fixture
def provider(settings: Settings) -> Iterator[CountingProvider]:
    provider = CountingProvider(settings)
    yield provider
    assert provider.closed == provider.opened, "every session is closed"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai() as server:
        yield server


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()
