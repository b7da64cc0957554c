"""The wrapper the fleet's Chromium starts through (grid/sandbox.py), run for real with a
stand-in browser that prints what it was started with, and the seccomp profile the
official node image runs under in compose and Kubernetes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from grid.chrome import chrome_options
from grid.egress import chrome_proxy_args
from grid.gridconfig import render_config
from grid.sandbox import (
    BROWSER_ENV,
    NODE_IMAGE_CHROME,
    BrowserUser,
    Wrapper,
    browser_user,
    node_image_wrapper_text,
    wrapper_text,
)
from testfleet.settings import SecuritySettings, Settings
from tests.conftest import ROOT

SECCOMP_PROFILE = ROOT / "deploy" / "chrome-node" / "seccomp.json"
SECRET = "the-registration-secret"


def stand_in(tmp_path: Path) -> Path:
    """A "browser" that prints its uid, its arguments, then its environment."""
    browser = tmp_path / "chromium"
    browser.write_text('#!/bin/sh\nprintf "%s\\n" "$(id -u)" "$@" "--env--"\nenv\n')
    browser.chmod(0o755)
    return browser


def run(text: str, tmp_path: Path, args: list[str]) -> tuple[str, list[str], dict[str, str]]:
    wrapper = tmp_path / "wrapper"
    wrapper.write_text(text)
    wrapper.chmod(0o755)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "SE_REGISTRATION_SECRET": SECRET,
        "TESTFLEET_SECURITY__GRID_PASSWORD": SECRET,
    }
    done = subprocess.run(
        [str(wrapper), *args], capture_output=True, text=True, check=True, env=env, timeout=30
    )
    uid, *rest = done.stdout.splitlines()
    cut = rest.index("--env--")
    seen_env = dict(line.split("=", 1) for line in rest[cut + 1 :] if "=" in line)
    return uid, rest[:cut], seen_env


def session_args(profile: Path) -> list[str]:
    """What chromedriver starts the browser with for one of the workers' sessions."""
    options = chrome_options(Settings().grid, include_binary=False)
    return [
        *options.arguments,
        *chrome_proxy_args("http://egress:8703"),
        f"--user-data-dir={profile}",
    ]


def test_the_wrapper_drops_no_sandbox_and_the_nodes_environment(tmp_path: Path) -> None:
    me = BrowserUser("me", os.getuid(), os.getgid())
    profile = tmp_path / "profile with space"
    profile.mkdir()
    args = session_args(profile)
    assert "--no-sandbox" in args, "the sessions ask for it: the wrapper must drop it"
    text = wrapper_text(Wrapper(stand_in(tmp_path), sandboxed=True, user=me))
    uid, seen, env = run(text, tmp_path, args)
    assert uid == str(me.uid)
    assert seen == [a for a in args if a != "--no-sandbox"]
    assert SECRET not in "".join(f"{k}={v}" for k, v in env.items())
    assert set(env) - {"PWD", "SHLVL", "_", "OLDPWD"} <= set(BROWSER_ENV)
    assert env["TMPDIR"] == str(tmp_path)


def test_the_official_node_images_chrome_gets_neither_no_sandbox_nor_the_secret(
    tmp_path: Path,
) -> None:
    # compose and Kubernetes mount this file over the image's wrapper, which adds
    # --no-sandbox to every start; the registration secret is in the container's env.
    deployed = ROOT / "deploy" / "chrome-node" / "google-chrome"
    assert deployed.read_text() == node_image_wrapper_text(), (
        "python -m grid.sandbox --print-node-wrapper > deploy/chrome-node/google-chrome"
    )
    text = deployed.read_text().replace(str(NODE_IMAGE_CHROME), str(stand_in(tmp_path)))
    _, seen, env = run(text, tmp_path, session_args(tmp_path))
    assert "--no-sandbox" not in seen
    assert SECRET not in "".join(f"{k}={v}" for k, v in env.items())


def test_the_seccomp_profile_allows_chromiums_sandbox_and_refuses_escapes() -> None:
    profile = json.loads(SECCOMP_PROFILE.read_text())
    copy = ROOT / "deploy" / "kubernetes" / "base" / "chrome-node-seccomp.json"
    assert json.loads(copy.read_text()) == profile, "cp deploy/chrome-node/seccomp.json there"
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW"
    denied = {
        n
        for rule in profile["syscalls"]
        if rule["action"] == "SCMP_ACT_ERRNO"
        for n in rule["names"]
    }
    assert {
        "mount",
        "ptrace",
        "process_vm_readv",
        "bpf",
        "keyctl",
        "io_uring_setup",
        "open_by_handle_at",
        "init_module",
        "userfaultfd",
    } <= denied
    # What Chromium's namespace sandbox and its own seccomp filter are made with.
    assert not denied & {"clone", "clone3", "unshare", "chroot", "seccomp", "prctl", "setns"}
    assert all(rule["action"] == "SCMP_ACT_ERRNO" for rule in profile["syscalls"])


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
