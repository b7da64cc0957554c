"""Fixtures shared by the API and gateway tests (each module provides ``settings``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from testfleet.settings import Settings
from testfleet.store import RunStore


@pytest.fixture
def r(settings: Settings) -> Iterator[redis.Redis]:
    """A client of the module's Redis, emptied for each test."""
    client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def store(r: redis.Redis, settings: Settings) -> RunStore:
    """The run store, publishing as a worker would."""
    return RunStore(r, settings, source="worker@test")
