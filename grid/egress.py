"""The egress proxy beside a Grid node: every request its browsers make goes through it.

The node starts Chromium with ``--proxy-server=http://<this proxy>`` and
``--proxy-bypass-list=<-loopback>`` (without the second, Chromium would connect to
loopback directly), and ``--force-webrtc-ip-handling-policy=disable_non_proxied_udp``
(WebRTC would otherwise open UDP past it). So every HTTP request, every HTTPS and
WebSocket tunnel (``CONNECT``), from a navigation, a redirect, a link, ``fetch()`` or
a script, arrives here first, and the proxy decides with ``testfleet.targets``:

- it resolves the host itself and connects only to an address it checked, so a
  name that resolves to the loopback (or changes its answer) gains nothing;
- a refused plain-HTTP request gets a 403 page titled "Blocked by testfleet" with
  the reason in ``<meta name="testfleet-blocked">`` and in the ``X-Testfleet-Blocked``
  header (readable by scripts: the refusal allows any origin); a refused ``CONNECT``
  gets a 403, which Chromium shows as ERR_TUNNEL_CONNECTION_FAILED.

Plain HTTP is forwarded one request per connection (``Connection: close`` both
ways): Chromium may send a request for another host on a kept-alive proxy
connection, and each request must be checked. A new upstream connection per
request is what that costs (``python -m bench egress`` measures it).

Run it with ``python -m grid.egress CONFIG.json`` (what ``testfleet grid node``
starts beside the node; ``write_config`` writes the file) or ``testfleet grid egress``
(its own container: compose).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import ipaddress
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from testfleet import logs
from testfleet.addresses import Address
from testfleet.settings import LogSettings, Settings
from testfleet.targets import (
    BLOCKED_META,
    BLOCKED_TITLE,
    UNREACHABLE_META,
    Endpoint,
    Refusal,
    TargetPolicy,
    parse_allowance,
)

log = logs.get_logger(__name__)

HEAD_LIMIT_BYTES = 64 * 1024
"""Longest request or response head accepted."""
HEAD_TIMEOUT_S = 30.0
"""A client that has not sent its request head this long after connecting is dropped."""
CONNECT_TIMEOUT_S = 10.0
"""Cap on resolving and connecting to one upstream."""
MAX_CONNECTIONS = 512
"""Client connections served at once; more wait (Chromium opens at most 32 to a proxy)."""
RESPONSE_TIMEOUT_S = 600.0
"""Cap on waiting for an upstream's response head (the longest step timeout): a site
that never answers must not hold a connection of the node's proxy for ever."""
RESOLVE_EVERY_S = 30.0
"""How often named fleet endpoints (``redis``, ``selenium-hub`` ...) are resolved again."""
BLOCKED_HEADER = "X-Testfleet-Blocked"
_CHUNK = 65536
_HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization"})


@dataclass(frozen=True)
class EgressConfig:
    """What one egress proxy needs: where it listens and the policy it applies."""

    host: str
    port: int
    allowed: tuple[str, ...]
    endpoints: tuple[tuple[str, str, int | None], ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> EgressConfig:
        policy = TargetPolicy.from_settings(settings)
        return cls(
            host=settings.security.egress_host,
            port=settings.security.egress_port,
            allowed=tuple(a.raw for a in policy.allowed),
            endpoints=tuple((e.name, e.host, e.port) for e in policy.endpoints),
        )

    def policy(self) -> TargetPolicy:
        return TargetPolicy(
            tuple(parse_allowance(raw) for raw in self.allowed),
            tuple(Endpoint(*e) for e in self.endpoints),
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def config_path(settings: Settings) -> Path:
    return settings.paths.state_dir / "grid" / "egress.json"


def write_config(settings: Settings) -> Path:
    """Write the proxy's config (atomically) and return its path."""
    path = config_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(EgressConfig.from_settings(settings)), indent=2))
    tmp.replace(path)
    return path


def egress_command(settings: Settings) -> list[str]:
    """Write the config and return the command line that runs the proxy."""
    return [sys.executable, "-m", "grid.egress", str(write_config(settings))]


def chrome_proxy_args(proxy_url: str) -> list[str]:
    """Chromium switches that send everything a browser fetches through ``proxy_url``."""
    return [
        f"--proxy-server={proxy_url}",
        # Chromium never proxies loopback unless told to; "<-loopback>" removes that
        # implicit bypass, so the node's own ports are the proxy's to refuse.
        "--proxy-bypass-list=<-loopback>",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    ]


# -- the proxy ---------------------------------------------------------------------------


