"""Which targets a browser may reach: the fleet's target policy.

A suite may send its browser to the origins its project tests and to nothing of
the fleet. Three places apply one ``TargetPolicy``:

- the loader, for each ``navigate`` target and the suite's ``base_url``, so a
  bad suite is refused before anything is queued (``suite_errors``);
- the executor, right before every navigation (``check_url``);
- the egress proxy beside each Grid node (``grid.egress``), for every request
  the browser makes: redirects, links, ``fetch()``, WebSockets and scripts go
  round the first two. It resolves names itself and checks the addresses it
  connects to (``check_address``), so a name that points at the node's loopback
  is refused as the loopback is.

What is refused, unless ``security.allowed_targets`` names the target:

- every scheme but ``http``/``https`` (and ``about:blank``): ``file:``,
  ``chrome:``, ``view-source:``, ``data:``, ``javascript:``, ``blob:`` ...;
- the fleet's own endpoints: the Grid (hub, node, event bus), Redis, the API,
  the gateway, the egress proxy, the artifact store's S3 endpoint and
  ``security.internal_hosts``;
- link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10,
  fd00:ec2::254, metadata.google.internal, ...), unspecified and multicast ones;
- in the proxy only: the node's loopback and every address of the node's host.
  The loader and the executor cannot know what listens on a node's loopback
  (chromedriver and browser ports are random), so there only the fleet's named
  endpoints are refused; the proxy refuses the rest where it can see it.

An allowance names a host (every port), ``host:port``, an origin
(``http://localhost:3000``), ``*.example.com`` or a network (``10.0.0.0/8``).
An allowance naming a fleet endpoint's exact host and port opens that endpoint;
a broader one (a host, a network) never does.

Addresses are compared in one form (``testfleet.targets.addresses.canonical``: ``::ffff:10.0.0.5``
is 10.0.0.5), and an IPv6 address carrying an IPv4 one (NAT64, 6to4, Teredo) is
refused when either is (``address_forms``). URLs are read as browsers read them, with
the WHATWG URL parser browsers follow (``ada_url``): ``http://127。0。0。1:4444/``,
``http://127.0.0.1:4444\\@example.com/`` and ``http://localhost%2e:4444/`` all go to the
loopback's port 4444, and are judged so. What other tools would read differently (a
backslash before the path) and IPv6 literals carrying an IPv4 address are refused
outright: the IPv4 address, written plainly, says the same.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import ada_url

from testfleet.settings import Settings
from testfleet.targets.addresses import (
    LOOPBACK_NAMES,
    METADATA_NAMES,
    Address,
    Network,
    address_class,
    address_forms,
    canonical,
    canonical_network,
    embedded_ipv4,
    host_address,
    is_local_address,
    is_loopback_host,
    norm_host,
    same_loopback,
)

SETTING = "TESTFLEET_SECURITY__ALLOWED_TARGETS"
"""The environment variable an operator sets to allow a target."""

BLANK = "about:blank"


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "sentinel": 26379}


@dataclass(frozen=True)
class Refusal:
    """Why a target is refused; ``message`` is what a step error or a log line says."""

    target: str
    reason: str
    allowable: bool = True
    """Whether an operator could allow it (a host can be allowed, a scheme cannot)."""

    @property
    def message(self) -> str:
        text = f"{self.target} is refused by the fleet's target policy: {self.reason}"
        if self.allowable:
            text += f" (an operator can allow a target with {SETTING})"
        return text


@dataclass(frozen=True)
class Endpoint:
    """One of the fleet's own services: ``host`` and ``port`` (None: every port)."""

    name: str
    host: str
    port: int | None


