"""The managed Chromium policy: what it blocks, and how a node makes sure it is there."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from grid.policy import POLICY, ensure_installed, policy_file
from testfleet.errors import InfrastructureError
from testfleet.settings import SecuritySettings, Settings


def settings_with(directory: Path, required: bool = True) -> Settings:
    security = SecuritySettings(chromium_policy_dir=directory, require_chromium_policy=required)
    return Settings(security=security)


def test_local_files_and_source_views_are_blocked_but_not_what_dialogs_need() -> None:
    blocked = POLICY["URLBlocklist"]
    assert {"file://*", "view-source:*", "169.254.169.254"} <= set(blocked)
    assert "chrome://*" not in blocked, "headless alert() dialogs are chrome:// pages"
    assert "data:*" not in blocked, "chromedriver opens every session on data:,"


def test_a_node_installs_it_when_missing_and_readable_by_all(tmp_path: Path) -> None:
    directory = tmp_path / "policies" / "managed"
    path = ensure_installed(settings_with(directory))
    assert path == policy_file(directory)
    assert json.loads(path.read_text()) == POLICY
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.write_text("{}")  # outdated: replaced
    assert json.loads(ensure_installed(settings_with(directory)).read_text()) == POLICY  # type: ignore[union-attr]


def test_a_node_that_cannot_install_it_says_how(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(InfrastructureError, match=r"sudo .* -m grid\.policy .*REQUIRE_CHROMIUM"):
        ensure_installed(settings_with(blocker / "managed"))


def test_it_can_be_turned_off(tmp_path: Path) -> None:
    assert ensure_installed(settings_with(tmp_path / "x", required=False)) is None
    assert not (tmp_path / "x").exists()
