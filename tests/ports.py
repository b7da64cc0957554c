"""Ports for servers a test runs in its own process, held from choice to bind.

``held_port()`` binds a socket to a port the kernel hands out and keeps it bound (not
listening), so no other process can take the port: a connection to it is refused
until a server takes the socket over (``take_held``: ``tests.fixtures_redis_api.serving``
does for uvicorn). A port that must stay closed ("nothing listens here") is a held
port nobody takes. Servers in other processes that cannot bind 0 choose a port and
retry when it was taken (``tests.fixtures_redis.redis_server``); one that binds port 0
itself tells its port through the kernel (``listening_ports``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from pathlib import Path

from tests.waiting import wait_until

_HELD: dict[int, socket.socket] = {}
"""Held sockets by port; closed when the test process exits."""


def held_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` bound by this process until ``take_held`` hands it over."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Inherited by the server's connections, so a restart can hold the port again while
    # they close (TIME_WAIT). The hold still works: the kernel never hands a bound port
    # to another bind(0), which is how every other test and server here picks its port.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port: int = sock.getsockname()[1]
    _HELD[port] = sock
    return port


def hold_again(port: int, host: str = "127.0.0.1") -> None:
    """Hold ``port`` again once the server that took it stopped (a test may restart a
    server on its port). SO_REUSEADDR: its closed connections may still be in TIME_WAIT."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    _HELD[port] = sock


def take_held(port: int) -> socket.socket | None:
    """The socket holding ``port``, now the caller's to listen on; None if not held."""
    return _HELD.pop(port, None)


TCP_LISTEN = "0A"
"""``st`` of a listening socket in ``/proc/net/tcp``."""


def socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process ``pid`` holds open (``/proc/<pid>/fd``)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # an fd closed meanwhile
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def listening_on(inodes: set[str]) -> set[int]:
    """The TCP ports (IPv4 and IPv6) that sockets of ``inodes`` listen on, from the
    kernel's tables."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == TCP_LISTEN and inode in inodes:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on, read from the kernel: how a test learns
    the port a server in another process bound with port 0."""
    return listening_on(socket_inodes(pid))


def port_of(process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> int:
    """The one TCP port ``process`` (started with port 0) listens on, once it does."""

    def bound() -> set[int]:
        if process.poll() is not None:
            code = process.returncode
            raise RuntimeError(f"{process.args!r} exited with {code} before it listened")
        return listening_ports(process.pid)

    ports = wait_until(f"{process.args!r} to listen", bound, timeout_s)
    if len(ports) != 1:
        raise RuntimeError(f"{process.args!r} listens on {sorted(ports)}, not on one port")
    return ports.pop()