@dataclass(frozen=True)
class Allowance:
    """One entry of ``allowed_targets``, parsed."""

    raw: str
    host: str = ""
    """A lower-case host name or address; ``*.example.com`` matches below example.com."""
    network: Network | None = None
    port: int | None = None
    """None: every port."""

    @property
    def exact(self) -> bool:
        """Names one host and one port (it may then open a fleet endpoint)."""
        return self.network is None and not self.host.startswith("*.") and self.port is not None

    def matches(self, host: str, port: int, address: Address | None = None) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            candidate = address if address is not None else host_address(host)
            return candidate is not None and candidate in self.network
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        if self.host == host or same_loopback(self.host, host):
            return True
        mine = host_address(self.host)
        if address is not None and mine is not None:
            return mine == address
        return address is not None and is_loopback_host(self.host) and address.is_loopback


def parse_allowance(raw: str) -> Allowance:
    """``host``, ``host:port``, ``[v6]:port``, ``scheme://host[:port]``, ``*.domain`` or
    a CIDR. Raises ``ValueError`` saying what is wrong."""
    text = raw.strip()
    if not text:
        raise ValueError("an allowed target must not be empty")
    if "://" in text:
        parts = urlsplit(text)
        if not parts.hostname:
            raise ValueError(f"allowed target {raw!r} has no host")
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        return Allowance(raw, host=norm_host(parts.hostname), port=port)
    if "/" in text:
        try:
            network = canonical_network(ipaddress.ip_network(text, strict=False))
            return Allowance(raw, network=network)
        except ValueError:
            raise ValueError(f"allowed target {raw!r} is not a valid network") from None
    host, port = _split_host_port(text)
    return Allowance(raw, host=norm_host(host), port=port)


