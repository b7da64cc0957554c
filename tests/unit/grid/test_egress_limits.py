"""The egress proxy's bounds with small injected limits and real loopback sockets:
slots per source, slots taken only after the head, slow heads, idle and long tunnels
(issue 24, item 3). The shipped defaults run in tests/integration/grid/test_egress_slots.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from grid.egress import EgressLimits, EgressProxy
from grid.egress_slots import NoSlot, SourceSlots
from testfleet.targets.policy import TargetPolicy, parse_allowance

POLL_S = 0.01
"""How often ``_until`` checks its condition."""
DEADLINE_S = 20.0
"""Only a bound on a test that would otherwise hang: nothing here is timed against it."""
LONG_S = 3600.0
"""A limit the test does not reach."""


# -- the slots alone ---------------------------------------------------------------------


def test_a_source_at_its_cap_waits_while_another_source_goes_on() -> None:
    async def scenario() -> None:
        slots = SourceSlots(total=10, per_source=2, waiting_per_source=5)
        async with slots.hold("hog", LONG_S), slots.hold("hog", LONG_S):
            third = asyncio.create_task(_hold_once(slots, "hog"))
            async with slots.hold("other", 0.0):
                assert slots.held("other") == 1
            assert not third.done(), "the hog's third connection waits for its own slot"
        await asyncio.wait_for(third, DEADLINE_S)  # it gets one once the hog frees one
        assert slots.in_use == 0

    asyncio.run(scenario())


def test_a_source_gets_no_slot_after_waiting_or_with_too_many_waiting() -> None:
    async def scenario() -> None:
        slots = SourceSlots(total=10, per_source=1, waiting_per_source=1)
        async with slots.hold("hog", LONG_S):
            with pytest.raises(NoSlot, match=r"waited 0\.1 s for a slot"):
                async with slots.hold("hog", 0.1):
                    pass
            waiting = asyncio.create_task(_hold_once(slots, "hog"))
            await _until(lambda: slots._waiting.get("hog") == 1)
            with pytest.raises(NoSlot, match="already has 1 connections waiting"):
                async with slots.hold("hog", LONG_S):
                    pass
        await asyncio.wait_for(waiting, DEADLINE_S)

    asyncio.run(scenario())


def test_the_total_is_shared() -> None:
    async def scenario() -> None:
        slots = SourceSlots(total=2, per_source=2, waiting_per_source=5)
        async with slots.hold("a", 0.0), slots.hold("b", 0.0):
            with pytest.raises(NoSlot):
                async with slots.hold("c", 0.1):
                    pass

    asyncio.run(scenario())


async def _hold_once(slots: SourceSlots, source: str) -> None:
    async with slots.hold(source, LONG_S):
        pass


async def _until(check: Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    never = asyncio.Event()  # never set: waiting on it lets the loop run for one poll
    while not check():
        assert loop.time() < deadline, "condition never held"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(never.wait(), POLL_S)


# -- the proxy with small limits ---------------------------------------------------------

Client = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A server that accepts connections and never sends a byte; yields its port."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]
        for writer in held:
            writer.close()


@asynccontextmanager
async def echo_server() -> AsyncIterator[int]:
    """A server that sends back what it gets; yields its port."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                writer.write(data)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


class Harness:
    """An egress proxy on a free port and the clients a test opened to it."""

    def __init__(self, proxy: EgressProxy, port: int, sources: dict[int, str]) -> None:
        self.proxy = proxy
        self.port = port
        self._sources = sources
        self._clients: list[asyncio.StreamWriter] = []

    async def connect(self, source: str = "other") -> Client:
        """A client the proxy sees as ``source``."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._clients.append(writer)
        self._sources[writer.get_extra_info("sockname")[1]] = source
        return reader, writer

    async def tunnel(self, target_port: int, source: str = "other") -> tuple[Client, bytes]:
        """A CONNECT to ``127.0.0.1:target_port`` and the proxy's status line."""
        reader, writer = await self.connect(source)
        target = f"127.0.0.1:{target_port}"
        writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE_S)
        return (reader, writer), head.split(b"\r\n", 1)[0]

    def close(self) -> None:
        for writer in self._clients:
            writer.close()


