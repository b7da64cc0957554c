"""Where a notification may go: never to the fleet's own services (its Redis, API, Grid,
...), nor to the metadata and link-local addresses (``testfleet.targets.policy``).

A key with ``notify:write`` chooses the URL and the fleet makes the request, from its
own network: without this check the key could make the notifier (or the API, for
``notify test``) talk to what only the fleet may reach. The URL is judged when a target
is added, and every address its host resolves to right before each request, since a name
can point anywhere and change. Other hosts, this machine's other loopback ports
included (a local fleet's own receiver), are open; an operator opens more with
``TESTFLEET_SECURITY__ALLOWED_TARGETS``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from testfleet.targets.policy import TargetPolicy

DEFAULT_PORTS = {"http": 80, "https": 443}


def refused_url(policy: TargetPolicy, url: str) -> str | None:
    """Why ``url`` may not be a notification's destination (from the URL alone), or None."""
    refusal = policy.check_url(url)
    return None if refusal is None else refusal.message


def refused_addresses(policy: TargetPolicy, url: str) -> str | None:
    """Why a request to ``url`` may not be made now: the URL, or an address its host
    resolves to, is refused; None when every one is open (or the name does not resolve:
    the request then fails on its own, and is retried)."""
    refused = refused_url(policy, url)
    if refused is not None:
        return refused
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        refusal = policy.check_destination(host, port, address)
        if refusal is not None:
            return f"{refusal.message} (the name resolves to {address})"
    return None