@dataclass
class TargetPolicy:
    """The fleet's target policy (see the module docstring). ``TargetPolicy()`` knows
    no fleet: it refuses schemes and metadata / link-local addresses only."""

    allowed: tuple[Allowance, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> TargetPolicy:
        """The policy of the fleet ``settings`` describe. Raises ``ValueError`` for a
        malformed ``allowed_targets`` entry."""
        sec = settings.security
        allowed = [parse_allowance(raw) for raw in sec.allowed_targets]
        if sec.allow_demo_site:
            demo = settings.demo
            host = f"[{demo.host}]" if ":" in demo.host else demo.host
            allowed.append(parse_allowance(f"{host}:{demo.port}"))
        return cls(tuple(allowed), tuple(fleet_endpoints(settings)))

    # -- the static check: a URL, no name resolution ---------------------------------

    def check_url(self, url: str) -> Refusal | None:
        """Why a browser may not go to ``url``, or None when it may (as far as the
        URL alone tells: names are not resolved here)."""
        text = url.strip()
        if text == BLANK:
            return None
        if not _has_scheme(text):
            return Refusal(
                _shorten(text),
                "it is not an absolute URL (a path needs the suite's base_url)",
                allowable=False,
            )
        try:
            parsed: ada_url.URL | None = ada_url.URL(text)
        except ValueError:
            parsed = None
        scheme = (parsed.protocol if parsed else text.partition(":")[0]).rstrip(":").lower()
        if scheme not in ("http", "https"):
            return Refusal(
                _shorten(text),
                f"{scheme}: is not allowed; browsers open http(s) pages only (local files, "
                "browser internals and inline documents stay out of reach)",
                allowable=False,
            )
        if parsed is None:
            return Refusal(
                _shorten(text),
                "browsers cannot open it: it is not a valid URL (a host that is not a "
                "valid name or address, a port that is not a number from 0 to 65535, a "
                "space or another character a host cannot hold)",
                allowable=False,
            )
        return self._check_browser_url(text, parsed, scheme)

    def _check_browser_url(self, text: str, parsed: ada_url.URL, scheme: str) -> Refusal | None:
        """``check_url`` of an http(s) URL, as ``parsed`` by the WHATWG rules browsers use."""
        browser_host = parsed.hostname.strip("[]")
        host = norm_host(browser_host)
        if not host:
            return Refusal(_shorten(text), "it has no host", allowable=False)
        port = int(parsed.port) if parsed.port else _DEFAULT_PORTS[scheme]
        target = f"{scheme}://{parsed.host}"
        if _written_host(text) != host:
            target += f" (how browsers read {_shorten(text)})"
        refusal = self._check(target, host, port, host_address(host), resolved=False)
        if refusal is not None:
            return refusal
        if _backslash_before_path(text):
            return Refusal(
                target,
                "it has a backslash before its path: browsers read it as '/', other tools "
                "as part of the host; write '/'",
                allowable=False,
            )
        embedded = _embedded_in_literal(browser_host)
        if embedded is not None and not any(a.matches(host, port) for a in self.allowed):
            return Refusal(
                target,
                f"it is an IPv6 address embedding the IPv4 address {embedded}; write the "
                "IPv4 address (or a name) instead",
            )
        return None

    # -- the proxy's check: a host, a port and the address it resolved to ------------

    def check_address(self, host: str, port: int, address: Address) -> Refusal | None:
        """Why a connection to ``host:port`` at ``address`` is refused, or None. Also
        refuses the loopback and this machine's own addresses (the proxy runs on
        the node's host)."""
        return self._check(f"{host}:{port}", norm_host(host), port, address, resolved=True)

    def check_destination(self, host: str, port: int, address: Address) -> Refusal | None:
        """Why the fleet itself may not connect to ``host:port`` at ``address`` on a user's
        behalf (a notification's webhook), or None. As ``check_url`` judges a URL, applied
        to an address the host resolved to: the fleet's own services and the metadata and
        link-local addresses are refused, in every form; other loopback ports are not (a
        local fleet's own receiver)."""
        return self._check(f"{host}:{port}", norm_host(host), port, address, resolved=False)

    def endpoint_hosts(self) -> set[str]:
        """Host names of fleet endpoints that are not addresses (the proxy resolves them)."""
        return {e.host for e in self.endpoints if host_address(e.host) is None and e.host}

    def with_addresses(self, addresses: Mapping[str, Sequence[str]]) -> TargetPolicy:
        """This policy with each named endpoint also known by its addresses
        (``addresses``: host name -> what it resolves to now)."""
        extra = [
            Endpoint(e.name, norm_host(address), e.port)
            for e in self.endpoints
            for address in addresses.get(e.host, ())
        ]
        return replace(self, endpoints=tuple(dict.fromkeys([*self.endpoints, *extra])))

    def _check(
        self, target: str, host: str, port: int, address: Address | None, *, resolved: bool
    ) -> Refusal | None:
        """Refused when ``address`` in any of its forms (``address_forms``) is; a fleet
        endpoint is named before a class of address, whichever form it is."""
        forms = address_forms(address) if address is not None else (None,)
        for form in forms:
            refusal = self._endpoint_refusal(target, host, port, form)
            if refusal is not None:
                return refusal
        for form in forms:
            refusal = self._class_refusal(target, host, port, form, resolved=resolved)
            if refusal is not None:
                return refusal
        return None

    def _endpoint_refusal(
        self, target: str, host: str, port: int, address: Address | None
    ) -> Refusal | None:
        if any(a.exact and a.matches(host, port, address) for a in self.allowed):
            return None
        for endpoint in self.endpoints:
            if _endpoint_matches(endpoint, host, port, address):
                return Refusal(target, f"it is the fleet's {endpoint.name}")
        return None

    def _class_refusal(
        self, target: str, host: str, port: int, address: Address | None, *, resolved: bool
    ) -> Refusal | None:
        if any(a.matches(host, port, address) for a in self.allowed):
            return None
        if host in METADATA_NAMES:
            return Refusal(target, "it is a cloud metadata service")
        if address is not None:
            reason = address_class(address)
            if reason is not None and (resolved or reason != "the node's loopback"):
                return Refusal(target, f"it is {reason}")
            if resolved and is_local_address(address):
                return Refusal(target, "it is an address of the browser node's own host")
        elif resolved and (host in LOOPBACK_NAMES or host.endswith(".localhost")):
            return Refusal(target, "it is the node's loopback")
        return None


BLOCKED_META = "testfleet-blocked"
"""``<meta name>`` of the egress proxy's refusal page; its ``content`` is the reason."""
BLOCKED_TITLE = "Blocked by testfleet"
UNREACHABLE_META = "testfleet-unreachable"
"""``<meta name>`` of the egress proxy's page for a host it could not resolve or reach;
its ``content`` is the network error Chromium would have named (``net::ERR_...``)."""


def page_refusal(url: str, probe: object, own: Refusal | None = None) -> str | None:
    """Why a navigation to ``url`` did not get its page, from what the page it landed on
    showed (``probe``): ``["refused", reason]`` (the egress proxy's page, its
    ``BLOCKED_META`` content) or ``["error", code, text]`` (Chromium's error page, its
    ``net::`` code and first words); None for anything else.

    The proxy's page names no internal service or address (a page could read it), so
    its reason may be generic: ``own``, the worker's own policy check of the URL, says
    more when it refuses too."""
    if not isinstance(probe, list) or not probe:
        return None
    if probe[0] == "refused":
        reason = own.message if own is not None else str(probe[1] if len(probe) > 1 else "")
        return f"the browser's egress proxy refused the page: {reason}"
    code = str(probe[1]) if len(probe) > 1 else ""
    text = str(probe[2]) if len(probe) > 2 else ""
    if code == "ERR_BLOCKED_BY_ADMINISTRATOR" or (not code and "blocked" in text.lower()):
        return (
            f"{_shorten(url)} is refused by the browser's URL policy (local files, browser "
            "pages and metadata addresses are never opened)"
        )
    if code == "ERR_UNSAFE_REDIRECT":
        return (
            "the page redirected to a URL browsers may not open (a local file or another "
            "non-web scheme): net::ERR_UNSAFE_REDIRECT"
        )
    if code == "ERR_TUNNEL_CONNECTION_FAILED":
        return (
            f"could not open {_shorten(url)}: the browser's egress proxy refused the "
            "connection or could not reach the host (net::ERR_TUNNEL_CONNECTION_FAILED; "
            f"internal addresses are refused unless allowed with {SETTING})"
        )
    return f"could not open {url}: {f'net::{code}' if code else 'a network error'}"


def fleet_endpoints(settings: Settings) -> list[Endpoint]:
    """The fleet's own services, as ``settings`` place them."""
    grid = settings.grid
    found: list[Endpoint] = []

    def add(name: str, url_or_host: str, port: int | None = None) -> None:
        if "://" in url_or_host:
            parts = urlsplit(url_or_host)
            host = parts.hostname or ""
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 6379)
        else:
            host = url_or_host
        if host:
            found.append(Endpoint(name, norm_host(host), port))

    hub_host = urlsplit(grid.url).hostname or grid.host
    add("Selenium Grid", grid.url)
    add("Selenium Grid", grid.host, grid.port)
    for port in (grid.event_bus_publish_port, grid.event_bus_subscribe_port):
        add("Selenium Grid event bus", hub_host, port)
        add("Selenium Grid event bus", grid.host, port)
    add("Selenium Grid node", grid.node_host, grid.node_port)
    # A Sentinel URL names several Sentinels: sentinel://h1:26379;sentinel://h2:26379/0.
    for redis_url in settings.redis.url.split(";"):
        add("Redis", redis_url.strip())
    add("API", settings.api.host, settings.api.port)
    add("API", settings.api_url)
    add("streaming gateway", settings.gateway.host, settings.gateway.port)
    add("streaming gateway", settings.gateway_url)
    add("browser egress proxy", settings.security.egress_host, settings.security.egress_port)
    if settings.security.browser_proxy:
        add("browser egress proxy", settings.security.browser_proxy)
    if settings.artifacts.s3_endpoint_url:
        add("artifact store", settings.artifacts.s3_endpoint_url)
    for host in settings.security.internal_hosts:
        add("internal service", host, None)
    return list(dict.fromkeys(found))


