"""The egress proxy beside a Grid node: every request its browsers make goes through it.

The node starts Chromium with ``--proxy-server=http://<this proxy>`` and
``--proxy-bypass-list=<-loopback>`` (without the second, Chromium would connect to
loopback directly), and ``--force-webrtc-ip-handling-policy=disable_non_proxied_udp``
(WebRTC would otherwise open UDP past it). So every HTTP request, every HTTPS and
WebSocket tunnel (``CONNECT``), from a navigation, a redirect, a link, ``fetch()`` or
a script, arrives here first, and the proxy decides with ``testfleet.targets.policy``:

- it resolves the host itself and connects only to an address it checked, so a
  name that resolves to the loopback (or changes its answer) gains nothing;
- a refused plain-HTTP request gets a 403 page titled "Blocked by testfleet" that
  names nothing of the fleet (``grid.egress_replies``; the reason goes to the log);
  a refused ``CONNECT`` gets a 403, which Chromium shows as ERR_TUNNEL_CONNECTION_FAILED;
- besides the endpoints the settings name, it refuses every host of the Grid's
  nodes, read from the hub's ``/status`` (``grid.egress_nodes``).

Its connections are bounded so that one page cannot starve the others: a client
has ``HEAD_TIMEOUT_S`` to send its request head and holds no slot until it has;
each browser session (``grid.egress_sources``) holds at most
``MAX_CONNECTIONS_PER_SOURCE`` of the ``MAX_CONNECTIONS`` slots (``grid.egress_slots``);
a tunnel or a response ends when idle ``IDLE_TIMEOUT_S`` or ``LIFETIME_S`` after
it began (``grid.egress_streams``).

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
import ipaddress
import logging
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from grid import egress_replies as replies
from grid.egress_config import (
    EgressConfig,
    chrome_proxy_args,
    config_path,
    egress_command,
    load_config,
    write_config,
)
from grid.egress_nodes import NODE_HOST, HubUnreadable, on_this_host, read_node_hosts
from grid.egress_slots import NoSlot, SourceSlots
from grid.egress_sources import SourceFinder
from grid.egress_streams import Activity, bounded, copy, send_body, splice
from testfleet import logs
from testfleet.fleet.gridstatus import Auth
from testfleet.settings import LogSettings
from testfleet.targets.addresses import Address
from testfleet.targets.policy import Endpoint, Refusal, TargetPolicy

__all__ = [
    # The config's names, where the node's launcher and Chrome options import them from.
    "EgressConfig",
    "EgressLimits",
    "EgressProxy",
    "chrome_proxy_args",
    "config_path",
    "egress_command",
    "load_config",
    "run",
    "serve",
    "write_config",
]

log = logs.get_logger(__name__)

HEAD_LIMIT_BYTES = 64 * 1024
"""Longest request or response head accepted."""
HEAD_TIMEOUT_S = 10.0
"""A client that has not sent its request head this long after connecting is dropped
(Chromium sends it at once; only a slow-loris takes longer). No slot is held meanwhile."""
CONNECT_TIMEOUT_S = 10.0
"""Cap on resolving and connecting to one upstream."""
MAX_CONNECTIONS = 512
"""Connections served at once, all sources together (each holds two descriptors)."""
MAX_CONNECTIONS_PER_SOURCE = 64
"""Connections one browser session is served at once: twice the 32 Chromium opens to a
proxy for HTTP, leaving room for its WebSockets; more wait for one of its own slots."""
MAX_WAITING_PER_SOURCE = 256
"""Connections of one session waiting for a slot; more are answered 503 at once."""
SLOT_WAIT_S = 60.0
"""How long a connection waits for a slot before it is answered 503."""
RESPONSE_TIMEOUT_S = 600.0
"""Cap on waiting for an upstream's response head (the longest step timeout): a site
that never answers must not hold a connection of the node's proxy for ever."""
IDLE_TIMEOUT_S = 120.0
"""A tunnel or a response body with no byte either way this long is closed (WebSockets
that ping more often than this live on)."""
LIFETIME_S = 1800.0
"""A tunnel or a response body is closed this long after it began, busy or not."""
RESOLVE_EVERY_S = 30.0
"""How often named fleet endpoints (``redis``, ``selenium-hub`` ...) are resolved again
and the Grid's node hosts read again."""
_HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization"})


