"""ASGI middleware of the API: the body size limit and request metrics."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BodyTooLarge, error
from api.services import ApiMetrics

_BAD_LENGTH = (
    "Content-Length is not a number: send the body's size in bytes, "
    "or leave the header out and send the body chunked"
)


class BodyLimit:
    """Refuses bodies past ``max_bytes``: by Content-Length up front, else while reading.

    A chunked body (no Content-Length) is counted as it arrives, so it can never
    be buffered past the limit: the read raises ``BodyTooLarge`` (a 413).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return (
            f"the request body is larger than {self.max_bytes} bytes; split the suites "
            "into several runs or raise TESTFLEET_API__MAX_BODY_BYTES"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await error(400, "bad_request", _BAD_LENGTH)(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await error(413, "payload_too_large", self._too_large())(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self._too_large())
            return message

        await self.app(scope, limited, send)


class RequestMetrics:
    """Counts requests by route template (never the raw path: ids would explode labels)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        began = time.perf_counter()

        async def counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - began)