def suite_errors(suite: Any, policy: TargetPolicy) -> list[dict[str, Any]]:
    """Refused targets of a suite (its ``base_url`` and every ``navigate`` step), as
    error entries shaped like pydantic's (``loc``, ``msg``, ``type``) for the loader."""
    errors: list[dict[str, Any]] = []
    base_url = getattr(suite, "base_url", None)
    if base_url:
        refusal = policy.check_url(base_url)
        if refusal is not None:
            errors.append(_error(("base_url",), refusal))
    for ti, test in enumerate(getattr(suite, "tests", [])):
        for si, step in enumerate(test.steps):
            if step.step_type != "navigate" or not step.input_data:
                continue
            url = resolve(base_url, step.input_data)
            if not _has_scheme(url):
                continue  # a path without a base_url: not a target yet, nothing to refuse
            refusal = policy.check_url(url)
            if refusal is not None:
                errors.append(_error(("tests", ti, "steps", si), refusal))
    return errors


def resolve(base_url: str | None, target: str) -> str:
    """``target`` as a navigation sends the browser there: absolute URLs (any scheme)
    as they are, anything else under ``base_url``."""
    text = target.strip()
    if not base_url or _has_scheme(text):
        return text
    return f"{base_url.rstrip('/')}/{text.lstrip('/')}"


