"""dashboard_metrics and system_events: what the fleet is doing, published by one gateway.

Every ``metrics_interval_s`` the gateway holding the lock (``keys.GATEWAY_PUBLISHER_LOCK``,
a ``SET NX PX`` renewed by its owner, expiring after three intervals so a dead
leader is replaced) reads the fleet (``testfleet.fleet.state.read_fleet``) and
publishes on ``tf:events`` (and only there: these events belong to no run and
no project, so every key with ``dashboard:read`` sees them), the way every event
is published (``testfleet.stream``, through the hub's stream backend):

- ``metrics_update`` (``payloads.MetricsUpdate``): the fleet's figures; events per
  second are those this gateway read from ``tf:events`` since its previous tick.
  Tests per minute and pass rate count the final results the hub saw in the
  last 60 s (``passRate`` is null when there were none);
- ``service_status_change`` (``payloads.ServiceStatusChange``) when a worker or the
  Grid (or its node count) changes. The last state seen is kept in
  ``keys.GATEWAY_SERVICES`` so a new leader does not announce again what its
  predecessor already did.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections import deque
from typing import Any, Literal, cast

import anyio
import redis

from gateway.hub import Frame
from gateway.services import Services
from testfleet import keys, logs, payloads
from testfleet.events import Event, now_ms
from testfleet.fleet.state import FleetState, read_fleet
from testfleet.results import GOOD_STATUSES

log = logs.get_logger(__name__)

WINDOW_S = 60.0
"""Tests per minute and pass rate are over this many seconds."""
HANDOVER_TIMEOUT_S = 2.0
"""How long a stopping publisher tries to release its lock before leaving it to expire."""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""


class Publisher:
    """The periodic publisher (runs only while this process holds the lock)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.interval_s = services.settings.gateway.metrics_interval_s
        self.owner = f"{socket.gethostname()}:{secrets.token_hex(4)}"
        self._results: deque[tuple[float, bool]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._read_at: tuple[float, int] = (time.monotonic(), services.hub.events_read)
        """(when, the hub's events read then), for events per second."""
        self._renew = services.client.register_script(_RENEW)
        services.hub.listeners.append(self._count)

    def _count(self, frame: Frame) -> None:
        kind = frame.entry.type
        if kind not in ("test_completed", "test_failed"):
            return
        try:
            finished = payloads.parse(kind, frame.payload)
        except payloads.PayloadError as exc:
            log.warning("a %s event %s is not counted: %s", kind, frame.id, exc)
            return
        status = cast(payloads.CaseFinished, finished).result.status
        self._results.append(
            (time.monotonic(), kind == "test_completed" and status in GOOD_STATUSES)
        )

    def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.create_task(self._run(), name="gateway-publisher")

    async def stop(self) -> None:
        if self._task is None:
            return
        # The flag, not only the cancel: redis-py may turn a cancelled command into a
        # ConnectionError, which the loop would log and retry forever.
        self._stopping = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        with contextlib.suppress(redis.RedisError, TimeoutError):
            # Hand over at once rather than after the lock expires; but a stop must not
            # wait on a busy connection pool: the lock expires on its own anyway.
            async with asyncio.timeout(HANDOVER_TIMEOUT_S):
                if await self.services.client.get(keys.GATEWAY_PUBLISHER_LOCK) == self.owner:
                    await self.services.client.delete(keys.GATEWAY_PUBLISHER_LOCK)

    async def _run(self) -> None:
        ttl_ms = int(self.interval_s * 3000)
        while not self._stopping:
            try:
                if await self._renew(keys=[keys.GATEWAY_PUBLISHER_LOCK], args=[self.owner, ttl_ms]):
                    await self.tick()
            except (redis.RedisError, OSError) as exc:
                log.warning("fleet metrics not published this time: %s", exc)
            await asyncio.sleep(self.interval_s)

    async def tick(self) -> None:
        """Read the fleet once; publish metrics and any service changes."""
        settings = self.services.settings
        # Abandoned on cancel: a stop must not wait for a slow Grid to answer.
        fleet = await anyio.to_thread.run_sync(
            lambda: read_fleet(self.services.sync_client, settings, grid_timeout_s=2.0),
            abandon_on_cancel=True,
        )
        await self._publish("metrics_update", payloads.MetricsUpdate(metrics=self.metrics(fleet)))
        for change in await self._changes(fleet):
            await self._publish("service_status_change", change)

    def metrics(self, fleet: FleetState) -> payloads.FleetMetrics:
        """The figures of one ``metrics_update``."""
        horizon = time.monotonic() - WINDOW_S
        while self._results and self._results[0][0] < horizon:
            self._results.popleft()
        done = len(self._results)
        passed = sum(1 for _, ok in self._results if ok)
        grid = fleet.grid
        now, read = time.monotonic(), self.services.hub.events_read
        then, read_then = self._read_at
        self._read_at = (now, read)
        return payloads.FleetMetrics(
            eventsPerSecond=round((read - read_then) / (now - then), 1) if now > then else 0.0,
            testsPerMinute=round(done * 60.0 / WINDOW_S, 2),
            passRate=round(passed / done, 4) if done else None,
            queueDepth=fleet.queue_depth,
            queueByPriority=fleet.queue_by_priority,
            busyWorkers=fleet.busy_workers,
            workers=len(fleet.workers),
            workerSlots=fleet.worker_slots,
            freeGridSlots=grid.free_slots if grid else 0,
            gridSlots=grid.total_slots if grid else 0,
            gridNodesUp=grid.nodes_up if grid else 0,
            workerList=[
                payloads.WorkerLoad(name=w.name, busy=w.busy, concurrency=w.concurrency)
                for w in fleet.workers
            ],
        )

    async def _changes(self, fleet: FleetState) -> list[payloads.ServiceStatusChange]:
        client = self.services.client
        previous: dict[Any, Any] = await client.hgetall(keys.GATEWAY_SERVICES)
        alive = {w.name for w in fleet.workers}
        known = [*fleet.workers, *fleet.silent]
        now: dict[str, str] = {w.name: "up" if w.name in alive else "down" for w in known}
        for name, state in previous.items():
            if name.startswith("worker:") and name[7:] not in now and state == "up":
                now[name[7:]] = "down"  # stopped cleanly: its heartbeat entry is gone
        states: dict[Any, Any] = {f"worker:{n}": state for n, state in now.items()}
        grid = fleet.grid
        states["grid"] = f"up:{grid.nodes_up}" if grid else "down"
        changes = []
        for name, state in states.items():
            before = previous.get(name)
            if before == state:
                continue
            changes.append(_change(name, state, before, fleet))
        gone = [n for n in previous if n not in states]
        pipe = client.pipeline(transaction=False)
        if states:
            pipe.hset(keys.GATEWAY_SERVICES, mapping=states)
        if gone:
            pipe.hdel(keys.GATEWAY_SERVICES, *gone)
        # Workers announced down are forgotten once their heartbeat entry is gone too.
        stale = [f"worker:{n}" for n, s in now.items() if s == "down" and n not in alive]
        stale = [n for n in stale if n[7:] not in {w.name for w in known}]
        if stale:
            pipe.hdel(keys.GATEWAY_SERVICES, *stale)
        await pipe.execute()
        return changes

    async def _publish(self, kind: str, payload: payloads.Payload) -> str:
        event = Event(
            type=kind,
            run_id="",
            project_id="",
            payload=payload.dump(),
            source=f"gateway@{self.owner}",
            timestamp_ms=now_ms(),
        )
        return await self.services.hub.streams.publish(event)


def _change(
    name: str, state: str, before: str | None, fleet: FleetState
) -> payloads.ServiceStatusChange:
    status, _, nodes = state.partition(":")
    prev_status, _, prev_nodes = (before or "").partition(":")
    kind: Literal["grid", "worker"] = "grid" if name == "grid" else "worker"
    details: dict[str, Any] = {}
    if kind == "grid":
        details = {
            "nodesUp": int(nodes) if nodes else 0,
            "previousNodesUp": int(prev_nodes) if prev_nodes else None,
            "error": fleet.grid_error,
        }
    return payloads.ServiceStatusChange(
        serviceName=name.removeprefix("worker:"),
        serviceType=kind,
        status=status,
        previousStatus=prev_status or None,
        severity="info" if status == "up" else "warning",
        details=details,
    )
