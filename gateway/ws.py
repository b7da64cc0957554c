"""WebSocket ``/ws/v1``: the full protocol of SPEC §6 on the hub.

One ``Connection`` per socket, an explicit little state machine: AUTHENTICATING
(only ``auth`` is accepted, within ``auth_timeout_s``) -> OPEN (subscribe,
unsubscribe, heartbeat) -> CLOSED. Each subscription has a pump task that
takes frames from its hub subscription and sends them, singly or in batches;
every send goes through one lock so frames never interleave.

How a connection ends: the client closes (the receive loop sees the
disconnect and cancels the pumps); the gateway closes it for a protocol reason
(error message first, then the close code); a pump finds its subscriber
dropped for falling behind (error + 1008: the client resumes from the
``lastEventId`` in the error's details); the server shuts down (the shutdown
watcher closes with 1001, before uvicorn stops waiting for connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Sequence

from starlette.websockets import WebSocket

from gateway.delivery import pump
from gateway.hub import Frame, Subscription
from gateway.keyguard import StreamHandle
from gateway.protocol import (
    CHANNEL_SCOPE,
    CLOSE_AUTH_FAILED,
    CLOSE_GOING_AWAY,
    CLOSE_POLICY,
    CLOSE_RATE_LIMITED,
    CLOSE_SERVER_ERROR,
    CLOSE_TOO_BIG,
    Message,
    ProtocolError,
    SubscribeRequest,
    auth_key,
    dumps,
    matcher,
    parse,
    slow_consumer,
    subscribe_request,
)
from gateway.services import Services
from testfleet import keys, logs
from testfleet.errors import AuthError
from testfleet.fleet.auth import ApiKey

log = logs.get_logger(__name__)

CLOSE_WAIT_S = 5.0
"""How long sending a close frame may wait for a client that does not read."""


class RateLimiter:
    """A token bucket: ``per_minute`` messages, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self._capacity = float(max(1, per_minute))
        self._tokens = self._capacity
        self._rate_per_s = self._capacity / 60.0
        self._at = time.monotonic()

    def take(self) -> float | None:
        """None when a message may pass, else seconds until one may."""
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate_per_s)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self._rate_per_s


