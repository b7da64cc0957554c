"""The fleet's URL policy binds the fleet's browsers and no other Chromium of the machine,
with real headless Chromium.

A local file is opened three ways: by the Grid node's browser (through the wrapper
``grid.sandbox.confinement`` writes, without ``--no-sandbox``: as root it runs as
``security.browser_user``), by the local provider's browser (chromedriver, through
``grid.sandbox.local_browser``), and by a plain ``chromium`` started as anyone would.
The first two must be refused by the policy (``ERR_BLOCKED_BY_ADMINISTRATOR``, not a
permission error: the file is readable by everyone); the plain one must read it.

Before the fix, ``make setup`` installed the policy into Chromium's machine-wide
directory: the plain Chromium was refused as well (and the node refused to start
without that file).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grid.chrome import chrome_options
from grid.policy import FILE_NAME, PolicyOverlay, ensure_installed
from grid.provider import LocalProvider
from grid.sandbox import confinement
from testfleet.settings import PathSettings, Settings
from tests.fixtures_pages import world_readable_page

pytestmark = [pytest.mark.browser]

MARKER = "testfleet-local-file-contents"
BLOCKED = "ERR_BLOCKED_BY_ADMINISTRATOR"
BLOCKED_PAGE = "This page is blocked"
"""The heading of the page Chromium shows for a URL its policy blocks (en-US)."""
CHROMIUM_TIMEOUT_S = 90


@pytest.fixture
def page() -> Iterator[str]:
    """A file:// URL of a page everyone may read (the node's browser runs as another user)."""
    with world_readable_page(MARKER, "testfleet-policy-scope-") as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    state = tmp_path / "state"
    state.mkdir()
    return Settings(paths=PathSettings(state_dir=state))


def dump_dom(browser: Path, url: str, profile: Path, args: list[str]) -> tuple[str, str]:
    """``browser --dump-dom url``: what the page held (stdout) and Chromium's log."""
    command = [str(browser), *args, f"--user-data-dir={profile}", "--dump-dom", url]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=CHROMIUM_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return done.stdout, done.stderr


def test_nothing_of_the_fleet_is_in_chromiums_machine_wide_policy_directory() -> None:
    directory = Settings().security.chromium_policy_dir
    assert not (directory / FILE_NAME).exists(), (
        f"{directory / FILE_NAME} binds every Chromium of this machine: run `make setup` "
        "(it removes the copy an earlier setup installed)"
    )


def test_the_nodes_browser_is_under_the_policy_and_a_plain_chromium_is_not(
    settings: Settings, page: str, tmp_path: Path
) -> None:
    overlay = ensure_installed(settings)
    assert isinstance(overlay, PolicyOverlay)
    browser_tmp = tmp_path / "browser-tmp"
    wrapper = confinement(settings, browser_tmp, overlay)
    assert wrapper is not None
    # The workers' own arguments, --no-sandbox included: the wrapper drops it, and
    # Chromium without it either sandboxes its renderers or does not start at all.
    args = list(chrome_options(settings.grid, include_binary=False).arguments)
    assert "--no-sandbox" in args
    args.remove("--remote-debugging-pipe")  # chromedriver's pipe: no driver here
    profile = Path(tempfile.mkdtemp(prefix="testfleet-policy-profile-"))
    try:
        shown, log = dump_dom(wrapper, page, profile, args)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert MARKER not in shown
    assert BLOCKED in log, f"refused for another reason than the policy:\n{log[-2000:]}"

    # Started as anyone on this machine would: not under the fleet's policy.
    plain = ["--headless=new", *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    shown, log = dump_dom(settings.grid.chromium_binary, page, tmp_path / "plain", plain)
    assert MARKER in shown, f"a Chromium outside the fleet was refused the file:\n{log[-2000:]}"


def test_the_local_providers_browser_is_under_the_policy(settings: Settings, page: str) -> None:
    provider = LocalProvider(settings)
    driver = provider.open()
    try:
        driver.get(page)
        source = driver.page_source
    finally:
        provider.close(driver)
    assert MARKER not in source
    assert BLOCKED_PAGE in source, "refused for another reason than the policy"