@asynccontextmanager
async def proxy_serving(limits: EgressLimits, *allowed: str) -> AsyncIterator[Harness]:
    """An egress proxy with ``limits``, allowing ``allowed``; it sees each client as
    the source the test opened it as."""
    sources: dict[int, str] = {}
    proxy = EgressProxy(
        TargetPolicy(tuple(parse_allowance(a) for a in allowed)),
        limits=limits,
        source_of=lambda peer, local: sources.get(peer[1], "other"),
    )
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    harness = Harness(proxy, server.sockets[0].getsockname()[1], sources)
    async with server:
        try:
            yield harness
        finally:
            harness.close()
            server.close()
            await proxy.close()


async def closed_by_proxy(client: Client) -> bool:
    """Whether the proxy ends the connection (reads until it does)."""
    reader, _ = client
    while await asyncio.wait_for(reader.read(4096), DEADLINE_S):
        pass
    return True


def small(
    *,
    head_timeout_s: float = LONG_S,
    max_connections: int = 10,
    max_per_source: int = 10,
    slot_wait_s: float = LONG_S,
    idle_timeout_s: float = LONG_S,
    lifetime_s: float = LONG_S,
) -> EgressLimits:
    """Limits a test can reach (the ones it names) and ones it cannot (the rest)."""
    return EgressLimits(
        head_timeout_s=head_timeout_s,
        max_connections=max_connections,
        max_per_source=min(max_per_source, max_connections),
        max_waiting_per_source=10,
        slot_wait_s=slot_wait_s,
        idle_timeout_s=idle_timeout_s,
        lifetime_s=lifetime_s,
    )


def test_a_client_that_sends_no_head_is_dropped_and_holds_no_slot() -> None:
    async def scenario() -> None:
        limits = small(head_timeout_s=0.3, max_connections=1)
        async with echo_server() as target, proxy_serving(limits, "127.0.0.1") as proxy:
            silent = await proxy.connect()
            # While the silent client is connected, the one slot is free for another.
            (reader, writer), status = await proxy.tunnel(target)
            assert status.startswith(b"HTTP/1.1 200")
            writer.write(b"ping")
            assert await asyncio.wait_for(reader.readexactly(4), DEADLINE_S) == b"ping"
            assert await closed_by_proxy(silent), "a slow head is dropped"

    asyncio.run(scenario())


def test_a_source_at_its_cap_does_not_stop_another_source() -> None:
    async def scenario() -> None:
        limits = small(max_per_source=2, slot_wait_s=0.3)
        async with (
            silent_server() as blackhole,
            echo_server() as target,
            proxy_serving(limits, "127.0.0.1") as proxy,
        ):
            for _ in range(2):
                _, status = await proxy.tunnel(blackhole, "hog")
                assert status.startswith(b"HTTP/1.1 200")
            assert proxy.proxy.slots.held("hog") == 2
            # The hog's third connection gets no slot; another source's does.
            _, refused = await proxy.tunnel(blackhole, "hog")
            assert refused.startswith(b"HTTP/1.1 503")
            (reader, writer), status = await proxy.tunnel(target, "victim")
            assert status.startswith(b"HTTP/1.1 200")
            writer.write(b"hello")
            assert await asyncio.wait_for(reader.readexactly(5), DEADLINE_S) == b"hello"

    asyncio.run(scenario())


def test_an_idle_tunnel_is_closed_and_frees_its_slot() -> None:
    async def scenario() -> None:
        limits = small(idle_timeout_s=0.3)
        async with silent_server() as blackhole, proxy_serving(limits, "127.0.0.1") as proxy:
            client, status = await proxy.tunnel(blackhole)
            assert status.startswith(b"HTTP/1.1 200")
            assert await closed_by_proxy(client)
            await _until(lambda: proxy.proxy.slots.in_use == 0)

    asyncio.run(scenario())


def test_a_busy_tunnel_ends_at_its_lifetime() -> None:
    async def scenario() -> None:
        limits = small(idle_timeout_s=LONG_S, lifetime_s=0.5)
        async with echo_server() as target, proxy_serving(limits, "127.0.0.1") as proxy:
            (reader, writer), status = await proxy.tunnel(target)
            assert status.startswith(b"HTTP/1.1 200")
            # Keep bytes moving both ways until the proxy ends the tunnel.
            while True:
                writer.write(b"x")
                if not await asyncio.wait_for(reader.read(1), DEADLINE_S):
                    break
            await _until(lambda: proxy.proxy.slots.in_use == 0)

    asyncio.run(scenario())
