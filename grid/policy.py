"""The managed Chromium policy the fleet's browsers run under, and only they.

Chromium reads managed policies from a machine-wide directory
(``/etc/chromium/policies/managed`` for Debian's chromium,
``/etc/opt/chrome/policies/managed`` for Google Chrome in the official
``selenium/node-chrome`` image). ``URLBlocklist`` there makes the browser itself
refuse to open local files, browser-internal pages and source views, whoever asks:
a ``navigate`` step, a link, a script, a redirect.

What it does not do (measured on Chromium 156): block ``fetch()``, XHR, images or
WebSockets. ``URLBlocklist`` is checked for navigations (top-level and frames)
only, so the hosts a browser may reach are the egress proxy's business
(``grid.egress``), not this file's.

Scope. A file in that directory would bind every Chromium of the machine (a
developer's own, any other tool's), so the fleet writes none there: it keeps the
policy in a directory of its own (``overlay_dir``) and its browsers start through a
wrapper (``grid.sandbox``) that, in a mount namespace of their own, lays that
directory over Chromium's (a read-only overlayfs of the two), so only they see it.
``chromium_policy_machine_wide`` installs it machine-wide instead, for dedicated
nodes where namespaces are not available. Compose and Kubernetes mount
``grid/chromium_policy.json`` (the same text) into the node container, which only
the node's browser reads.

``data:`` is left out on purpose: Chromium already refuses a page's attempts to
open a ``data:`` document at the top level (script, redirect, link), and
chromedriver opens every session on ``data:,``. The loader and the executor
refuse ``data:`` targets of ``navigate``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PolicyOverlay:
    """The fleet's policy tree (``lower``) and the directory of this machine it is laid
    over in the browser's mount namespace (``target``): ``lower`` holds the policy at the
    same place below it as Chromium's policy directory sits below ``target``."""

    lower: Path
    target: Path


def overlay_dir(settings: Settings) -> Path:
    """The fleet's own policy tree (``<state_dir>/grid/chromium-policy``)."""
    return settings.paths.state_dir / "grid" / "chromium-policy"


def prepare_overlay(settings: Settings) -> PolicyOverlay:
    """Write the policy into the fleet's own tree and say where the browser's mount
    namespace lays it: over Chromium's policy directory, or over its nearest ancestor
    that exists (Debian's chromium ships ``/etc/chromium`` but no ``policies/``), as a
    mount point must exist and the fleet creates nothing outside its own directories."""
    policy_dir = settings.security.chromium_policy_dir
    if not policy_dir.is_absolute():
        raise InfrastructureError(
            f"TESTFLEET_SECURITY__CHROMIUM_POLICY_DIR must be an absolute path, not {policy_dir}"
        )
    target = policy_dir
    while not target.is_dir():
        target = target.parent
    if len(target.parts) < 3:
        # Laid over /etc (or /), the overlay would also hide whatever is mounted below it
        # (a container's /etc/hosts and resolv.conf) from the browser.
        raise InfrastructureError(
            f"Chromium's policy directory {policy_dir} has no parent below {target} on this "
            f"machine: create {policy_dir.parent.parent} (empty, as root; Debian's chromium "
            "package ships /etc/chromium) or set TESTFLEET_SECURITY__CHROMIUM_POLICY_DIR"
        )
    lower = overlay_dir(settings)
    for path in (lower, target):
        # overlayfs separates its options with "," and lower directories with ":".
        if any(c in str(path) for c in ",:\\"):
            raise InfrastructureError(
                f"{path} cannot be an overlay directory (it has ',', ':' or a backslash): "
                "set TESTFLEET_PATHS__STATE_DIR to a plainer path"
            )
    inner = lower / policy_dir.relative_to(target)
    install(inner)
    # The browser's user reads the tree through the overlay with its own permissions.
    directory = inner
    while True:
        directory.chmod(0o755)
        if directory == lower:
            break
        directory = directory.parent
    return PolicyOverlay(lower, target)


def ensure_installed(settings: Settings) -> PolicyOverlay | Path | None:
    """Make sure the fleet's Chromium runs under the policy (see the module docstring).

    Returns the overlay the browser wrapper mounts (the default), the machine-wide
    file (``security.chromium_policy_machine_wide``), or None when
    ``security.require_chromium_policy`` is off. Machine-wide, it installs the file when
    missing or outdated and this process may; otherwise raises ``InfrastructureError``
    saying how to install it.
    """
    security = settings.security
    if not security.require_chromium_policy:
        return None
    if not security.chromium_policy_machine_wide:
        return prepare_overlay(settings)
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
            f"{security.chromium_policy_dir}` (or `make setup` as root), set "
            "TESTFLEET_SECURITY__CHROMIUM_POLICY_MACHINE_WIDE=false to give it to the "
            "fleet's browsers only, or TESTFLEET_SECURITY__REQUIRE_CHROMIUM_POLICY=false "
            "to run without it (local files are then refused by the loader and the "
            "executor only)"
        ) from exc


def main(argv: list[str]) -> int:
    """``python -m grid.policy DIR``: install the policy into DIR (machine-wide, for a
    dedicated node: see ``chromium_policy_machine_wide``); ``--print``: print it
    (``grid/chromium_policy.json``, what compose mounts, is that)."""
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
