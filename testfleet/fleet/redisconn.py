"""The one way every component connects to Redis: one server, or a Sentinel-managed primary.

``settings.redis.url`` names a Redis server (``redis://``, ``rediss://``,
``unix://``) or the Sentinels that watch the primary (``sentinel://h1:26379;
sentinel://h2:26379/0``, kombu's own form, so the Celery broker reads the same
string) with ``settings.redis.sentinel_master`` naming the primary. The run
store, the event stream, API keys, the workers' chores and the gateway all take
their clients from here; the broker gets ``broker_url`` and ``broker_options``.

What the clients made here do when Redis goes away:

- fail fast: opening a connection gives up after ``connect_timeout_s``, and a
  command that meets a broken connection is retried ``COMMAND_RETRIES`` times over
  well under a second, then raises ``redis.ConnectionError`` (the API answers 503,
  a worker's case stays unfinished and is handed back);
- reconnect by themselves: each command takes a pooled connection and a broken
  one is replaced; through Sentinel the replacement goes to whichever server is
  primary now (a write that reaches a demoted primary drops its connection).

A retried command may run twice when the server died after running it but
before answering; every write testfleet makes either is idempotent or guarded by
a Lua script (a case's final status), so the worst case is a repeated progress event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from testfleet.errors import UsageError
from testfleet.settings import RedisSettings

COMMAND_RETRIES = 3
"""Extra tries of a command that met a broken connection (0.05, 0.1, 0.2 s apart)."""
HEALTH_CHECK_INTERVAL_S = 15
"""A pooled connection idle this long is PINGed before use (and replaced if dead)."""
SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelTarget:
    """Where the Sentinels are, and what to ask them for."""

    sentinels: list[tuple[str, int]]
    db: int
    username: str | None
    password: str | None


def sentinel_target(url: str) -> SentinelTarget | None:
    """The Sentinels a ``sentinel://`` URL names (None for any other URL).

    Raises ``UsageError`` for a malformed one, saying what the form is.
    """
    if not url.startswith("sentinel://"):
        return None
    sentinels: list[tuple[str, int]] = []
    db = 0
    username = password = None
    for part in url.split(";"):
        parts = urlsplit(part.strip())
        if parts.scheme != "sentinel" or not parts.hostname:
            raise UsageError(
                f"bad Redis Sentinel URL {url!r}: write "
                "sentinel://HOST:PORT[;sentinel://HOST:PORT][/DB] (TESTFLEET_REDIS__URL) and "
                "name the primary in TESTFLEET_REDIS__SENTINEL_MASTER"
            )
        try:
            sentinels.append((parts.hostname, parts.port or SENTINEL_PORT))
            path = parts.path.strip("/")
            db = int(path) if path else db
        except ValueError as exc:
            raise UsageError(f"bad Redis Sentinel URL {url!r}: {exc}") from exc
        username = unquote(parts.username) if parts.username else username
        password = unquote(parts.password) if parts.password else password
    return SentinelTarget(sentinels, db, username, password)


def _options(settings: RedisSettings) -> dict[str, Any]:
    return {
        "socket_connect_timeout": settings.connect_timeout_s,
        "socket_timeout": settings.socket_timeout_s,
        "socket_keepalive": True,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
    }


def _retry() -> Retry:
    return Retry(
        ExponentialBackoff(cap=0.5, base=0.05),
        COMMAND_RETRIES,
        supported_errors=(redis.ConnectionError,),
    )


def connect(settings: RedisSettings, *, decode: bool = True) -> redis.Redis:
    """A client on the configured Redis (its primary, through Sentinel)."""
    options = {**_options(settings), "decode_responses": decode, "retry": _retry()}
    target = sentinel_target(settings.url)
    if target is None:
        return redis.Redis.from_url(settings.url, **options)
    sentinel = Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
        target.sentinels,
        sentinel_kwargs={
            "socket_connect_timeout": settings.connect_timeout_s,
            "socket_timeout": settings.connect_timeout_s,
        },
    )
    client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call, unused-ignore]
        settings.sentinel_master,
        db=target.db,
        username=target.username,
        password=target.password,
        **options,
    )
    return client


class _BlockingSentinelPool(AsyncSentinelPool, aredis.BlockingConnectionPool):
    """Sentinel's primary discovery with a pool that waits for a free connection."""


def connect_async(
    settings: RedisSettings, *, max_connections: int = 64, pool_timeout_s: float = 10.0
) -> aredis.Redis:
    """An asyncio client (strings decoded) whose pool makes a burst of callers wait for a
    free connection (up to ``pool_timeout_s``) instead of failing."""
    options = {**_options(settings), "decode_responses": True, "retry": _async_retry()}
    target = sentinel_target(settings.url)
    if target is None:
        pool = aredis.BlockingConnectionPool.from_url(
            settings.url, max_connections=max_connections, timeout=pool_timeout_s, **options
        )
        return aredis.Redis(connection_pool=pool)
    sentinel = AsyncSentinel(  # type: ignore[no-untyped-call, unused-ignore]
        target.sentinels,
        sentinel_kwargs={
            "socket_connect_timeout": settings.connect_timeout_s,
            "socket_timeout": settings.connect_timeout_s,
        },
    )
    client: aredis.Redis = sentinel.master_for(
        settings.sentinel_master,
        connection_pool_class=_BlockingSentinelPool,
        max_connections=max_connections,
        timeout=pool_timeout_s,
        db=target.db,
        username=target.username,
        password=target.password,
        **options,
    )
    return client


def _async_retry() -> Any:
    from redis.asyncio.retry import Retry as AsyncRetry

    return AsyncRetry(
        ExponentialBackoff(cap=0.5, base=0.05),
        COMMAND_RETRIES,
        supported_errors=(redis.ConnectionError,),
    )


async def close_async(client: aredis.Redis) -> None:
    """Close an asyncio client of ``connect_async``: its pool and, through Sentinel, its
    connections to the Sentinels too."""
    await client.aclose()
    pool = client.connection_pool
    await pool.aclose()
    manager = getattr(pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", []):
        await sentinel.aclose()


def broker_url(settings: RedisSettings) -> str:
    """The Celery broker URL: the same string (kombu reads ``sentinel://`` lists itself)."""
    return settings.url


def broker_options(settings: RedisSettings) -> dict[str, Any]:
    """kombu Redis transport options for the connection itself (timeouts, Sentinel)."""
    options: dict[str, Any] = {
        "socket_connect_timeout": settings.connect_timeout_s,
        # Not socket_timeout: kombu's BRPOP blocks for its own timeout and is checked by
        # kombu's health checks; a socket timeout below it would cut every idle poll.
        "socket_keepalive": True,
    }
    if sentinel_target(settings.url) is not None:
        options["master_name"] = settings.sentinel_master
        options["sentinel_kwargs"] = {
            "socket_connect_timeout": settings.connect_timeout_s,
            "socket_timeout": settings.connect_timeout_s,
        }
    return options


def describe(settings: RedisSettings) -> str:
    """Where Redis is, for messages (no password)."""
    target = sentinel_target(settings.url)
    if target is not None:
        hosts = ", ".join(f"{h}:{p}" for h, p in target.sentinels)
        return f"Redis primary {settings.sentinel_master!r} via Sentinel at {hosts}"
    parts = urlsplit(settings.url)
    return f"Redis at {parts.hostname or parts.path}:{parts.port or ''}".rstrip(":")
