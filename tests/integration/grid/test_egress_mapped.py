"""The IPv4-mapped IPv6 bypass, end to end: a fleet service on another host stays out of
reach of a browser that writes its address as ``[::ffff:<ip>]``.

Three hosts (network namespaces, ``tests.netns``): ``store``, a service the fleet names
in ``security.internal_hosts`` (as compose's artifact store would be); ``site``, an
ordinary web app; ``node``, real headless Chromium behind the real egress proxy
(``grid.egress``), with the fleet's policy. From ``node`` the browser navigates to
``http://[::ffff:<store>]:<port>/``, fetch()es it and opens a WebSocket to it (a
``CONNECT`` tunnel) from the site's page, and the worker's navigate step is redirected
there. Every route must be refused and the store must see none of those requests,
while ``node`` reaches the store directly (the route exists) and the browser reaches the
site by its mapped address too (the proxy refuses the store, not the spelling).

Before the fix, the proxy compared the IPv4 endpoint with the IPv6 address, missed,
and served every one of these requests from the store.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.netns import Host, NetworkLab
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.multihost, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[3]
STORE_PORT = 8888
SITE_PORT = 8080
EGRESS_PORT = 8703
HELPER = "tests.integration.grid.egress_lab"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkLab]:
    with NetworkLab(tmp_path_factory.mktemp("egress-mapped") / "logs") as lab:
        for role, port in (("store", STORE_PORT), ("site", SITE_PORT)):
            host = lab.add_host(role)
            argv = [sys.executable, "-m", HELPER, "serve", role, host.address, str(port)]
            host.spawn("http", argv, _env())
        lab.add_host("node")
        yield lab


def _hits(store: Host) -> list[str]:
    log = store.lab.log_dir / f"{store.name.rsplit('-', 1)[-1]}-http.log"
    return [
        line.split(" ", 1)[1] for line in log.read_text().splitlines() if line.startswith("HIT")
    ]


@pytest.fixture(scope="module")
def shown(lab: NetworkLab) -> dict[str, Any]:
    """What each route showed in the browser on ``node`` (``egress_lab.probe``)."""
    store, site, node = lab.hosts["store"], lab.hosts["site"], lab.hosts["node"]
    spec = {
        "store_ip": store.address,
        "store_port": STORE_PORT,
        "site_ip": site.address,
        "site_port": SITE_PORT,
        "egress_port": EGRESS_PORT,
    }
    done = node.run(
        sys.executable, "-m", HELPER, "probe", json.dumps(spec), env=_env(), timeout_s=300
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{lab.logs()}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_routes_exist(shown: dict[str, Any]) -> None:
    assert "store page /direct" in shown["direct"], "the node reaches the store directly"
    assert shown["site"][0] == "site"
    assert shown["site_mapped"][0] == "site", "an ordinary host's mapped address is served"


def test_a_mapped_address_of_a_fleet_service_is_refused(
    lab: NetworkLab, shown: dict[str, Any]
) -> None:
    title, text, blocked = shown["navigate"]
    assert "store page" not in text, shown["navigate"]
    assert blocked is not None, f"the proxy's refusal page, not {title!r}: {text[:200]!r}"
    assert "store page" not in shown["fetch"], shown["fetch"]
    assert shown["websocket"] == "refused", "a CONNECT tunnel to the store"
    status, error = shown["step"]
    assert status == "failed"
    assert "egress proxy refused the page" in error, error
    assert "the fleet's internal service" in error, "the worker's own check names it"
    # The store saw the direct request and nothing that came through the proxy.
    store = lab.hosts["store"]
    hits = wait_until("the store's log", lambda: _hits(store), 10)
    assert hits == ["/direct"], hits
