"""Which browser session a connection to the egress proxy comes from.

The proxy caps connections per source (``grid.egress_slots``), so a source must be
one browser session, not one address: every Chromium of a node connects from the
node's loopback, and the node gives all of them the same ``--proxy-server`` (its
stereotype), so neither the address nor the proxy port tells two sessions apart,
and Chromium sends no proxy credentials it was not asked for.

What does tell them apart is the process: each session is its own Chromium,
whose network service process owns every socket the session opens. When the
client's end of a connection is a socket of this host (a node's proxy beside its
node), ``source_of`` finds the process that holds it (the kernel's ``sock_diag`` gives the
socket's inode, ``/proc/<pid>/fd`` the process holding it) and names the session
by the top Chromium process of that tree (``session <pid>``). A connection from
another host (compose's ``egress`` service, one per fleet) is named by its client
address (``address <ip>``): there a source is one node (official node images run
one session each), which is the most the proxy can see across a network.

Reading another user's ``/proc/<pid>/fd`` needs root or the same user; a proxy
started by a node runs as the node does, and a root node's Chromium runs as
``security.browser_user``, which root can read. Whatever cannot be read falls back
to the address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import struct
import threading
from pathlib import Path

from testfleet import logs

log = logs.get_logger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Endpoint = tuple[Address, int]

_PROC = Path("/proc")
_WALK_LIMIT = 16
"""Parents looked at while climbing from the socket's process to its session's top."""
_PROCESSES_KEPT = 64
"""Processes whose sockets are remembered (a node runs a few sessions at once)."""


def _socket_inodes(fd_dir: Path) -> set[int]:
    """The inodes of the sockets among a process's descriptors (none if unreadable)."""
    inodes: set[int] = set()
    try:
        entries = os.scandir(fd_dir)
    except OSError:
        return inodes  # gone, or another user's and we are not root
    with entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                link = os.readlink(entry.path)
                if link.startswith("socket:["):
                    inodes.add(int(link[8:-1]))
    return inodes


