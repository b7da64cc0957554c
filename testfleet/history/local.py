"""Where the local fleet's private PostgreSQL cluster lives, and its URL.

``testfleet up`` starts it (``cli.postgres``) unless ``database.url`` names another
database. It listens on a Unix socket in a directory only its owner can enter, never
on TCP: no other user of the machine reaches it and no port can be taken.
PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres``
user, in a directory of its own under ``/var/tmp`` (a root's state directory, under
``/root``, is closed to that user).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from testfleet.settings import Settings

DATABASE = "testfleet"
"""The local cluster's database, and its superuser's name."""
ROOT_RUN_AS = "postgres"
"""The user the cluster runs as when the fleet runs as root."""


def run_as() -> str | None:
    """The user the local cluster runs as: None for this process's own, else ``ROOT_RUN_AS``."""
    return ROOT_RUN_AS if os.geteuid() == 0 else None


def cluster_dir(settings: Settings) -> Path:
    """The local cluster's directory (``data/`` and ``socket/`` inside)."""
    if run_as() is None:
        return settings.paths.state_dir / "postgres"
    state = str(settings.paths.state_dir.resolve()).encode()
    return Path("/var/tmp") / f"testfleet-postgres-{hashlib.sha256(state).hexdigest()[:12]}"


def socket_dir(settings: Settings) -> Path:
    return cluster_dir(settings) / "socket"


def local_url(settings: Settings) -> str:
    """The SQLAlchemy URL of the local cluster's database."""
    return (
        f"postgresql+psycopg://{DATABASE}@/{DATABASE}"
        f"?host={socket_dir(settings)}&port={settings.database.port}"
    )


def database_url(settings: Settings) -> str:
    """``database.url``, or the local cluster's when it is empty."""
    return settings.database.url or local_url(settings)
