"""What the egress proxy answers the browser itself: refusals, unreachable hosts, errors.

A refusal names nothing of the fleet to the page: it is a 403 whose page says only
that the target policy refused it (``<meta name="testfleet-blocked">`` with that
generic content, for the executor, which works the detailed reason out from its
own policy), with no CORS header, so a script of another origin cannot read it.
The detailed reason (which endpoint, which address) goes to the proxy's log only:
a page that could read it could map the fleet's internal addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import html

from testfleet.targets.policy import BLOCKED_META, BLOCKED_TITLE, UNREACHABLE_META

REFUSED_TEXT = "refused by the fleet's target policy"
"""The whole reason a refused page shows (and its ``testfleet-blocked`` meta's content)."""

_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


async def send(
    writer: asyncio.StreamWriter, status: int, body: bytes, content_type: str, *headers: str
) -> None:
    """Write one whole response (the connection closes after it) and flush it."""
    head = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        f"Content-Type: {content_type}",
        *headers,
        f"Content-Length: {len(body)}",
        "Connection: close",
        "",
        "",
    ]
    writer.write("\r\n".join(head).encode("utf-8", "replace") + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()


def marker_page(meta: str, content: str, title: str, text: str) -> bytes:
    """A small page whose ``<meta name=meta>`` carries ``content`` for the executor."""
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<meta name="{meta}" content="{content}"><title>{title}</title>'
        f"</head><body><h1>{title}</h1><p>{text}</p></body></html>"
    ).encode()


async def respond(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    """A plain-text answer of the proxy's own (a bad request, no slot)."""
    await send(writer, status, f"{message}\n".encode(), "text/plain; charset=utf-8")


def net_error(exc: BaseException) -> str:
    """The name Chromium gives the same failure when it connects by itself."""
    if isinstance(exc, ConnectionRefusedError):
        return "net::ERR_CONNECTION_REFUSED"
    if isinstance(exc, TimeoutError):
        return "net::ERR_CONNECTION_TIMED_OUT"
    if isinstance(exc, ConnectionResetError):
        return "net::ERR_CONNECTION_RESET"
    return "net::ERR_ADDRESS_UNREACHABLE"


async def unreachable(writer: asyncio.StreamWriter, error: str, message: str) -> None:
    """A 502 whose page names the network error, so a navigation through the proxy fails
    the way it would without one (a tunnel's client reads only the status)."""
    text = html.escape(message.replace("\r", " ").replace("\n", " "))
    body = marker_page(UNREACHABLE_META, error, error, text)
    await send(writer, 502, body, "text/html; charset=utf-8", "Cache-Control: no-store")


async def refuse(writer: asyncio.StreamWriter, *, page: bool) -> None:
    """Tell the browser no, and nothing more: a page for HTTP, the status only for a
    tunnel (Chromium shows its own error page for a refused CONNECT)."""
    body = marker_page(BLOCKED_META, REFUSED_TEXT, BLOCKED_TITLE, REFUSED_TEXT) if page else b""
    await send(writer, 403, body, "text/html; charset=utf-8", "Cache-Control: no-store")
