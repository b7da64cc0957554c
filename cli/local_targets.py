"""Apps on this machine for the local fleet: ``testfleet up --allow`` and the command a
refused loopback target needs.

The local fleet's browsers reach this machine's loopback only through their egress
proxy, which refuses it unless ``security.allowed_targets`` names the target: the
loopback is also where chromedriver, Chromium's DevTools and whatever else the
machine's users run listen, so nothing on it is open by default. ``--allow`` adds
targets for one fleet (its API, workers and proxy read them when they start, and
``fleet.json`` records them); a target naming one of the fleet's own services is
refused, so no allowance opens Redis, the API, the gateway or the Grid (a broader one,
a host or a network, never does: ``testfleet.targets.policy``).

The loader cannot know what listens on a node's loopback, so a suite sent to an app
on it would load and fail at its first ``navigate``; against the local fleet the node
is this machine, so ``testfleet run`` knows before submitting and says which command
opens it (``refused_loopback``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import ada_url

from cli.fleet import FleetState
from testfleet.errors import UsageError
from testfleet.settings import Settings
from testfleet.targets.addresses import Address, host_address, is_local_address, is_loopback_host
from testfleet.targets.policy import TargetPolicy, fleet_endpoints, parse_allowance, resolve

if TYPE_CHECKING:
    from testfleet.suites.model import Suite

ALLOW_FORMS = "host, host:port, http://host:port, *.domain or a network such as 10.0.0.0/8"
"""What an ``--allow`` value may be, as an error message lists it."""
_LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
_DEFAULT_WORKERS = 2
_DEFAULT_BROWSERS = 2


def parse_allow(values: Iterable[str], settings: Settings) -> tuple[str, ...]:
    """The ``--allow`` values, checked; ``UsageError`` saying what to write for a
    malformed one, and for one that names a service of the fleet ``settings`` place."""
    own = TargetPolicy(endpoints=tuple(fleet_endpoints(settings)))
    allowed: list[str] = []
    for raw in values:
        try:
            allowance = parse_allowance(raw)
        except ValueError as exc:
            raise UsageError(f"--allow {raw!r}: {exc}; write {ALLOW_FORMS}") from None
        service = _fleet_service(own, allowance.host, allowance.port) if allowance.exact else None
        if service is not None:
            raise UsageError(
                f"--allow {raw}: {service}, and the fleet's own services stay refused to "
                "its browsers; serve the app on another port"
            )
        allowed.append(raw.strip())
    return tuple(dict.fromkeys(allowed))


def broad_loopback(allowed: Iterable[str]) -> list[str]:
    """The allowances that open every port of the loopback (a host without a port, a
    network holding 127.0.0.1): chromedriver's and the machine's other services' too."""
    found = []
    for raw in allowed:
        allowance = parse_allowance(raw)
        if allowance.network is not None:
            if _LOOPBACK in allowance.network:
                found.append(raw)
        elif allowance.port is None and is_loopback_host(allowance.host):
            found.append(raw)
    return found


def allow_command(state: FleetState, settings: Settings, targets: Sequence[str]) -> str:
    """The commands that restart the local fleet as it is, with ``targets`` allowed too
    (what the settings allow already comes back by itself)."""
    from_settings = set(settings.security.allowed_targets)
    kept = [t for t in state.allowed_targets if t not in from_settings]
    words = ["testfleet", "up"]
    if state.workers != _DEFAULT_WORKERS:
        words += ["--workers", str(state.workers)]
    if state.browsers not in (0, _DEFAULT_BROWSERS):
        words += ["--browsers", str(state.browsers)]
    for target in dict.fromkeys([*kept, *targets]):
        words += ["--allow", target]
    return "testfleet down && " + " ".join(words)


def refused_loopback(settings: Settings, api_url: str, suites: Sequence[Suite]) -> str | None:
    """Why the local fleet's browsers would be refused a target of ``suites`` on this
    machine (its loopback or one of its addresses), with the command that allows it;
    None when every such target is allowed, or when ``api_url`` is not the local fleet."""
    state = FleetState.load(settings.paths.fleet_file)
    if state is None or api_url.rstrip("/") != state.api_url.rstrip("/"):
        return None
    policy = TargetPolicy.from_settings(with_recorded_allowances(settings))
    own = TargetPolicy(endpoints=policy.endpoints)
    refused: dict[str, str] = {}
    for url in _targets(suites):
        found = _on_this_machine(url)
        if found is None:
            continue
        host, port, address = found
        refusal = policy.check_address(host, port, address)
        # A fleet service is refused by the loader already, and no --allow opens it.
        if refusal is not None and _fleet_service(own, host, port) is None:
            refused.setdefault(_host_port(host, port), url)
    if not refused:
        return None
    first = next(iter(refused.values()))
    more = f" (and {len(refused) - 1} more target(s) on this machine)" if len(refused) > 1 else ""
    return (
        f"{first}{more} is on this machine, which the local fleet's browsers may not reach "
        f"unless allowed; nothing was queued. Allow it with: "
        f"{allow_command(state, settings, list(refused))}"
    )


def with_recorded_allowances(settings: Settings) -> Settings:
    """``settings`` with what the local fleet recorded in ``fleet.json`` as allowed (the
    CLI checks a suite as the fleet it submits to will)."""
    state = FleetState.load(settings.paths.fleet_file)
    if state is None or not state.allowed_targets:
        return settings
    sec = settings.security
    allowed = tuple(dict.fromkeys([*sec.allowed_targets, *state.allowed_targets]))
    return settings.model_copy(
        update={"security": sec.model_copy(update={"allowed_targets": allowed})}
    )


def _targets(suites: Sequence[Suite]) -> Iterable[str]:
    """Each suite's ``base_url`` and ``navigate`` targets, as absolute URLs."""
    for suite in suites:
        if suite.base_url:
            yield suite.base_url
        for test in suite.tests:
            for step in test.steps:
                if step.step_type == "navigate" and step.input_data:
                    yield resolve(suite.base_url, step.input_data)


def _on_this_machine(url: str) -> tuple[str, int, Address] | None:
    """Host, port and address of an http(s) ``url`` on this machine's loopback or one
    of its addresses, read as browsers read it; None for anything else (names other
    than the loopback's are not resolved here)."""
    try:
        parsed = ada_url.URL(url.strip())
    except ValueError:
        return None
    scheme = parsed.protocol.rstrip(":")
    if scheme not in ("http", "https"):
        return None
    host = parsed.hostname.strip("[]").lower()
    port = int(parsed.port) if parsed.port else (443 if scheme == "https" else 80)
    address = host_address(host)
    if address is None:
        return (host, port, _LOOPBACK) if is_loopback_host(host) else None
    if address.is_loopback or is_local_address(address):
        return host, port, address
    return None


def _fleet_service(own: TargetPolicy, host: str, port: int | None) -> str | None:
    """Why ``host:port`` is one of the fleet's services (``own`` knows only those), or
    None: refused by ``own`` while no class of address refuses it."""
    url = f"http://{_host_port(host, port)}/"
    refusal = own.check_url(url)
    if refusal is None or TargetPolicy().check_url(url) is not None:
        return None
    return refusal.reason


def _host_port(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"