@dataclass(frozen=True)
class EgressLimits:
    """The proxy's bounds (the module's constants; tests pass smaller ones)."""

    head_timeout_s: float = HEAD_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS
    max_per_source: int = MAX_CONNECTIONS_PER_SOURCE
    max_waiting_per_source: int = MAX_WAITING_PER_SOURCE
    slot_wait_s: float = SLOT_WAIT_S
    response_timeout_s: float = RESPONSE_TIMEOUT_S
    idle_timeout_s: float = IDLE_TIMEOUT_S
    lifetime_s: float = LIFETIME_S
    resolve_every_s: float = RESOLVE_EVERY_S


# -- the proxy ---------------------------------------------------------------------------

SourceOf = Callable[[tuple[str, int], tuple[str, int]], str]
"""(client address and port, proxy address and port) -> the connection's source."""


class EgressProxy:
    """An HTTP proxy that applies a ``TargetPolicy`` to every connection it opens.

    ``grid_url`` / ``grid_auth``: the hub whose ``/status`` lists the node hosts to
    refuse. ``source_of``: names a connection's source (default: its browser session,
    ``grid.egress_sources``)."""

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        limits: EgressLimits | None = None,
        grid_url: str = "",
        grid_auth: Auth = None,
        source_of: SourceOf | None = None,
    ) -> None:
        self._base = policy
        self._policy = policy
        self._limits = limits or EgressLimits()
        self._grid_url = grid_url
        self._grid_auth = grid_auth
        self._node_hosts: tuple[str, ...] = ()
        self._hub_failing = False
        self._source_of = source_of or SourceFinder().source_of
        self._resolved_at = -float("inf")
        self.slots = SourceSlots(
            self._limits.max_connections,
            self._limits.max_per_source,
            self._limits.max_waiting_per_source,
        )
        self._handlers: set[asyncio.Task[None]] = set()
        self.refused = 0
        """Requests refused so far (for tests and logs)."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection: one CONNECT tunnel or one HTTP request."""
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            await self._admit(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the browser or the upstream went away, or idled: nothing to tell anyone
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

    async def _admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read the head (holding no slot), then serve it in one of its source's slots."""
        try:
            head = await asyncio.wait_for(
                reader.readuntil(b"\r\n\r\n"), self._limits.head_timeout_s
            )
        except asyncio.LimitOverrunError:
            await replies.respond(writer, 431, "request head too large")
            return
        peer, local = writer.get_extra_info("peername"), writer.get_extra_info("sockname")
        if not peer or not local:
            return  # the client is gone already
        source = await asyncio.to_thread(self._source_of, peer[:2], local[:2])
        try:
            async with self.slots.hold(source, self._limits.slot_wait_s):
                await self._serve(head, reader, writer)
        except NoSlot as exc:
            log.warning("egress proxy: no slot: %s", exc)
            await replies.respond(writer, 503, "too many connections from this browser at once")

    async def _serve(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, _, rest = request_line.partition(" ")
        target, _, version = rest.partition(" ")
        if method == "CONNECT":
            await self._tunnel(target, reader, writer)
        elif target.lower().startswith("http://"):
            await self._forward(method, target, version, lines, reader, writer)
        else:
            await replies.respond(
                writer, 400, "this is a proxy: send absolute http:// URLs or CONNECT"
            )

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, port = _host_port(target, 443)
        what = f"CONNECT {target}"
        upstream = await self._open(host, port, writer, what, page=False)
        if upstream is None:
            return
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()
        await splice(what, (reader, writer), upstream, **self._bounds())

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
        what = f"{method} {target}"
        upstream = await self._open(host, port, writer, what, page=True)
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
            await splice(what, (reader, writer), upstream, **self._bounds())
            return
        sending = asyncio.create_task(send_body(headers, reader, up_writer))
        try:
            head = await asyncio.wait_for(
                up_reader.readuntil(b"\r\n\r\n"), self._limits.response_timeout_s
            )
            writer.write(_close_after(head))
            await writer.drain()
            activity = Activity()
            body = [copy(up_reader, writer, activity, eof=False)]
            await bounded(what, body, activity, **self._bounds())
        finally:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sending
            up_writer.close()

    def _bounds(self) -> dict[str, float]:
        return {"idle_s": self._limits.idle_timeout_s, "lifetime_s": self._limits.lifetime_s}

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
        except (OSError, TimeoutError):
            await replies.unreachable(
                writer, "net::ERR_NAME_NOT_RESOLVED", f"could not resolve {host}"
            )
            return None
        policy = await self.current_policy()
        first_refusal: Refusal | None = None
        error = "net::ERR_ADDRESS_UNREACHABLE"
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
                error = replies.net_error(exc)
        if first_refusal is not None:
            self.refused += 1
            # The detail stays here: the page learns only that the policy refused it.
            log.info("egress proxy refused %s: %s", what, first_refusal.message)
            await replies.refuse(writer, page=page)
            return None
        # The error's name only: an OS message would carry the address the name resolved to.
        await replies.unreachable(writer, error, f"could not connect to {host}:{port}: {error}")
        return None

    async def current_policy(self) -> TargetPolicy:
        """The policy with the Grid's node hosts added and named fleet endpoints resolved
        (again every ``RESOLVE_EVERY_S``)."""
        now = time.monotonic()
        if now - self._resolved_at < self._limits.resolve_every_s:
            return self._policy
        self._resolved_at = now
        if self._grid_url:
            await self._read_node_hosts()
        loop = asyncio.get_running_loop()
        found: dict[str, list[str]] = {}
        names = TargetPolicy(endpoints=(*self._base.endpoints, *self._node_endpoints()))
        for name in sorted(names.endpoint_hosts()):
            with contextlib.suppress(OSError, TimeoutError):
                infos = await asyncio.wait_for(
                    loop.getaddrinfo(name, None, type=socket.SOCK_STREAM), CONNECT_TIMEOUT_S
                )
                found[name] = [str(a) for a in _addresses(infos)]
        # A node on this very host is refused already (the loopback and the host's own
        # addresses), except where an operator allowed it: it must not close those.
        nodes = [e for e in self._node_endpoints() if not on_this_host(e.host, found)]
        endpoints = tuple(dict.fromkeys([*self._base.endpoints, *nodes]))
        self._policy = replace(self._base, endpoints=endpoints).with_addresses(found)
        return self._policy

    def _node_endpoints(self) -> list[Endpoint]:
        return [Endpoint(NODE_HOST, host, None) for host in self._node_hosts]

    async def _read_node_hosts(self) -> None:
        """Learn the Grid's node hosts; when the hub cannot be read, keep the last list
        (and say so once, not every ``RESOLVE_EVERY_S``)."""
        try:
            self._node_hosts = tuple(await read_node_hosts(self._grid_url, self._grid_auth))
        except HubUnreadable as exc:
            level = logging.DEBUG if self._hub_failing else logging.WARNING
            log.log(level, "egress proxy: node hosts stay as last read: %s", exc)
            self._hub_failing = True
        else:
            if self._hub_failing:
                log.info("egress proxy: the Grid's node hosts are read again")
            self._hub_failing = False


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


# -- running it --------------------------------------------------------------------------


async def serve(
    config: EgressConfig, stop: asyncio.Event, sock: socket.socket | None = None
) -> None:
    """Serve until ``stop`` is set; on ``sock`` (bound to ``config``'s port, not listening)
    when given: whoever chose the port held it until now, so nothing else could take it."""
    proxy = EgressProxy(config.policy(), grid_url=config.grid_url, grid_auth=config.grid_auth)
    if sock is not None:
        server = await asyncio.start_server(proxy.handle, sock=sock, limit=HEAD_LIMIT_BYTES)
    else:
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
    _raise_descriptor_limit()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(config, stop)

    asyncio.run(main())
    return 0


def _raise_descriptor_limit() -> None:
    """Let the proxy open what its slots allow: each served connection takes two
    descriptors and each waiting one takes one, past the usual soft limit of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * MAX_CONNECTIONS + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        new_soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))


if __name__ == "__main__":
    sys.exit(run(load_config(Path(sys.argv[1]))))
