"""The egress proxy tells browser sessions apart by the process that holds the
client's socket, not by the address (every session of a node connects from its
loopback): ``grid.egress_sources`` with real processes and loopback sockets."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest

from grid.egress_sources import SourceFinder, socket_inode

pytestmark = pytest.mark.skipif(not shutil.which("bash"), reason="needs bash's /dev/tcp")


@contextlib.contextmanager
def client_process() -> Iterator[tuple[subprocess.Popen[bytes], socket.socket]]:
    """A bash (a program unlike its parent, as Chromium is unlike chromedriver) holding
    a connection to a listener of this test's; yields it and the server's end of that
    connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        process = subprocess.Popen(
            ["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}; read"], stdin=subprocess.PIPE
        )
        try:
            listener.settimeout(10)
            connection, _ = listener.accept()
            with connection:
                yield process, connection
        finally:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(10)


def test_each_client_process_is_its_own_source() -> None:
    finder = SourceFinder()
    with (
        client_process() as (first, first_end),
        client_process() as (second, second_end),
    ):
        sources = [
            finder.source_of(end.getpeername(), end.getsockname())
            for end in (first_end, second_end, first_end)
        ]
    assert sources == [f"session {first.pid}", f"session {second.pid}", f"session {first.pid}"]


def test_the_kernel_names_the_clients_socket() -> None:
    with client_process() as (process, end):
        (peer_host, peer_port), (host, port) = end.getpeername(), end.getsockname()
        inode = socket_inode(
            (ipaddress.ip_address(peer_host), peer_port), (ipaddress.ip_address(host), port)
        )
        fd_dir = f"/proc/{process.pid}/fd"
        links = [os.readlink(f"{fd_dir}/{name}") for name in os.listdir(fd_dir)]
    assert inode is not None
    assert f"socket:[{inode}]" in links


def test_a_client_that_is_not_on_this_host_is_its_address() -> None:
    # No socket of this host goes from 127.0.0.1:9 to 127.0.0.1:1: as for a remote client.
    assert SourceFinder().source_of(("127.0.0.1", 9), ("127.0.0.1", 1)) == "address 127.0.0.1"
    assert SourceFinder().source_of(("::ffff:10.1.2.3", 9), ("::", 1)) == "address 10.1.2.3"
