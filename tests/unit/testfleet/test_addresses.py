"""One address, many spellings: the canonical form and the IPv4 addresses IPv6 ones carry."""

from __future__ import annotations

import ipaddress

import pytest

from testfleet.targets.addresses import (
    address_class,
    address_forms,
    canonical,
    canonical_network,
    embedded_ipv4,
    host_address,
    norm_host,
)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("::ffff:10.99.0.2", "10.99.0.2"),  # IPv4-mapped
        ("::ffff:a63:2", "10.99.0.2"),  # the same, as browsers serialise it
        ("::10.99.0.2", "10.99.0.2"),  # IPv4-compatible (deprecated)
        ("::1", "::1"),  # the IPv6 loopback itself, not 0.0.0.1
        ("::", "::"),
        ("fe80::1%eth0", "fe80::1"),  # a zone names an interface, not a host
        ("10.99.0.2", "10.99.0.2"),
        ("2001:db8::5", "2001:db8::5"),
    ],
)
def test_canonical(written: str, expected: str) -> None:
    assert canonical(ipaddress.ip_address(written)) == ipaddress.ip_address(expected)


@pytest.mark.parametrize(
    ("written", "carried"),
    [
        ("64:ff9b::a63:2", ["10.99.0.2"]),  # NAT64, the well-known prefix
        ("64:ff9b:1:a63:0:200::", ["10.99.0.2"]),  # NAT64 local-use, a /48 layout
        ("64:ff9b:1::a63:2", ["10.99.0.2"]),  # NAT64 local-use, a /96 layout
        ("::ffff:0:a63:2", ["10.99.0.2"]),  # SIIT
        ("2002:a63:2::1", ["10.99.0.2"]),  # 6to4
        ("2001:0:4136:e378:8000:63bf:f59c:fffd", ["10.99.0.2"]),  # Teredo: inverted
        ("2001:db8::5", []),
        ("10.99.0.2", []),
    ],
)
def test_embedded_ipv4(written: str, carried: list[str]) -> None:
    found = embedded_ipv4(ipaddress.ip_address(written))
    for address in carried:
        assert ipaddress.IPv4Address(address) in found, (written, found)
    if not carried:
        assert found == ()


def test_forms_start_with_the_canonical_one() -> None:
    nat64 = ipaddress.ip_address("64:ff9b::7f00:1")
    assert address_forms(nat64) == (nat64, ipaddress.ip_address("127.0.0.1"))
    assert address_forms(ipaddress.ip_address("::ffff:127.0.0.1")) == (
        ipaddress.ip_address("127.0.0.1"),
    )


def test_hosts_are_compared_in_the_canonical_spelling() -> None:
    assert norm_host("[::FFFF:10.99.0.2]") == "10.99.0.2"
    assert norm_host("[::ffff:a63:2]") == "10.99.0.2"
    assert norm_host("Example.COM.") == "example.com"
    assert host_address("[::ffff:7f00:1]") == ipaddress.ip_address("127.0.0.1")
    assert host_address("0x7f.1") == ipaddress.ip_address("127.0.0.1")


def test_classes_see_through_the_mapped_form() -> None:
    assert address_class(ipaddress.ip_address("::ffff:127.0.0.1")) == "the node's loopback"
    assert address_class(ipaddress.ip_address("::127.0.0.1")) == "the node's loopback"
    assert "link-local" in str(address_class(ipaddress.ip_address("::ffff:169.254.169.254")))


def test_a_mapped_network_is_the_ipv4_network() -> None:
    mapped = ipaddress.ip_network("::ffff:10.0.0.0/104")
    assert canonical_network(mapped) == ipaddress.ip_network("10.0.0.0/8")
    plain = ipaddress.ip_network("2001:db8::/32")
    assert canonical_network(plain) == plain
