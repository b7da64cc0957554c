"""The Grid's node hosts, as the egress proxy learns them from the hub's ``/status``.

Every node host is a fleet endpoint on every port: a node listens on its node port
(``/status``, then ``/session/<id>/screenshot|cookie|source`` need no registration
secret) and runs chromedriver and Chromium's debugging ports beside it, all of which
reach other tenants' live browsers. The settings name only this node's own node;
on a Grid of several hosts the others are known to the hub alone, so the proxy
reads the hub's ``/status`` (with the router's credentials, as ``testfleet.fleet.gridstatus``
does) each time it resolves its named endpoints again, and keeps the last list it
read when the hub does not answer. A node on the proxy's own host adds nothing: the
loopback and the host's addresses are refused already, and an operator's allowance
of one of them (an app under test on ``localhost``) must stay open.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from testfleet.fleet.gridstatus import Auth
from testfleet.targets.addresses import host_address, is_local_address, norm_host

NODE_HOST = "Selenium Grid node host"
"""The endpoint name a learned node host is refused as (in the proxy's log only)."""
STATUS_TIMEOUT_S = 5.0
"""Cap on one read of the hub's ``/status``."""


def node_hosts(status: Mapping[str, Any]) -> list[str]:
    """The host of every node a hub's ``/status`` document lists (its ``uri``), in order,
    once each; nodes whose ``uri`` is missing or not a URL are skipped."""
    value = status.get("value")
    nodes = value.get("nodes") if isinstance(value, Mapping) else None
    hosts: list[str] = []
    for node in nodes if isinstance(nodes, list) else []:
        uri = node.get("uri") if isinstance(node, Mapping) else None
        if not isinstance(uri, str):
            continue
        try:
            host = urlsplit(uri).hostname
        except ValueError:
            continue
        if host and norm_host(host) not in hosts:
            hosts.append(norm_host(host))
    return hosts


def on_this_host(host: str, resolved: Mapping[str, Sequence[str]]) -> bool:
    """Whether every address of ``host`` (a literal, or what it resolved to) is this
    machine's: its loopback, the unspecified address or one of its own."""
    address = host_address(host)
    texts = [str(address)] if address is not None else resolved.get(host, [])
    addresses = [ipaddress.ip_address(text) for text in texts]
    return bool(addresses) and all(
        a.is_loopback or a.is_unspecified or is_local_address(a) for a in addresses
    )


class HubUnreadable(Exception):
    """The hub's ``/status`` could not be read; the message says why and what to do."""


async def read_node_hosts(grid_url: str, auth: Auth) -> list[str]:
    """The node hosts the Grid at ``grid_url`` lists now. Raises ``HubUnreadable``."""
    url = f"{grid_url.rstrip('/')}/status"
    try:
        # trust_env=False: the hub is reached directly, never through a proxy.
        async with httpx.AsyncClient(auth=auth, timeout=STATUS_TIMEOUT_S, trust_env=False) as c:
            response = await c.get(url)
        if response.status_code == 401:
            raise HubUnreadable(
                f"GET {url} refused our credentials (401): set "
                "TESTFLEET_SECURITY__GRID_USERNAME / __GRID_PASSWORD to the Grid router's"
            )
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise HubUnreadable(f"GET {url} failed: {exc or type(exc).__name__}") from exc
    if not isinstance(document, Mapping):
        raise HubUnreadable(f"GET {url} did not return Grid status JSON")
    return node_hosts(document)
