"""The managed Chromium policy: what it blocks, and how a node makes sure its browsers (and
no other Chromium of the machine) run under it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from grid.policy import POLICY, PolicyOverlay, ensure_installed, overlay_dir, policy_file
from testfleet.errors import InfrastructureError
from testfleet.settings import PathSettings, SecuritySettings, Settings


def settings_with(
    directory: Path, required: bool = True, machine_wide: bool = True, state: Path | None = None
) -> Settings:
    security = SecuritySettings(
        chromium_policy_dir=directory,
        require_chromium_policy=required,
        chromium_policy_machine_wide=machine_wide,
    )
    paths = PathSettings(state_dir=state or directory.parent / "state")
    return Settings(security=security, paths=paths)


def test_local_files_and_source_views_are_blocked_but_not_what_dialogs_need() -> None:
    blocked = POLICY["URLBlocklist"]
    assert {"file://*", "view-source:*", "169.254.169.254"} <= set(blocked)
    assert "chrome://*" not in blocked, "headless alert() dialogs are chrome:// pages"
    assert "data:*" not in blocked, "chromedriver opens every session on data:,"


def test_by_default_only_the_fleets_tree_holds_it_and_the_machines_dir_is_untouched(
    tmp_path: Path,
) -> None:
    machine = tmp_path / "etc" / "chromium"
    machine.mkdir(parents=True)
    settings = settings_with(
        machine / "policies" / "managed", machine_wide=False, state=tmp_path / "state"
    )
    overlay = ensure_installed(settings)
    assert overlay == PolicyOverlay(overlay_dir(settings), machine)
    assert list(machine.iterdir()) == [], "nothing written where every Chromium reads"
    path = policy_file(overlay.lower / "policies" / "managed")
    assert json.loads(path.read_text()) == POLICY
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(overlay.lower.stat().st_mode) == 0o755
    (machine / "policies" / "managed").mkdir(parents=True)  # an admin's own policies
    assert ensure_installed(settings) == PolicyOverlay(
        overlay.lower, machine / "policies" / "managed"
    )


def test_it_is_never_laid_over_etc_itself(tmp_path: Path) -> None:
    settings = settings_with(
        Path("/etc/testfleet-no-such-browser/policies/managed"),
        machine_wide=False,
        state=tmp_path / "state",
    )
    with pytest.raises(InfrastructureError, match=r"create /etc/testfleet-no-such-browser "):
        ensure_installed(settings)


def test_machine_wide_it_installs_it_when_missing_and_readable_by_all(tmp_path: Path) -> None:
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
