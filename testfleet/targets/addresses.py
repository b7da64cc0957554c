"""What a host or an address is, the way browsers read them.

Browsers read ``2130706433``, ``0x7f.1`` and ``0177.0.0.1`` as 127.0.0.1 (the
WHATWG URL standard's IPv4 forms); a policy that compared host names as text
would let them through. ``host_address`` reads hosts as browsers do, and
``address_class`` says which addresses are internal (loopback, link-local,
metadata, unspecified, multicast). ``testfleet.targets.policy`` builds the policy on them.

One address has several spellings, and a comparison of two spellings misses:
``::ffff:10.0.0.5`` is 10.0.0.5 (Linux carries a socket to it as IPv4). So every
address is compared in its ``canonical`` form, and an IPv6 address that carries
an IPv4 one to its destination (NAT64, 6to4, Teredo) is judged as each of its
``address_forms``: it is refused when any of them is.
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


_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_NAT64_LOCAL_PREFIX_BITS = (48, 56, 64, 96)
"""RFC 6052's prefix lengths that fit in the local-use /48 (RFC 8215): an operator picks
one, and the policy cannot know which, so each reading is judged."""
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_LOW_32_BITS = 0xFFFFFFFF


def canonical(address: Address) -> Address:
    """The one form addresses are compared in.

    An IPv4-mapped (``::ffff:a.b.c.d``) or IPv4-compatible (``::a.b.c.d``, deprecated)
    IPv6 address is the IPv4 address: a socket to it reaches that IPv4 host. ``::`` and
    ``::1`` stay IPv6 (they are the unspecified and loopback addresses themselves). An
    IPv6 zone (``%eth0``) is dropped: it names an interface, not another host.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    value = int(address)
    if 1 < value <= _LOW_32_BITS:
        return ipaddress.IPv4Address(value)
    return ipaddress.IPv6Address(value) if address.scope_id else address


def canonical_network(network: Network) -> Network:
    """``network`` in the form its ``canonical`` addresses are: an IPv4-mapped IPv6
    network (``::ffff:10.0.0.0/104``) is the IPv4 network (``10.0.0.0/8``)."""
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        first = int(network.network_address) & _LOW_32_BITS
        return ipaddress.IPv4Network((first, network.prefixlen - 96))
    return network


def embedded_ipv4(address: Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries traffic to through a translator or
    a tunnel: NAT64 (``64:ff9b::/96``; ``64:ff9b:1::/48`` in each RFC 6052 layout),
    SIIT (``::ffff:0:a.b.c.d``), 6to4 (``2002::/16``) and Teredo (``2001::/32``, its
    client address: the last 32 bits, inverted). Empty for any other address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return ()
    value = int(address)
    if address in _NAT64_WELL_KNOWN or address in _SIIT:
        return (ipaddress.IPv4Address(value & _LOW_32_BITS),)
    if address in _NAT64_LOCAL:
        return tuple(dict.fromkeys(_rfc6052_ipv4(value, bits) for bits in _NAT64_LOCAL_PREFIX_BITS))
    if address in _SIX_TO_FOUR and address.sixtofour is not None:
        return (address.sixtofour,)
    if address in _TEREDO and address.teredo is not None:
        return (address.teredo[1],)
    return ()


def _rfc6052_ipv4(value: int, prefix_bits: int) -> ipaddress.IPv4Address:
    """The IPv4 address in an IPv6 one under an RFC 6052 prefix of ``prefix_bits``: its
    32 bits follow the prefix, skipping bits 64-71 (the "u" octet)."""
    if prefix_bits == 96:
        return ipaddress.IPv4Address(value & _LOW_32_BITS)
    bits = f"{value:0128b}"
    rest = (bits[prefix_bits:64] + bits[72:])[:32]
    return ipaddress.IPv4Address(int(rest, 2))


def address_forms(address: Address) -> tuple[Address, ...]:
    """Every form ``address`` is judged as: its ``canonical`` form, then each IPv4 address
    it carries traffic to (``embedded_ipv4``). A target is refused when any form is."""
    first = canonical(address)
    return (first, *(v4 for v4 in embedded_ipv4(first) if v4 != first))


def address_class(address: Address) -> str | None:
    """What kind of internal address ``address`` is, or None for an ordinary one (its
    ``canonical`` form is judged; see ``address_forms`` for the rest)."""
    address = canonical(address)
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
    address = canonical(address)
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
    """``host`` as compared: lower case, without brackets or a trailing dot; an address
    in its ``canonical`` spelling (``::FFFF:10.0.0.5`` is ``10.0.0.5``)."""
    text = host.strip().strip("[]").rstrip(".").lower()
    try:
        return str(canonical(ipaddress.ip_address(text)))
    except ValueError:
        return text


def host_address(host: str) -> Address | None:
    """``host`` as an address when it is one, in its ``canonical`` form, the way browsers
    read hosts: WHATWG IPv4 forms too (``2130706433``, ``0x7f.1``, ``0177.0.0.1`` are
    127.0.0.1)."""
    try:
        return canonical(ipaddress.ip_address(host.strip("[]")))
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
