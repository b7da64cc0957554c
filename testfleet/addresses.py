"""What a host or an address is, the way browsers read them.

Browsers read ``2130706433``, ``0x7f.1`` and ``0177.0.0.1`` as 127.0.0.1 (the
WHATWG URL standard's IPv4 forms); a policy that compared host names as text
would let them through. ``host_address`` reads hosts as browsers do, and
``address_class`` says which addresses are internal (loopback, link-local,
metadata, unspecified, multicast). ``testfleet.targets`` builds the policy on them.
"""

from __future__ import annotations

import ipaddress
import socket

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
METADATA_NAMES = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "168.63.129.16",  # Azure WireServer
    )
)


def address_class(address: Address) -> str | None:
    """What kind of internal address ``address`` is, or None for an ordinary one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata service"
    if address.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if address.is_loopback:
        return "the node's loopback"
    if address.is_unspecified:
        return "the unspecified address (it reaches the node itself)"
    if address.is_multicast:
        return "a multicast address"
    return None


_local_cache: dict[Address, bool] = {}


def is_local_address(address: Address) -> bool:
    """Whether ``address`` belongs to this machine (a socket can be bound to it).

    This is how the proxy knows the node host's own addresses (its LAN address,
    a container's, a bridge's) without listing interfaces. Remembered per address.
    """
    known = _local_cache.get(address)
    if known is not None:
        return known
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
        local = True
    except OSError:
        local = False
    _local_cache[address] = local
    return local


def norm_host(host: str) -> str:
    """``host`` as compared: lower case, without brackets or a trailing dot."""
    return host.strip().strip("[]").rstrip(".").lower()


def host_address(host: str) -> Address | None:
    """``host`` as an address when it is one, the way browsers read hosts: WHATWG
    IPv4 forms too (``2130706433``, ``0x7f.1``, ``0177.0.0.1`` are 127.0.0.1)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    return _whatwg_ipv4(host)


def _whatwg_ipv4(host: str) -> ipaddress.IPv4Address | None:
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not parts or len(parts) > 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n * 256 ** (3 - i)
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int | None:
    if not part:
        return None
    base, digits = 10, part
    if part[:2].lower() == "0x":
        base, digits = 16, part[2:]
    elif len(part) > 1 and part.startswith("0"):
        base, digits = 8, part[1:]
    if not digits:
        return 0
    try:
        return int(digits, base)
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine's loopback (or the unspecified address)."""
    if host in LOOPBACK_NAMES or host.endswith(".localhost") or host in ("", "0.0.0.0", "::"):
        return True
    address = host_address(host)
    return address is not None and (address.is_loopback or address.is_unspecified)


def same_loopback(a: str, b: str) -> bool:
    """Two spellings of this machine's loopback (a service bound to 0.0.0.0 answers on it)."""
    return is_loopback_host(a) and is_loopback_host(b)