# -- helpers ---------------------------------------------------------------------------


def _error(loc: tuple[str | int, ...], refusal: Refusal) -> dict[str, Any]:
    return {"loc": loc, "msg": refusal.message, "type": "target_refused"}


def _has_scheme(text: str) -> bool:
    head, sep, _ = text.partition(":")
    return (
        bool(sep)
        and head.isascii()
        and head[:1].isalpha()
        and all(c.isalnum() or c in "+-." for c in head)
        and "/" not in head
    )


def _written_host(text: str) -> str:
    """The host of ``text`` as tools other than browsers read it (Python's ``urlsplit``),
    normalised; empty when they cannot read one."""
    try:
        return norm_host(urlsplit(text).hostname or "")
    except ValueError:
        return ""


def _backslash_before_path(text: str) -> bool:
    """Whether a backslash comes before the path of special-scheme URL ``text``:
    browsers read it as '/' (ending the host), other tools as part of the host."""
    rest = text.partition(":")[2]
    slashes = len(rest) - len(rest.lstrip("/\\"))
    authority = re.split(r"[/?#]", rest[slashes:], maxsplit=1)[0]
    return "\\" in rest[:slashes] or "\\" in authority


def _embedded_in_literal(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 literal ``host`` carries (mapped, compatible, NAT64,
    6to4, Teredo), or None (a name, an IPv4 address, a plain IPv6 address)."""
    try:
        literal = ipaddress.IPv6Address(host)
    except ValueError:
        return None
    first = canonical(literal)
    if isinstance(first, ipaddress.IPv4Address):
        return first
    forms = embedded_ipv4(first)
    return forms[0] if forms else None


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _split_host_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""  # a bare host, or an IPv6 address without brackets
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"allowed target {text!r} has an invalid port {port_text!r}")
    return host, int(port_text)


def _endpoint_matches(endpoint: Endpoint, host: str, port: int, address: Address | None) -> bool:
    if endpoint.port is not None and endpoint.port != port:
        return False
    if endpoint.host == host or same_loopback(endpoint.host, host):
        return True
    if address is None:
        return False
    if is_loopback_host(endpoint.host) and (address.is_loopback or address.is_unspecified):
        return True
    mine = host_address(endpoint.host)
    return mine is not None and mine == address
