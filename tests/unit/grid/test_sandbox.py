"""The wrapper a root node runs Chromium through (grid/sandbox.py), run for real with a
stand-in browser that prints what it was started with."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from grid.gridconfig import render_config
from grid.sandbox import BrowserUser, browser_user, wrapper_text
from testfleet.settings import SecuritySettings, Settings


def test_the_wrapper_drops_no_sandbox_and_hands_the_profile_over(tmp_path: Path) -> None:
    browser = tmp_path / "chromium"
    browser.write_text('#!/bin/sh\nprintf "%s\\n" "$(id -u)" "$@"\n')
    browser.chmod(0o755)
    me = BrowserUser("me", os.getuid(), os.getgid())
    wrapper = tmp_path / "wrapper"
    wrapper.write_text(wrapper_text(browser, me))
    wrapper.chmod(0o755)
    profile = tmp_path / "profile with space"
    profile.mkdir()
    args = ["--headless=new", "--no-sandbox", f"--user-data-dir={profile}", "--window-size=1,2"]
    done = subprocess.run([str(wrapper), *args], capture_output=True, text=True, check=True)
    uid, *seen = done.stdout.splitlines()
    assert uid == str(me.uid)
    assert seen == ["--headless=new", f"--user-data-dir={profile}", "--window-size=1,2"]


def test_no_browser_user_unless_root_and_the_user_exists() -> None:
    missing = Settings(security=SecuritySettings(browser_user="no-such-user-here"))
    assert browser_user(missing) is None
    assert browser_user(Settings(security=SecuritySettings(browser_user=""))) is None
    if os.geteuid() != 0:
        assert browser_user(Settings(security=SecuritySettings(browser_user="root"))) is None


def test_the_node_names_the_wrapper_as_its_browser(tmp_path: Path) -> None:
    settings = Settings(
        security=SecuritySettings(
            grid_username="u", grid_password="p", grid_registration_secret="s"
        )
    )
    text = render_config(settings, "node", browser_binary=tmp_path / "wrapper")
    assert f'\\"binary\\":\\"{tmp_path}/wrapper\\"' in text
    assert '\\"binary\\":\\"/usr/bin/chromium\\"' in render_config(settings, "node")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands Chromium to another user")
def test_as_root_the_browser_user_is_the_settings(tmp_path: Path) -> None:
    user = browser_user(Settings(security=SecuritySettings(browser_user="nobody")))
    assert user is not None
    assert user.uid == 65534