class SourceFinder:
    """Names the source of a connection.

    It remembers the sockets of the processes that held clients' sockets before
    (a session opens hundreds, in bursts): one read of such a process's
    descriptors answers for every socket it opened meanwhile, and only a socket of
    a process not seen yet costs a walk through every process."""

    def __init__(self, proc: Path = _PROC) -> None:
        self._proc = proc
        self._owners: dict[int, int] = {}
        """Socket inode -> the process that held it when last read."""
        self._sockets: dict[int, set[int]] = {}
        """Process -> its socket inodes when last read (oldest process first)."""
        self._roots: dict[int, int] = {}
        """Process -> the top process of its session."""
        self._lock = threading.Lock()  # lookups run in threads and share the above

    def source_of(self, peer: tuple[str, int], local: tuple[str, int]) -> str:
        """The source of the connection from ``peer`` (the client's address and port)
        to ``local`` (this proxy's): ``session <pid>`` or ``address <ip>``.

        Blocking (it reads ``/proc``): call it in a thread."""
        address = _plain(peer[0])
        try:
            inode = socket_inode(
                (ipaddress.ip_address(address), peer[1]),
                (ipaddress.ip_address(_plain(local[0])), local[1]),
            )
            with self._lock:
                pid = self._owner(inode) if inode else None
                root = self._root(pid) if pid is not None else None
        except OSError as exc:
            log.debug("egress proxy: could not look up the client %s: %s", peer, exc)
            root = None
        return f"address {address}" if root is None else f"session {root}"

    def _owner(self, inode: int) -> int | None:
        """The process holding ``socket:[inode]``: known ones first, then all."""
        known = self._owners.get(inode)
        if known is not None:
            return known
        for pid in reversed(list(self._sockets)):
            if inode in self._read(pid):
                return pid
        own = os.getpid()  # the proxy's own sockets are the server ends, never a client's
        for entry in self._proc.iterdir():
            if not entry.name.isdigit() or int(entry.name) in self._sockets:
                continue
            pid = int(entry.name)
            if pid != own and inode in _socket_inodes(entry / "fd"):
                self._read(pid)
                return pid
        return None

    def _read(self, pid: int) -> set[int]:
        """Read ``pid``'s sockets again and remember them (and it, as the newest)."""
        for inode in self._sockets.pop(pid, set()):
            if self._owners.get(inode) == pid:
                del self._owners[inode]
        inodes = _socket_inodes(self._proc / str(pid) / "fd")
        if inodes:
            self._sockets[pid] = inodes
            self._owners.update(dict.fromkeys(inodes, pid))
        while len(self._sockets) > _PROCESSES_KEPT:
            oldest = next(iter(self._sockets))
            for inode in self._sockets.pop(oldest):
                if self._owners.get(inode) == oldest:
                    del self._owners[inode]
            self._roots.pop(oldest, None)
        return inodes

    def _root(self, pid: int) -> int:
        if pid not in self._roots:
            self._roots[pid] = self._session_root(pid)
        return self._roots[pid]

    def _session_root(self, pid: int) -> int:
        """The top process of ``pid``'s Chromium: climb while the parent runs the same
        program (a session's network service is a child of its browser process,
        whose parent is chromedriver or the node's sandbox wrapper)."""
        current = pid
        name = self._comm(current)
        for _ in range(_WALK_LIMIT):
            parent = self._parent(current)
            if parent is None or parent <= 1 or self._comm(parent) != name:
                break
            current = parent
        return current

    def _comm(self, pid: int) -> str:
        try:
            return (self._proc / str(pid) / "comm").read_text().strip()
        except OSError:
            return ""

    def _parent(self, pid: int) -> int | None:
        try:
            stat = (self._proc / str(pid) / "stat").read_text()
        except OSError:
            return None
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[-1].split()
        return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def _plain(host: str) -> str:
    """An address as ``ipaddress`` reads it: no IPv6 scope, IPv4-mapped as IPv4."""
    address = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def socket_inode(local: Endpoint, remote: Endpoint) -> int | None:
    """The inode of this host's TCP socket from ``local`` to ``remote``, or None.

    Asked of the kernel by netlink (``sock_diag``, one exact lookup): reading
    ``/proc/net/tcp`` instead costs milliseconds per connection once a page holds
    hundreds, and lookups would queue behind one another."""
    for family in (socket.AF_INET, socket.AF_INET6):
        if family == socket.AF_INET and (local[0].version, remote[0].version) != (4, 4):
            continue
        inode = _diag_lookup(family, local, remote)
        if inode:
            return inode
    return None


_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NO_COOKIE = 0xFFFFFFFF
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_REQUEST = struct.Struct("=BBBBI")  # inet_diag_req_v2: family, protocol, ext, pad, states
_SOCK_ID = struct.Struct(">HH16s16sII")  # ports and addresses big-endian; if; cookie[0]
_COOKIE_TAIL = struct.Struct("=I")  # cookie[1]
_INODE_AT = 4 + 48 + 16  # in inet_diag_msg: 4 bytes, the socket id, 4 more u32, then inode


def _diag_lookup(family: int, local: Endpoint, remote: Endpoint) -> int | None:
    def packed(address: Address) -> bytes:
        if family == socket.AF_INET6 and address.version == 4:
            return b"\0" * 10 + b"\xff\xff" + address.packed
        return address.packed.ljust(16, b"\0")

    sock_id = _SOCK_ID.pack(
        local[1], remote[1], packed(local[0]), packed(remote[0]), 0, _NO_COOKIE
    ) + _COOKIE_TAIL.pack(_NO_COOKIE)
    body = _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sock_id
    message = _HEADER.pack(_HEADER.size + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
        diag.settimeout(1.0)
        diag.sendto(message + body, (0, 0))
        reply = diag.recv(8192)
    if len(reply) < _HEADER.size:
        return None
    _, kind, _, _, _ = _HEADER.unpack_from(reply)
    if kind == _NLMSG_ERROR or len(reply) < _HEADER.size + _INODE_AT + 4:
        return None  # ENOENT: no such socket here (a client on another host)
    (inode,) = struct.unpack_from("=I", reply, _HEADER.size + _INODE_AT)
    return int(inode) or None
