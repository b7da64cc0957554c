"""Following a run's events over the gateway's WebSocket, resuming after any disconnect.

``run_events`` is an async iterator: it authenticates on ``/ws/v1``, subscribes
to the run (``includeHistory`` the first time, ``since`` the last id seen after
a reconnect), and yields each event (batches unpacked) until ``run_completed``
or ``stop(event)``. A dropped connection (gateway restart: 1001; slow client:
1008; server error: 1011; network) is retried with exponential backoff and
jitter; the gateway replays what was missed with no gap and no duplicate (a
``gap`` message is yielded as is when the history was trimmed). A refused key
(close 3000, or AUTH_FAILED / PERMISSION_DENIED) raises ``AuthError`` at once.
``follow_run`` is the same as a plain iterator, for synchronous callers such as
``testfleet run`` and ``watch``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from testfleet.client.http import RECONNECT, follow_events
from testfleet.constants import GATEWAY_SSE_PATH, GATEWAY_WS_PATH
from testfleet.errors import AuthError, InfrastructureError, NotFoundError

Event = dict[str, Any]
_CONTROL = frozenset({"heartbeat", "heartbeat_ack", "subscription_confirmed", "auth_response"})
_FATAL = {
    "AUTH_FAILED": AuthError,
    "INVALID_TOKEN": AuthError,
    "TOKEN_EXPIRED": AuthError,
    "PERMISSION_DENIED": AuthError,
    "CHANNEL_NOT_FOUND": NotFoundError,
}


def websocket_url(gateway_url: str) -> str:
    """``http(s)://host:port`` -> ``ws(s)://host:port/ws/v1``."""
    base = gateway_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return base + GATEWAY_WS_PATH


def _auth_message(api_key: str | None) -> str:
    return json.dumps({"type": "auth", "id": "auth", "payload": {"apiKey": api_key or ""}})


def _subscribe_message(run_id: str, last_id: str | None) -> str:
    """Subscribe to ``run_id``'s events: after ``last_id`` when resuming, else from the start."""
    options: dict[str, Any] = {"since": last_id} if last_id else {"includeHistory": True}
    payload = {"channel": "test_execution", "filters": {"runIds": [run_id]}, "options": options}
    return json.dumps({"type": "subscribe", "id": "run", "payload": payload})


async def run_events(
    gateway_url: str,
    api_key: str | None,
    run_id: str,
    *,
    last_id: str | None = None,
    max_retries: int = 8,
    stop: Callable[[Event], bool] | None = None,
) -> AsyncIterator[Event]:
    """Every event of ``run_id`` (after ``last_id`` if given), across reconnects."""
    url = websocket_url(gateway_url)
    failures = 0
    while True:
        try:
            async with connect(url, open_timeout=10, close_timeout=2, max_size=None) as ws:
                await ws.send(_auth_message(api_key))
                await ws.send(_subscribe_message(run_id, last_id))
                async for raw in ws:
                    message = json.loads(raw)
                    for event in message["events"] if message["type"] == "batch" else [message]:
                        kind = event.get("type")
                        if kind in _CONTROL:
                            failures = 0
                            continue
                        if kind == "error":
                            _raise_if_fatal(event)
                            continue  # the server closes next; we resume
                        if kind != "gap":
                            last_id = event.get("id") or last_id
                        yield event
                        if kind == "run_completed" or (stop is not None and stop(event)):
                            return
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code == 3000:
                raise AuthError(f"the gateway refused the API key: {exc.rcvd.reason}") from exc
            failures += 1
            error: Exception = exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            failures += 1
            error = exc
        if failures > max_retries:
            raise InfrastructureError(
                f"lost the event stream at {url} and could not reconnect ({error}); "
                "check `testfleet status`, then `testfleet watch RUN_ID`"
            ) from error
        await asyncio.sleep(RECONNECT.delay_s(failures))


def _raise_if_fatal(message: Event) -> None:
    payload = message.get("payload") or {}
    kind = _FATAL.get(payload.get("code", ""))
    if kind is not None:
        raise kind(payload.get("message") or payload.get("code"))


def follow_run(
    gateway_url: str, api_key: str | None, run_id: str, **options: Any
) -> Iterator[Event]:
    """``run_events`` for synchronous code (a private event loop steps the iterator)."""
    loop = asyncio.new_event_loop()
    events = run_events(gateway_url, api_key, run_id, **options)
    try:
        while True:
            try:
                yield loop.run_until_complete(anext(events))
            except StopAsyncIteration:
                return
    finally:
        # An exception raised into the loop (Ctrl-C in `testfleet run`) leaves the read in
        # progress: cancel it (closing the WebSocket) before closing the generator.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        with contextlib.suppress(RuntimeError):
            loop.run_until_complete(events.aclose())  # type: ignore[attr-defined]
        loop.close()


def follow_link(events_url: str, api_key: str | None) -> Iterator[Event]:
    """Follow the events link the API gives for a run (``.../sse/events?runId=ID``) over the
    WebSocket of the same gateway; a link of any other shape is followed as SSE."""
    parts = urlsplit(events_url)
    run_ids = parse_qs(parts.query).get("runId")
    if parts.path.endswith(GATEWAY_SSE_PATH) and run_ids:
        base = f"{parts.scheme}://{parts.netloc}{parts.path.removesuffix(GATEWAY_SSE_PATH)}"
        return follow_run(base, api_key, run_ids[0])
    return follow_events(events_url, api_key)
