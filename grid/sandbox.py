"""How the fleet's Chromium starts: sandboxed, under the fleet's URL policy, with
nothing of the fleet in its environment.

Sessions ask for ``--no-sandbox`` (``grid.chrome_args``: Chromium refuses to run as
root without it), and Chromium inherits its node's environment. So a Grid node names
a small wrapper as the browser binary instead of Chromium. The wrapper, run by
chromedriver:

1. drops ``--no-sandbox`` from the arguments (a root node: after handing the
   profile chromedriver made, ``--user-data-dir``, to ``security.browser_user``);
2. keeps only ``BROWSER_ENV`` of its environment: the node's secrets (the Grid's
   registration secret, a ``TESTFLEET_*`` password) would otherwise sit in the
   memory of every renderer, where a renderer bug reads them without leaving the
   sandbox;
3. enters a mount namespace of its own in which the fleet's policy tree is laid
   over Chromium's policy directory (``grid.policy``): the fleet's browsers run
   under the URL policy, every other Chromium of the machine does not. As root
   that is ``unshare --mount``; otherwise a user namespace makes the mount
   possible (``unshare --user --map-root-user``), and a second one maps the node's
   own user back, so Chromium does not see itself as root;
4. as root, ``setpriv``s to ``security.browser_user``; then starts Chromium, which
   sandboxes its renderers (user and PID namespaces, seccomp: measured on Chromium
   156, ``/proc/<renderer>/status`` shows ``Seccomp: 2`` and a nested ``NSpid``).

chromedriver still talks to it over the pipe it opened (file descriptors survive
``unshare`` and ``setpriv``) and deletes the profile at the end. The node's browser
``TMPDIR`` becomes world-writable and sticky, as ``/tmp`` is, for that user.

Where user namespaces are off, Chromium's sandbox cannot start: ``confinement``
says so in the log and leaves ``--no-sandbox`` in place; where the policy's mount
cannot be made, the node refuses to start and says what to set. The local provider
(``grid.provider.LocalProvider``) starts Chromium through the same wrapper, with
the policy's mount only. ``python -m grid.sandbox --print-node-wrapper`` prints the
wrapper the official ``selenium/node-chrome`` image runs in compose and Kubernetes
(sandbox and environment only: there the policy is mounted into the container).
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from grid.policy import PolicyOverlay
from testfleet import logs
from testfleet.errors import InfrastructureError
from testfleet.settings import Settings

log = logs.get_logger(__name__)

_PROBE_TIMEOUT_S = 10.0

BROWSER_ENV: tuple[str, ...] = ("HOME", "PATH", "TMPDIR", "LANG", "LANGUAGE", "LC_ALL", "TZ")
"""The only environment variables the wrapper passes to Chromium."""

NODE_IMAGE_CHROME = Path("/opt/google/chrome/google-chrome-base")
"""Google Chrome's own launcher in the official ``selenium/node-chrome`` image, which
moved it there to put a wrapper that adds ``--no-sandbox`` in its place
(``/opt/google/chrome/google-chrome``); compose and Kubernetes mount ours over that."""

_MOUNT_POLICY = (
    'mount -t overlay testfleet-policy -o "ro,lowerdir=$1:$2" "$2" && shift 2 && exec "$@"'
)
"""Run by ``sh -c`` in the wrapper's mount namespace: $1 the fleet's policy tree,
$2 the directory it is laid over, then the command to run under it."""


@dataclass(frozen=True)
class BrowserUser:
    """Who the node's Chromium runs as."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class Wrapper:
    """What the wrapper script does before it starts ``chromium``."""

    chromium: Path
    sandboxed: bool
    """Drop ``--no-sandbox`` and keep only ``BROWSER_ENV``."""
    user: BrowserUser | None = None
    """Switch to this user (a root node)."""
    overlay: PolicyOverlay | None = None
    """Lay the fleet's policy over Chromium's in a mount namespace of the browser's own."""
    unprivileged: bool = False
    """Make that mount namespace through a user namespace (not root)."""


def browser_user(settings: Settings) -> BrowserUser | None:
    """The user a root node runs Chromium as, or None (not root, no such user,
    ``security.browser_user`` empty)."""
    name = settings.security.browser_user
    if not name or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return BrowserUser(name, entry.pw_uid, entry.pw_gid)


def wrapper_path(settings: Settings, name: str) -> Path:
    return settings.paths.state_dir / "grid" / name


def wrapper_text(wrapper: Wrapper) -> str:
    """The wrapper script (see the module docstring)."""
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        "# Written by testfleet (grid/sandbox.py): the fleet's Chromium, sandboxed, under",
        "# the fleet's URL policy, without the node's environment.",
        "set -eu",
        "for arg do",
        "  shift",
        '  case "$arg" in',
    ]
    if wrapper.sandboxed:
        lines.append("    --no-sandbox) ;;")
    if wrapper.user is not None:
        ids = f"{wrapper.user.uid}:{wrapper.user.gid}"
        profile = '"${arg#--user-data-dir=}"'
        lines.append(f'    --user-data-dir=*) chown -R {ids} {profile}; set -- "$@" "$arg" ;;')
    lines += ['    *) set -- "$@" "$arg" ;;', "  esac", "done"]
    if wrapper.sandboxed:
        lines += [
            "keep=()",
            f"for name in {' '.join(BROWSER_ENV)}; do",
            '  if [ -n "${!name+x}" ]; then keep+=("$name=${!name}"); fi',
            "done",
            f'set -- env -i "${{keep[@]}}" {q(str(wrapper.chromium))} "$@"',
        ]
    else:
        lines.append(f'set -- {q(str(wrapper.chromium))} "$@"')
    if wrapper.user is not None:
        user = wrapper.user
        lines.append(f'set -- setpriv --reuid={user.uid} --regid={user.gid} --clear-groups -- "$@"')
    overlay = wrapper.overlay
    if overlay is None:
        lines.append('exec "$@"')
        return "\n".join([*lines, ""])
    namespaces = "--mount --propagation private"
    if wrapper.unprivileged:
        # Inside the first user namespace this user is root (the mount needs it); the
        # second maps it back, so Chromium sees its own uid and keeps its sandbox.
        lines.append(
            f'set -- unshare --user --map-user={os.getuid()} --map-group={os.getgid()} -- "$@"'
        )
        namespaces = f"--user --map-root-user {namespaces}"
    lines.append(
        f"exec unshare {namespaces} -- /bin/sh -c {q(_MOUNT_POLICY)} mount-policy "
        f'{q(str(overlay.lower))} {q(str(overlay.target))} "$@"'
    )
    return "\n".join([*lines, ""])


