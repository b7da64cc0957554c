"""A real Grid node's browser: under the fleet's URL policy (which no other Chromium of the
machine sees), and with none of the node's secrets in its processes' environment.

The node is started with the Grid's registration secret and router password in its
environment, as ``testfleet grid node`` is. Before the fix, every Chromium process of a
session (renderers included, whose memory a renderer bug reads without leaving the
sandbox) inherited them, and the policy reached the browser only through a file in
Chromium's machine-wide directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grid.provider import GridProvider, browser
from testfleet.settings import Settings
from tests.fixtures_grid import grid_leftovers, grid_test_settings, running_grid
from tests.fixtures_pages import world_readable_page

pytestmark = [pytest.mark.grid, pytest.mark.browser]

MARKER = "testfleet-node-local-file"


@pytest.fixture(scope="module")
def grid_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = grid_test_settings(tmp_path_factory.mktemp("grid-confined"), max_sessions=1)
    security = settings.security
    with pytest.MonkeyPatch.context() as patch:
        # As an operator starts `testfleet grid node`: the secrets in its environment.
        patch.setenv(
            "TESTFLEET_SECURITY__GRID_REGISTRATION_SECRET",
            security.grid_registration_secret.get_secret_value(),
        )
        patch.setenv("TESTFLEET_SECURITY__GRID_PASSWORD", security.grid_password.get_secret_value())
        with running_grid(settings):
            yield settings
    assert grid_leftovers(settings) == []


@pytest.fixture
def page() -> Iterator[str]:
    """A file:// URL everyone may read (the root node's browser runs as another user)."""
    with world_readable_page(MARKER, "testfleet-node-page-") as url:
        yield url


def test_the_nodes_browser_opens_no_local_file_and_holds_no_secret(
    grid_settings: Settings, page: str
) -> None:
    security = grid_settings.security
    secrets = [
        security.grid_registration_secret.get_secret_value().encode(),
        security.grid_password.get_secret_value().encode(),
    ]
    assert all(secrets)
    with browser(GridProvider(grid_settings)) as driver:
        driver.get(page)
        source = driver.page_source
        pids = [line.split()[0] for line in grid_leftovers(grid_settings)]
        chromium = {
            pid: Path(f"/proc/{pid}/environ").read_bytes()
            for pid in pids
            if b"chrom" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            and b"chromedriver" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        }
    assert MARKER not in source
    assert "This page is blocked" in source, "refused for another reason than the policy"
    assert chromium, "no Chromium process of the session found"
    for pid, environ in chromium.items():
        for secret in secrets:
            assert secret not in environ, f"Chromium process {pid} holds a secret of the node"