class Connection:
    """One ``/ws/v1`` client."""

    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.ws = websocket
        self.services = services
        self.settings = services.settings.gateway
        self.key: ApiKey | None = None
        self.closed = False
        self.transport = "ws"
        self.confirm = True
        """Send ``subscription_confirmed`` (the simple stream does not)."""
        self._lock = asyncio.Lock()
        self._pumps: dict[str, tuple[Subscription, asyncio.Task[None]]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._limiter = RateLimiter(self.settings.messages_per_minute)
        self._held: StreamHandle | None = None

    # --- sending ---------------------------------------------------------------------

    async def send(self, text: str) -> None:
        async with self._lock:
            if self.closed:
                return
            await self.ws.send_text(text)

    async def send_events(self, text: str, frames: Sequence[Frame]) -> None:
        """Send ``text``, which carries ``frames``, counting the traffic (per run too)."""
        await self.send(text)
        services = self.services
        services.metrics.events.labels("ws").inc(len(frames))
        services.metrics.bytes.labels("ws").inc(len(text))
        if len(frames) == 1:
            services.traffic.sent(frames[0].entry.run_id, 1, len(text))
            return
        services.traffic.sent("", len(frames), len(text))
        # Per-run traffic for a mixed batch, counted by events (bytes by share).
        for frame in frames:
            run = services.traffic.runs[frame.entry.run_id]
            run.events += 1
            run.bytes += len(frame.wire)

    def count_dropped(self) -> None:
        self.services.metrics.dropped.inc()

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        # Pumps first: one may hold the send lock, stuck writing to a client that stopped
        # reading; cancelling it releases the lock for the close frame.
        for sub, task in self._pumps.values():
            sub.close()
            if task is not asyncio.current_task():
                task.cancel()
        self.services.metrics.ws_closes.labels(str(code)).inc()
        async with self._lock:
            with contextlib.suppress(Exception):  # the client may already be gone
                await asyncio.wait_for(self.ws.close(code, reason[:120]), CLOSE_WAIT_S)

    async def fail(self, error: ProtocolError, request_id: str | None = None) -> None:
        """Send the error message; close too when the error is fatal."""
        self.services.metrics.ws_errors.labels(error.code).inc()
        with contextlib.suppress(Exception):
            await self.send(error.frame(request_id))
        if error.close is not None:
            await self.close(error.close, error.code)

    # --- the connection's life ----------------------------------------------------------

    async def run(self) -> None:
        services = self.services
        await self.ws.accept()
        services.sockets.add(self)
        services.traffic.clients[self.transport] += 1
        services.metrics.ws_clients.inc()
        services.metrics.ws_connections.inc()
        watcher = asyncio.create_task(self._watch_shutdown())
        heart = asyncio.create_task(self._heartbeat())
        try:
            await self._serve()
        except Exception:  # never let one connection's bug escape silently
            log.exception("WebSocket connection failed")
            await self.fail(
                ProtocolError(
                    "SERVER_ERROR",
                    "the gateway failed; reconnect and resume",
                    close=CLOSE_SERVER_ERROR,
                )
            )
        finally:
            self.closed = True
            for sub, task in self._pumps.values():
                sub.close()
                task.cancel()
            watcher.cancel()
            heart.cancel()
            services.sockets.discard(self)
            services.traffic.clients[self.transport] -= 1
            services.metrics.ws_clients.dec()
            if self._held is not None:
                self._held.release()

    async def _watch_shutdown(self) -> None:
        await self.services.shutdown.wait()
        await self.close(CLOSE_GOING_AWAY, "server shutting down; reconnect and resume")

    async def _heartbeat(self) -> None:
        interval_s = self.settings.ping_interval_s
        while not self.closed:
            await asyncio.sleep(interval_s)
            if self.key is not None:
                await self.send(dumps({"type": "heartbeat", "timestamp": _now_ms()}))

    async def _receive(self, timeout_s: float | None) -> str | None:
        """The next text frame; None when the socket is done. Bad frames are answered here."""
        while not self.closed:
            try:
                message = await asyncio.wait_for(self.ws.receive(), timeout_s)
            except TimeoutError:
                await self.fail(
                    ProtocolError(
                        "AUTH_FAILED",
                        f"no auth message within {timeout_s:g} s; send "
                        '{"type":"auth","payload":{"apiKey":"KEY"}} first',
                        close=CLOSE_AUTH_FAILED,
                    )
                )
                return None
            if message["type"] == "websocket.disconnect":
                self.closed = True
                return None
            wait_s = self._limiter.take()
            if wait_s is not None:
                limit = self.settings.messages_per_minute
                await self.fail(
                    ProtocolError(
                        "RATE_LIMITED",
                        f"more than {limit} messages a minute; slow down",
                        close=CLOSE_RATE_LIMITED,
                        retry_after_s=round(wait_s, 3),
                    )
                )
                return None
            text = message.get("text")
            if text is None:
                await self.fail(
                    ProtocolError(
                        "INVALID_MESSAGE_FORMAT", "binary frames are not accepted; send JSON text"
                    )
                )
                continue
            if len(text) > self.settings.max_frame_bytes:
                await self.fail(
                    ProtocolError(
                        "MESSAGE_TOO_LARGE",
                        f"messages are limited to {self.settings.max_frame_bytes} bytes",
                        close=CLOSE_TOO_BIG,
                    )
                )
                return None
            return str(text)
        return None

    async def _serve(self) -> None:
        if not await self._authenticate():
            return
        while True:
            text = await self._receive(None)
            if text is None:
                return
            request_id: str | None = None
            try:
                message = parse(text)
                request_id = message.id
                await self._handle(message)
            except ProtocolError as error:
                await self.fail(error, request_id)

    async def _authenticate(self) -> bool:
        text = await self._receive(self.settings.auth_timeout_s)
        if text is None:
            return False
        request_id = None
        try:
            message = parse(text)
            request_id = message.id
            if message.type != "auth":
                raise ProtocolError(
                    "AUTH_FAILED",
                    f"the first message must be auth, not {message.type!r}",
                    close=CLOSE_AUTH_FAILED,
                )
            try:
                key = await self.services.verify(auth_key(message), stream=True)
            except AuthError as exc:
                raise ProtocolError("AUTH_FAILED", str(exc), close=CLOSE_AUTH_FAILED) from exc
        except ProtocolError as error:
            if error.close is None:
                error.close = CLOSE_AUTH_FAILED
            await self.fail(error, request_id)
            return False
        if not self.hold(key):
            await self.fail(connection_limit(self.settings.connections_per_key), request_id)
            return False
        await self.send(
            dumps(
                {
                    "type": "auth_response",
                    "id": request_id,
                    "payload": {
                        "success": True,
                        "user": {"keyId": key.id, "name": key.name, "projectId": key.project},
                        "permissions": key.permissions,
                        "sessionInfo": {
                            "connectionId": secrets.token_hex(8),
                            "rateLimits": {
                                "messagesPerMinute": self.settings.messages_per_minute,
                                "subscriptionsLimit": self.settings.subscriptions_limit,
                                "maxMessageBytes": self.settings.max_frame_bytes,
                            },
                        },
                    },
                }
            )
        )
        return True

    def hold(self, key: ApiKey) -> bool:
        """Count this connection against ``key``'s streams; False when it holds its limit."""
        self._held = self.services.guard.open(key.id, self._revoked)
        if self._held is None:
            return False
        self.key = key
        return True

    async def _revoked(self) -> None:
        await self.fail(
            ProtocolError(
                "AUTH_FAILED",
                "this API key was revoked; its streams are closed",
                close=CLOSE_AUTH_FAILED,
            )
        )

    async def _handle(self, message: Message) -> None:
        if message.type == "subscribe":
            await self._subscribe(message)
        elif message.type == "unsubscribe":
            sid = message.payload.get("subscriptionId")
            if not isinstance(sid, str) or sid not in self._pumps:
                raise ProtocolError(
                    "INVALID_MESSAGE_FORMAT",
                    f"no subscription {sid!r} on this connection",
                    details={"subscriptionId": sid if isinstance(sid, str) else None},
                )
            sub, task = self._pumps.pop(sid)
            sub.close()
            task.cancel()
            await self.send(
                dumps(
                    {
                        "type": "unsubscribe_confirmed",
                        "id": message.id,
                        "payload": {"subscriptionId": sid},
                    }
                )
            )
        elif message.type == "heartbeat":
            await self.send(
                dumps({"type": "heartbeat_ack", "id": message.id, "timestamp": _now_ms()})
            )
        elif message.type == "heartbeat_ack":
            pass
        elif message.type == "auth":
            raise ProtocolError("INVALID_MESSAGE_FORMAT", "this connection is authenticated")
        else:
            raise ProtocolError(
                "INVALID_MESSAGE_FORMAT",
                f"unknown message type {message.type[:40]!r}; "
                "send subscribe, unsubscribe or heartbeat",
            )

    async def _subscribe(self, message: Message) -> None:
        assert self.key is not None
        request = subscribe_request(message.payload)
        scope = CHANNEL_SCOPE[request.channel]
        if not self.key.allows(scope):
            raise ProtocolError(
                "PERMISSION_DENIED",
                f"channel {request.channel} needs the {scope} scope, which this key lacks",
                details={"channel": request.channel, "scope": scope},
            )
        if len(self._pumps) >= self.settings.subscriptions_limit:
            raise ProtocolError(
                "RATE_LIMITED",
                f"at most {self.settings.subscriptions_limit} subscriptions per connection; "
                "unsubscribe from one first",
                details={"subscriptionsLimit": self.settings.subscriptions_limit},
            )
        self.start(request, message.id)

    def start(self, request: SubscribeRequest, request_id: str | None, **replay: str) -> str:
        """Register ``request`` with the hub and start its pump; returns its subscription id.

        The confirmation is queued on the connection's lock before the pump's
        first frame, so it always arrives first. A subscription to one run replays
        from that run's own stream (not the whole fleet's).
        """
        assert self.key is not None
        runs = request.filters.get("runIds")
        run_id = next(iter(runs)) if runs is not None and len(runs) == 1 else None
        after = request.since or ("0-0" if request.include_history else None)
        if runs is not None and len(runs) == 1 and not replay:
            replay = {"replay_stream": keys.run_events(next(iter(runs)))}
        sub = self.services.hub.subscribe(
            matcher(request.channel, request.filters, self.key.project),
            run_id=run_id,
            after=after,
            **replay,
        )
        sid = f"sub_{secrets.token_hex(6)}"
        of_run = f" of run {run_id}" if run_id else ""
        log.info(
            "%s: %s%s for key %s, after %s",
            sid,
            request.channel,
            of_run,
            self.key.id,
            after or "now",
            extra={"run_id": run_id},
        )
        task = asyncio.create_task(self._confirm_and_pump(sid, sub, request, request_id))
        self._pumps[sid] = (sub, task)
        sub.on_drop = lambda: self._track(asyncio.create_task(self._drop(sid, sub, task)))
        return sid

    def _track(self, task: asyncio.Task[None]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _drop(self, sid: str, sub: Subscription, pump: asyncio.Task[None]) -> None:
        """The hub dropped a subscriber that fell a whole queue behind: stop its pump (most
        likely stuck in a send the client does not read) and tell the client, then close."""
        pump.cancel()
        await asyncio.wait({pump})
        self.services.metrics.dropped.inc()
        error = slow_consumer(
            f"this client fell more than {self.settings.queue_events} events behind; "
            "reconnect and resume from lastEventId",
            sid,
            sub.delivered_id,
        )
        # The error waits behind what the client has not read yet: bounded, so a client
        # that never reads again does not hold this task forever.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.fail(error), self.settings.shutdown_grace_s * 10)

    async def _confirm_and_pump(
        self, sid: str, sub: Subscription, request: SubscribeRequest, request_id: str | None
    ) -> None:
        if self.confirm:
            filters = {
                k: sorted(v) if isinstance(v, frozenset) else v for k, v in request.filters.items()
            }
            confirmed = {"subscriptionId": sid, "channel": request.channel, "filters": filters}
            await self.send(
                dumps({"type": "subscription_confirmed", "id": request_id, "payload": confirmed})
            )
        await pump(self, sid, sub, request)


def connection_limit(limit: int) -> ProtocolError:
    """The error (and close) of a stream past its key's ``connections_per_key``."""
    return ProtocolError(
        "CONNECTION_LIMIT_EXCEEDED",
        f"this API key already holds {limit} streams on this gateway; close one first "
        "(or raise TESTFLEET_GATEWAY__CONNECTIONS_PER_KEY)",
        close=CLOSE_POLICY,
        details={"limit": limit},
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


async def ws_v1(websocket: WebSocket) -> None:
    """``/ws/v1``: the full protocol."""
    services: Services = websocket.app.state.services
    await Connection(websocket, services).run()
