"""The managed Chromium policy a Grid node's browsers run under.

Chromium reads managed policies from a machine-wide directory
(``/etc/chromium/policies/managed`` for Debian's chromium,
``/etc/opt/chrome/policies/managed`` for Google Chrome in the official
``selenium/node-chrome`` image). ``URLBlocklist`` there makes the browser itself
refuse to open local files, browser-internal pages and source views, whoever asks:
a ``navigate`` step, a link, a script, a redirect.

What it does not do (measured on Chromium 156): block ``fetch()``, XHR, images or
WebSockets. ``URLBlocklist`` is checked for navigations (top-level and frames)
only, so the hosts a browser may reach are the egress proxy's business
(``grid.egress``), not this file's. The file holds nothing fleet-specific and is
the same on every machine: ``make setup`` installs it (as root), and ``testfleet
grid node|standalone`` installs it when run as root and it is missing, or else
refuses to start with the command that installs it. ``grid/chromium_policy.json``
holds the same text for compose to mount into the official node image.

``data:`` is left out on purpose: Chromium already refuses a page's attempts to
open a ``data:`` document at the top level (script, redirect, link), and
chromedriver opens every session on ``data:,``. The loader and the executor
refuse ``data:`` targets of ``navigate``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from testfleet.errors import InfrastructureError
from testfleet.settings import Settings

FILE_NAME = "testfleet.json"

POLICY: dict[str, Any] = {
    "URLBlocklist": [
        "file://*",
        # Not chrome://*: headless Chromium draws alert() and confirm() with its own
        # chrome:// pages, which the block breaks (every command hangs while a dialog
        # is open; measured on 156). Pages cannot open chrome:// URLs anyway (Chromium
        # refuses "local resources" to web content); only the driver could, and the
        # loader and the executor refuse such navigate targets.
        "chrome-untrusted://*",
        "chrome-search://*",
        "devtools://*",
        "view-source:*",
        "javascript://*",
        "filesystem:*",
        # Cloud metadata services, by name and address (the egress proxy refuses
        # every link-local address; these also hold where no proxy is configured).
        "169.254.169.254",
        "[fd00:ec2::254]",
        "metadata.google.internal",
    ],
    # WebRTC may otherwise send UDP to any address, past the egress proxy.
    "WebRtcIPHandling": "disable_non_proxied_udp",
}
"""The policy, as Chromium reads it."""


def policy_text() -> str:
    return json.dumps(POLICY, indent=2) + "\n"


def policy_file(directory: Path) -> Path:
    return directory / FILE_NAME


def install(directory: Path) -> Path:
    """Write the policy into ``directory`` (created), readable by everyone; returns the file.

    Raises ``PermissionError`` when this process may not write there (not root).
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = policy_file(directory)
    tmp = path.with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(policy_text(), encoding="utf-8")
    tmp.chmod(0o644)
    tmp.replace(path)
    return path


def ensure_installed(settings: Settings) -> Path | None:
    """Make sure the node's Chromium runs under the policy (see the module docstring).

    Returns the policy file, or None when ``security.require_chromium_policy`` is
    off. Installs it when missing or outdated and this process may; otherwise
    raises ``InfrastructureError`` saying how to install it.
    """
    security = settings.security
    if not security.require_chromium_policy:
        return None
    path = policy_file(security.chromium_policy_dir)
    try:
        if path.read_text(encoding="utf-8") == policy_text():
            return path
    except OSError:
        pass
    try:
        return install(security.chromium_policy_dir)
    except OSError as exc:
        raise InfrastructureError(
            f"the browsers' URL policy is not installed at {path} and this user cannot "
            f"write it ({exc.strerror or exc}): run `sudo {sys.executable} -m grid.policy "
            f"{security.chromium_policy_dir}` (or `make setup` as root), or set "
            "TESTFLEET_SECURITY__REQUIRE_CHROMIUM_POLICY=false to run without it (local "
            "files are then refused by the loader and the executor only)"
        ) from exc


def main(argv: list[str]) -> int:
    """``python -m grid.policy [DIR]``: install the policy (default: Debian chromium's dir);
    ``--print``: print it (``grid/chromium_policy.json``, what compose mounts, is that)."""
    if argv == ["--print"]:
        print(policy_text(), end="")
        return 0
    directory = Path(argv[0]) if argv else Settings().security.chromium_policy_dir
    try:
        path = install(directory)
    except OSError as exc:
        print(f"cannot install the Chromium policy into {directory}: {exc}", file=sys.stderr)
        return 1
    print(f"installed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
