"""``RedisStreams`` passes the stream backend contract on a real Redis (``MemoryStreams``
passes the same suite in ``tests/unit/gateway/test_streams_memory.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aredis

from gateway.streams import RedisStreams, StreamBackend
from testfleet.settings import Settings
from tests.unit.gateway.stream_contract import StreamContract, Trim

pytestmark = pytest.mark.redis


class TestRedisStreams(StreamContract):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_url: str) -> None:
        self.redis_url = redis_url

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[tuple[StreamBackend, Trim]]:
        client = aredis.Redis.from_url(self.redis_url, decode_responses=True)
        await client.flushdb()

        async def trim(stream: str, maxlen: int) -> None:
            await client.xtrim(stream, maxlen=maxlen, approximate=False)

        try:
            yield RedisStreams(client, Settings(redis={"url": self.redis_url})), trim
        finally:
            await client.aclose()
