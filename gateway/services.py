"""What every gateway endpoint shares: settings, Redis, keys, the hub, metrics, shutdown."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import anyio
import redis
import redis.asyncio as aredis
from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.hub import Hub
from gateway.keyguard import KeyGuard
from testfleet.errors import ForbiddenError
from testfleet.fleet.auth import ApiKey, KeyStore
from testfleet.settings import Settings
from testfleet.store import AsyncRunReader


class Shutdown:
    """Set once when the server begins to shut down; streams and sockets end on it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


class Metrics:
    """The gateway's Prometheus counters (``/metrics``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.clients = Gauge(
            "testfleet_gateway_sse_clients", "Open SSE streams", registry=self.registry
        )
        self.connections = Counter(
            "testfleet_gateway_sse_connections", "SSE streams opened", registry=self.registry
        )
        self.events = Counter(
            "testfleet_gateway_events_sent",
            "Events sent to clients",
            ["transport"],
            registry=self.registry,
        )
        self.bytes = Counter(
            "testfleet_gateway_bytes_sent",
            "Bytes of event streams sent",
            ["transport"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "testfleet_gateway_rejected",
            "Requests refused, by HTTP status",
            ["status"],
            registry=self.registry,
        )
        self.ws_clients = Gauge(
            "testfleet_gateway_ws_clients", "Open WebSockets", registry=self.registry
        )
        self.ws_connections = Counter(
            "testfleet_gateway_ws_connections", "WebSockets opened", registry=self.registry
        )
        self.ws_closes = Counter(
            "testfleet_gateway_ws_closes",
            "WebSockets closed by the gateway, by close code",
            ["code"],
            registry=self.registry,
        )
        self.ws_errors = Counter(
            "testfleet_gateway_ws_errors",
            "Error messages sent, by code",
            ["code"],
            registry=self.registry,
        )
        self.dropped = Counter(
            "testfleet_gateway_slow_clients_dropped",
            "Subscribers dropped for falling behind",
            registry=self.registry,
        )


@dataclass
class RunTraffic:
    events: int = 0
    bytes: int = 0


@dataclass
class Traffic:
    """What ``GET /api/websocket-metrics`` reports (this process, since it started)."""

    clients: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """Open connections by transport (ws, ws_events, sse)."""
    events: int = 0
    bytes: int = 0
    runs: dict[str, RunTraffic] = field(default_factory=lambda: defaultdict(RunTraffic))

    def sent(self, run_id: str, events: int, nbytes: int) -> None:
        self.events += events
        self.bytes += nbytes
        if run_id:
            run = self.runs[run_id]
            run.events += events
            run.bytes += nbytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "connectedClients": sum(self.clients.values()),
            "clientsByTransport": dict(self.clients),
            "eventsSent": self.events,
            "bytesSent": self.bytes,
            "runs": {
                run_id: {"eventsSent": t.events, "bytesSent": t.bytes}
                for run_id, t in self.runs.items()
            },
        }


@dataclass
class Services:
    settings: Settings
    client: aredis.Redis
    sync_client: redis.Redis
    keys: KeyStore
    shutdown: Shutdown
    metrics: Metrics
    hub: Hub
    guard: KeyGuard
    """Open streams per API key: the per-key limit, and closing a revoked key's streams."""
    traffic: Traffic = field(default_factory=Traffic)
    sockets: set[Any] = field(default_factory=set)
    """Open WebSocket connections (closed with 1001 at shutdown)."""

    @property
    def runs(self) -> AsyncRunReader:
        """The run store's reads: who owns a run, whether it is over."""
        return AsyncRunReader(self.client)

    async def verify(
        self, presented: str | None, scope: str | None = None, *, stream: bool = False
    ) -> ApiKey:
        """The key's record (``AuthError`` if invalid, ``ForbiddenError`` without ``scope``).

        ``stream``: a stream ticket (``tft_...``, taken now) is accepted for the key too.
        """
        check = self.keys.verify_stream if stream else self.keys.verify
        key = await anyio.to_thread.run_sync(check, presented)
        if scope is not None and not key.allows(scope):
            raise ForbiddenError(
                f"this API key (id {key.id}) lacks the {scope} scope; create one that has it: "
                f"`testfleet keys create --project {key.project} --scopes {scope}`"
            )
        return key