def confinement(
    settings: Settings, browser_tmp: Path, overlay: PolicyOverlay | None = None
) -> Path | None:
    """Prepare the node's Chromium (see the module docstring); returns the wrapper to
    name as the browser binary, or None to run Chromium as it is.

    Writes the wrapper, opens ``browser_tmp`` to the browser's user, and checks that
    Chromium's sandbox can start (logs why not when it cannot). Raises
    ``InfrastructureError`` when ``overlay`` is given and its mount cannot be made.
    """
    root = os.geteuid() == 0
    user = browser_user(settings)
    sandboxed = _sandbox_possible(user) if user is not None or not root else False
    if not sandboxed:
        log.warning(
            "Chromium runs as %s without its sandbox: user namespaces are not available "
            "to %s (or setpriv is missing, or security.browser_user does not exist)",
            _whoami(),
            user.name if user is not None else _whoami(),
        )
        user = None
    wrapper = Wrapper(
        settings.grid.chromium_binary, sandboxed, user, overlay, unprivileged=not root
    )
    if not sandboxed and overlay is None:
        return None
    path = _write(
        wrapper_path(settings, f"chromium-as-{user.name if user else _whoami()}"), wrapper
    )
    if overlay is not None:
        _check_mount(wrapper)
    if user is not None:
        browser_tmp.mkdir(parents=True, exist_ok=True)
        browser_tmp.chmod(0o1777)
    return path


def local_browser(settings: Settings, overlay: PolicyOverlay | None) -> Path:
    """The browser binary the local provider names: Chromium itself, or with ``overlay``
    a wrapper that starts it under the fleet's policy (its sandbox and user as they
    were: the local provider is for development, on the developer's own account)."""
    if overlay is None:
        return settings.grid.chromium_binary
    wrapper = Wrapper(
        settings.grid.chromium_binary,
        sandboxed=False,
        overlay=overlay,
        unprivileged=os.geteuid() != 0,
    )
    path = _write(wrapper_path(settings, f"chromium-local-{_whoami()}"), wrapper)
    _check_mount(wrapper)
    return path


def node_image_wrapper_text() -> str:
    """The wrapper compose and Kubernetes mount over the official node image's own."""
    return wrapper_text(Wrapper(NODE_IMAGE_CHROME, sandboxed=True))


def _write(path: Path, wrapper: Wrapper) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(wrapper_text(wrapper), encoding="utf-8")
    tmp.chmod(0o755)
    tmp.replace(path)
    return path


def _check_mount(wrapper: Wrapper) -> None:
    """Run the wrapper once with ``true`` for Chromium: the policy's mount (and the
    switch of user) must work before any session depends on it."""
    probe = replace(wrapper, chromium=Path(shutil.which("true") or "/bin/true"))
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as script:
        script.write(wrapper_text(probe))
    try:
        os.chmod(script.name, 0o700)
        done = subprocess.run(
            [script.name], capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = str(exc)
    else:
        if done.returncode == 0:
            return
        reason = done.stderr.strip() or f"exit status {done.returncode}"
    finally:
        os.unlink(script.name)
    raise InfrastructureError(
        "cannot give the fleet's Chromium its URL policy in a mount namespace of its own "
        f"({reason}): it needs unshare, mount and overlayfs (as a non-root user, user "
        "namespaces and Linux 5.11+). On a node dedicated to the fleet, set "
        "TESTFLEET_SECURITY__CHROMIUM_POLICY_MACHINE_WIDE=true to install the policy for "
        "every Chromium of the machine instead (as root), or "
        "TESTFLEET_SECURITY__REQUIRE_CHROMIUM_POLICY=false to run without it"
    )


def _sandbox_possible(user: BrowserUser | None) -> bool:
    """Whether ``user`` (None: this process's) can make the namespaces Chromium's
    sandbox needs."""
    probe = ["unshare", "--user", "--pid", "--fork", "true"]
    if user is not None:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            return False
        switch = [setpriv, f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups"]
        probe = [*switch, "--", *probe]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=_PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _whoami() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def main(argv: list[str]) -> int:
    """``python -m grid.sandbox --print-node-wrapper``: print the official node image's
    wrapper (``deploy/chrome-node/google-chrome`` is that)."""
    if argv != ["--print-node-wrapper"]:
        print("usage: python -m grid.sandbox --print-node-wrapper", file=sys.stderr)
        return 2
    print(node_image_wrapper_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