class EgressProxy:
    """An HTTP proxy that applies a ``TargetPolicy`` to every connection it opens."""

    def __init__(self, policy: TargetPolicy) -> None:
        self._base = policy
        self._policy = policy
        self._resolved_at = -RESOLVE_EVERY_S
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._handlers: set[asyncio.Task[None]] = set()
        self.refused = 0
        """Requests refused so far (for tests and logs)."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection: one CONNECT tunnel or one HTTP request."""
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        async with self._slots:
            try:
                await self._serve(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                pass  # the browser or the upstream went away: nothing to tell anyone
            except asyncio.CancelledError:
                pass  # the proxy is stopping (close): the connection just ends
            except Exception:
                log.exception("egress proxy: request failed")
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.wait_closed()

    async def close(self) -> None:
        """End every connection still open (tunnels outlive the listening socket), so
        nothing is left for a closed event loop to clean up."""
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        except asyncio.LimitOverrunError:
            await _respond(writer, 431, "request head too large")
            return
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, _, rest = request_line.partition(" ")
        target, _, version = rest.partition(" ")
        if method == "CONNECT":
            await self._tunnel(target, reader, writer)
        elif target.lower().startswith("http://"):
            await self._forward(method, target, version, lines, reader, writer)
        else:
            await _respond(writer, 400, "this is a proxy: send absolute http:// URLs or CONNECT")

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, port = _host_port(target, 443)
        upstream = await self._open(host, port, writer, f"CONNECT {target}", page=False)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()
        await _splice(reader, writer, up_reader, up_writer)

    async def _forward(
        self,
        method: str,
        target: str,
        version: str,
        lines: list[str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        parts = urlsplit(target)
        host, port = parts.hostname or "", parts.port or 80
        upstream = await self._open(host, port, writer, f"{method} {target}", page=True)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        headers = [h for h in lines if h and h.split(":", 1)[0].strip().lower() not in _HOP_HEADERS]
        upgrade = any(h.lower().startswith("upgrade:") for h in headers)
        headers.append("Connection: upgrade" if upgrade else "Connection: close")
        path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        up_writer.write(
            "\r\n".join([f"{method} {path} {version}", *headers, "", ""]).encode("latin-1")
        )
        await up_writer.drain()
        if upgrade:
            await _splice(reader, writer, up_reader, up_writer)
            return
        sending = asyncio.create_task(_send_body(headers, reader, up_writer))
        try:
            head = await asyncio.wait_for(up_reader.readuntil(b"\r\n\r\n"), RESPONSE_TIMEOUT_S)
            writer.write(_close_after(head))
            await writer.drain()
            await _copy(up_reader, writer, eof=False)
        finally:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sending
            up_writer.close()

    async def _open(
        self, host: str, port: int, writer: asyncio.StreamWriter, what: str, *, page: bool
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to an allowed address of ``host:port``, or None once the client
        has been told why not."""
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as exc:
            await _unreachable(
                writer, "net::ERR_NAME_NOT_RESOLVED", f"could not resolve {host}: {exc}"
            )
            return None
        policy = await self._current_policy()
        first_refusal: Refusal | None = None
        last_error = "no address"
        net_error = "net::ERR_ADDRESS_UNREACHABLE"
        for address in _addresses(infos):
            refusal = policy.check_address(host, port, address)
            if refusal is not None:
                first_refusal = first_refusal or refusal
                continue
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(str(address), port), CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError) as exc:
                last_error = str(exc) or type(exc).__name__
                net_error = _net_error(exc)
        if first_refusal is not None:
            self.refused += 1
            log.info("egress proxy refused %s: %s", what, first_refusal.reason)
            await _refuse(writer, first_refusal, page=page)
            return None
        await _unreachable(writer, net_error, f"could not connect to {host}:{port}: {last_error}")
        return None

    async def _current_policy(self) -> TargetPolicy:
        """The policy with named fleet endpoints resolved (again every ``RESOLVE_EVERY_S``)."""
        now = time.monotonic()
        if now - self._resolved_at < RESOLVE_EVERY_S:
            return self._policy
        self._resolved_at = now
        loop = asyncio.get_running_loop()
        found: dict[str, list[str]] = {}
        for name in sorted(self._base.endpoint_hosts()):
            with contextlib.suppress(OSError, TimeoutError):
                infos = await asyncio.wait_for(
                    loop.getaddrinfo(name, None, type=socket.SOCK_STREAM), CONNECT_TIMEOUT_S
                )
                found[name] = [str(a) for a in _addresses(infos)]
        self._policy = self._base.with_addresses(found)
        return self._policy


def _addresses(infos: Sequence[tuple[object, ...]]) -> list[Address]:
    found: list[Address] = []
    for info in infos:
        sockaddr = info[4]
        assert isinstance(sockaddr, tuple)
        text = str(sockaddr[0]).split("%", 1)[0]  # an IPv6 scope id
        with contextlib.suppress(ValueError):
            address = ipaddress.ip_address(text)
            if address not in found:
                found.append(address)
    return found


def _host_port(target: str, default_port: int) -> tuple[str, int]:
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = target.rpartition(":") if ":" in target else (target, "", "")
    try:
        return host, int(port_text) if port_text else default_port
    except ValueError:
        return host, default_port


def _close_after(head: bytes) -> bytes:
    """A response head, told to close the connection after the body (one request each)."""
    lines = head.decode("latin-1").split("\r\n")
    status, headers = lines[0], [h for h in lines[1:] if h]
    if " 101 " in f"{status} ":
        return head  # an upgrade: the connection becomes the protocol's
    kept = [h for h in headers if h.split(":", 1)[0].strip().lower() not in _HOP_HEADERS]
    return "\r\n".join([status, *kept, "Connection: close", "", ""]).encode("latin-1")


async def _send_body(
    headers: list[str], reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter
) -> None:
    """The request's body, and nothing after it: bytes past it would be another request,
    maybe for another host, which must not reach this one."""
    fields = {h.split(":", 1)[0].strip().lower(): h.split(":", 1)[-1].strip() for h in headers}
    if "transfer-encoding" in fields:
        await _copy(reader, up_writer, eof=False)  # chunked: ends when the client is done
        return
    remaining = int(fields.get("content-length", "0") or 0)
    while remaining > 0:
        data = await reader.read(min(_CHUNK, remaining))
        if not data:
            return
        up_writer.write(data)
        await up_writer.drain()
        remaining -= len(data)


async def _copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, eof: bool = True) -> None:
    while data := await src.read(_CHUNK):
        dst.write(data)
        await dst.drain()
    if eof and dst.can_write_eof():
        with contextlib.suppress(OSError):
            dst.write_eof()


async def _splice(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until both sides have finished sending (a tunnel)."""
    try:
        await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))
    finally:
        up_writer.close()


_REASONS = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large",
            502: "Bad Gateway"}  # fmt: skip


async def _send(
    writer: asyncio.StreamWriter, status: int, body: bytes, content_type: str, *headers: str
) -> None:
    """Write one whole response (the connection closes after it) and flush it."""
    head = [f"HTTP/1.1 {status} {_REASONS[status]}", f"Content-Type: {content_type}",
            *headers, f"Content-Length: {len(body)}", "Connection: close", "", ""]  # fmt: skip
    writer.write("\r\n".join(head).encode("utf-8", "replace") + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()


def _marker_page(meta: str, content: str, title: str, text: str) -> bytes:
    """A small page whose ``<meta name=meta>`` carries ``content`` for the executor."""
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<meta name="{meta}" content="{content}"><title>{title}</title>'
        f"</head><body><h1>{title}</h1><p>{text}</p></body></html>"
    ).encode()


async def _respond(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    await _send(writer, status, f"{message}\n".encode(), "text/plain; charset=utf-8")


def _net_error(exc: BaseException) -> str:
    """The name Chromium gives the same failure when it connects by itself."""
    if isinstance(exc, ConnectionRefusedError):
        return "net::ERR_CONNECTION_REFUSED"
    if isinstance(exc, TimeoutError):
        return "net::ERR_CONNECTION_TIMED_OUT"
    if isinstance(exc, ConnectionResetError):
        return "net::ERR_CONNECTION_RESET"
    return "net::ERR_ADDRESS_UNREACHABLE"


async def _unreachable(writer: asyncio.StreamWriter, net_error: str, message: str) -> None:
    """A 502 whose page names the network error, so a navigation through the proxy fails
    the way it would without one (a tunnel's client reads only the status)."""
    text = html.escape(message.replace("\r", " ").replace("\n", " "))
    body = _marker_page(UNREACHABLE_META, net_error, net_error, text)
    await _send(writer, 502, body, "text/html; charset=utf-8", "Cache-Control: no-store")


async def _refuse(writer: asyncio.StreamWriter, refusal: Refusal, *, page: bool) -> None:
    """Tell the browser why: a page for HTTP, headers only for a tunnel (Chromium
    shows its own error page for a refused CONNECT)."""
    reason = refusal.message.replace("\r", " ").replace("\n", " ")
    text = html.escape(reason)
    body = _marker_page(BLOCKED_META, text, BLOCKED_TITLE, text) if page else b""
    await _send(
        writer, 403, body, "text/html; charset=utf-8",
        f"{BLOCKED_HEADER}: {reason}",
        "Access-Control-Allow-Origin: *",
        f"Access-Control-Expose-Headers: {BLOCKED_HEADER}",
        "Cache-Control: no-store",
    )  # fmt: skip


# -- running it --------------------------------------------------------------------------


async def serve(config: EgressConfig, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set."""
    proxy = EgressProxy(config.policy())
    server = await asyncio.start_server(
        proxy.handle, config.host, config.port, limit=HEAD_LIMIT_BYTES, reuse_address=True
    )
    log.info("egress proxy listening on %s", config.url)
    async with server:
        await stop.wait()
        server.close()
        await proxy.close()


def run(config: EgressConfig, log_settings: LogSettings | None = None) -> int:
    """Run the proxy in the foreground until SIGTERM or SIGINT; returns 0."""
    logs.configure(log_settings or LogSettings(), "egress")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(config, stop)

    asyncio.run(main())
    return 0


def load_config(path: Path) -> EgressConfig:
    data = json.loads(path.read_text(encoding="utf-8"))
    return EgressConfig(
        host=data["host"],
        port=int(data["port"]),
        allowed=tuple(data["allowed"]),
        endpoints=tuple((n, h, p) for n, h, p in data["endpoints"]),
    )


if __name__ == "__main__":
    sys.exit(run(load_config(Path(sys.argv[1]))))
