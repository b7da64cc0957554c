"""The Redis connection factory: Sentinel URLs, failing fast, and following a failover."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis

from api.dispatch import Dispatcher
from testfleet.errors import UsageError
from testfleet.fleet import redisconn
from testfleet.fleet.broker import queue_lists
from testfleet.results import CaseResult
from testfleet.settings import RedisSettings, Settings
from tests.fixtures_sentinel import Cluster, sentinel_cluster
from tests.ports import held_port
from tests.waiting import wait_until

pytestmark = pytest.mark.redis


def test_sentinel_urls_are_read_as_kombu_writes_them() -> None:
    target = redisconn.sentinel_target("sentinel://:s3cret@h1:26380;sentinel://h2/3")
    assert target is not None
    assert target.sentinels == [("h1", 26380), ("h2", 26379)]
    assert (target.db, target.password) == (3, "s3cret")
    assert redisconn.sentinel_target("redis://127.0.0.1:6390/0") is None
    with pytest.raises(UsageError, match="sentinel://HOST:PORT"):
        redisconn.sentinel_target("sentinel://h1:26379;redis://h2:6379")
    settings = RedisSettings(url="sentinel://h1:26380", sentinel_master="prod")
    assert redisconn.broker_options(settings)["master_name"] == "prod"
    assert "Sentinel at h1:26380" in redisconn.describe(settings)


def test_a_redis_that_is_down_is_reported_in_about_a_second() -> None:
    client = redisconn.connect(RedisSettings(url=f"redis://127.0.0.1:{held_port()}/0"))
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    assert time.monotonic() - started < 5, "not the kernel's minutes"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with sentinel_cluster() as cluster:
        yield cluster


def queued(port: int, settings: Settings) -> int:
    server = redis.Redis(port=port)
    try:
        return sum(int(server.llen(name)) for name in queue_lists(settings.worker.queue))
    finally:
        server.close()


def test_clients_and_the_broker_follow_a_sentinel_failover(cluster: Cluster) -> None:
    settings = Settings(redis=RedisSettings(url=cluster.url))
    client = redisconn.connect(settings.redis)
    dispatcher = Dispatcher(settings)
    case = CaseResult(case_id="r1-0001", run_id="r1", suite="s", name="t")
    try:
        client.set("before", "1")
        assert asyncio.run(_async_get(settings, "before")) == "1", "the gateway's client"
        dispatcher.dispatch([case])
        assert queued(cluster.primary_port, settings) == 1, "sent to the primary"

        cluster.kill_primary()
        cluster.wait_failover()

        # Each finds the promoted replica by itself (after a failed try or two). The
        # gateway's asyncio client doing the same is shown by the Sentinel chaos test.
        wait_until(
            "the client to write to the new primary",
            lambda: client.set("after", "2"),
            30,
            ignore=(redis.ConnectionError,),
        )
        assert client.get("before") == "1", "replicated before the failover"
        wait_until(
            "the broker to send to the new primary",
            lambda: dispatcher.dispatch([case]),
            30,
            ignore=(Exception,),
        )
        assert queued(cluster.replica_port, settings) == 2
    finally:
        dispatcher.close()
        client.close()


async def _async_get(settings: Settings, key: str) -> str | None:
    client = redisconn.connect_async(settings.redis)
    try:
        value = await client.get(key)
        return None if value is None else str(value)
    finally:
        await redisconn.close_async(client)
