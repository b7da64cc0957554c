"""Chromium on a root Grid node runs as an unprivileged user, inside its own sandbox.

Chromium refuses to run as root unless told ``--no-sandbox``, which every session
sends (``grid.chrome_args``): as root, with no sandbox, a page that exploits the
renderer owns the node. So when the node runs as root and ``security.browser_user``
exists (``make setup`` creates ``testfleet-browser``), its stereotype names a
small wrapper as the browser binary instead of Chromium. The wrapper, run by
chromedriver as root:

1. hands the profile chromedriver made (``--user-data-dir``) to that user,
2. drops ``--no-sandbox`` from the arguments,
3. ``setpriv``s to the user and starts Chromium, which then sandboxes its
   renderers (user and PID namespaces, seccomp: measured on Chromium 156,
   ``/proc/<renderer>/status`` shows ``Seccomp: 2`` and a nested ``NSpid``).

chromedriver still talks to it over the pipe it opened (file descriptors survive
``setpriv``) and deletes the profile at the end as root. The node's browser
``TMPDIR`` becomes world-writable and sticky, as ``/tmp`` is, for that user.

Where user namespaces are off (``unshare -U`` fails as that user) Chromium's
sandbox cannot start: ``confinement`` says so and the node runs Chromium as
itself, as before; a node that does not run as root leaves Chromium alone.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from testfleet import logs
from testfleet.settings import Settings

log = logs.get_logger(__name__)

_PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class BrowserUser:
    """Who the node's Chromium runs as."""

    name: str
    uid: int
    gid: int


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


def wrapper_path(settings: Settings, user: BrowserUser) -> Path:
    return settings.paths.state_dir / "grid" / f"chromium-as-{user.name}"


def wrapper_text(chromium: Path, user: BrowserUser) -> str:
    """The wrapper script (see the module docstring)."""
    ids = f"{user.uid}:{user.gid}"
    return "\n".join([
        "#!/bin/sh",
        "# Written by testfleet (grid/sandbox.py): Chromium as an unprivileged user,",
        "# with its sandbox. Regenerated on every start of the Grid node.",
        "set -eu",
        "for arg do",
        "  shift",
        '  case "$arg" in',
        "    --no-sandbox) ;;",
        f'    --user-data-dir=*) chown -R {ids} "${{arg#--user-data-dir=}}"; set -- "$@" "$arg" ;;',
        '    *) set -- "$@" "$arg" ;;',
        "  esac",
        "done",
        f"exec setpriv --reuid={user.uid} --regid={user.gid} --clear-groups -- "
        f'{shlex.quote(str(chromium))} "$@"',
        "",
    ])  # fmt: skip


def confinement(settings: Settings, browser_tmp: Path) -> Path | None:
    """Prepare the node's Chromium to run as ``security.browser_user``; returns the
    wrapper to name as the browser binary, or None to run Chromium as the node does.

    Writes the wrapper, opens ``browser_tmp`` to the user, and checks that the user
    can make the namespaces Chromium's sandbox needs (logs why not when it cannot).
    """
    user = browser_user(settings)
    if user is None:
        return None
    setpriv = shutil.which("setpriv")
    if setpriv is None or not _sandbox_possible(setpriv, user):
        log.warning(
            "Chromium runs as %s without its sandbox: user namespaces are not available "
            "to %s (or setpriv is missing)",
            _whoami(),
            user.name,
        )
        return None
    path = wrapper_path(settings, user)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(wrapper_text(settings.grid.chromium_binary, user), encoding="utf-8")
    tmp.chmod(0o755)
    tmp.replace(path)
    browser_tmp.mkdir(parents=True, exist_ok=True)
    browser_tmp.chmod(0o1777)
    return path


def _sandbox_possible(setpriv: str, user: BrowserUser) -> bool:
    probe = [setpriv, f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups",
             "--", "unshare", "--user", "--pid", "--fork", "true"]  # fmt: skip
    try:
        done = subprocess.run(probe, capture_output=True, timeout=_PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _whoami() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name
