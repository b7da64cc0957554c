"""``/ws/events/{run_id}?ticket=&filter=<json>&batch_size=50&poll_interval=100``.

The key comes as a header, or as a single-use stream ticket (``?ticket=``, from
``POST /api/stream-tickets``) so that no key sits in a URL; ``?token=KEY`` still
works (``testfleet.logs`` masks it in every log line).

The simple stream for dashboards and scripts: one run's events, batches only,
configured by the query string, no handshake. It is a ``Connection`` whose
authentication and single subscription come from the URL: the key must be
able to read tests and the run must belong to its project (otherwise an
``error`` then close 3000 or 1008: a run of another project looks missing).
History is replayed from the run's own stream (from ``lastEventId``, else from
the start) then continues live, like ``/sse/events``.
"""

from __future__ import annotations

import json

from starlette.websockets import WebSocket

from gateway.protocol import (
    CLOSE_AUTH_FAILED,
    CLOSE_POLICY,
    MAX_BATCH_SIZE,
    MAX_WINDOW_MS,
    Batch,
    ProtocolError,
    SubscribeRequest,
    validate_filters,
)
from gateway.services import Services
from gateway.ws import Connection, connection_limit
from testfleet import keys
from testfleet.errors import AuthError
from testfleet.fleet.auth import presented_key
from testfleet.stream import is_stream_id


def _bounded(raw: str | None, name: str, low: int, high: int, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ProtocolError(
            "INVALID_MESSAGE_FORMAT",
            f"{name} must be an integer from {low} to {high}",
            close=CLOSE_POLICY,
            details={"parameter": name},
        )
    return int(raw)


class RunStream(Connection):
    """One run's events in batches, set up from the URL."""

    def __init__(self, websocket: WebSocket, services: Services, run_id: str) -> None:
        super().__init__(websocket, services)
        self.run_id = run_id
        self.transport = "ws_events"
        self.confirm = False

    async def _serve(self) -> None:
        try:
            request, _after = await self._setup()
        except ProtocolError as error:
            await self.fail(error)
            return
        self.start(request, None, replay_stream=keys.run_events(self.run_id))
        # The client has nothing to say but heartbeats; read until it leaves.
        while await self._receive(None) is not None:
            pass

    async def _setup(self) -> tuple[SubscribeRequest, str]:
        params = self.ws.query_params
        headers = self.ws.headers
        try:
            presented = presented_key(
                headers.get("authorization"),
                headers.get("x-api-key"),
                params.get("ticket") or params.get("token"),
            )
            key = await self.services.verify(presented, "test:read", stream=True)
        except AuthError as exc:
            raise ProtocolError("AUTH_FAILED", str(exc), close=CLOSE_AUTH_FAILED) from exc
        head = await self.services.runs.head(self.run_id)
        if head is None or head.projectId != key.project:
            raise ProtocolError(
                "PERMISSION_DENIED",
                f"run {self.run_id} does not exist in project {key.project} (or expired)",
                close=CLOSE_POLICY,
            )
        try:
            raw_filter = json.loads(params.get("filter") or "{}")
        except ValueError:
            raise ProtocolError(
                "INVALID_MESSAGE_FORMAT",
                'filter must be URL-encoded JSON, e.g. {"eventTypes":["test_completed"]}',
                close=CLOSE_POLICY,
            ) from None
        try:
            filters = validate_filters("test_execution", raw_filter)
        except ProtocolError as error:
            error.close = CLOSE_POLICY
            raise
        filters["runIds"] = frozenset({self.run_id})
        after = params.get("lastEventId") or "0-0"
        if not is_stream_id(after):
            raise ProtocolError(
                "INVALID_MESSAGE_FORMAT", "lastEventId must be an event id", close=CLOSE_POLICY
            )
        batch = Batch(
            size=_bounded(params.get("batch_size"), "batch_size", 1, MAX_BATCH_SIZE, 50),
            window_ms=_bounded(params.get("poll_interval"), "poll_interval", 0, MAX_WINDOW_MS, 100),
        )
        if not self.hold(key):
            raise connection_limit(self.services.settings.gateway.connections_per_key)
        return SubscribeRequest("test_execution", filters, after, False, batch), after


async def ws_events(websocket: WebSocket) -> None:
    """``/ws/events/{run_id}``: one run's events, batches only."""
    services: Services = websocket.app.state.services
    await RunStream(websocket, services, websocket.path_params["run_id"]).run()
