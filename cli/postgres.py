"""A private PostgreSQL cluster in a directory of its own: what ``testfleet up`` starts
for the history database (``testfleet.history.local`` says where), and what the tests'
fixture starts.

``initdb`` runs once (the directory keeps the cluster across ``up`` / ``down``); the
server listens on a Unix socket only (``listen_addresses=''``) in a directory only the
cluster's user can enter; authentication is ``trust`` for that socket alone. As root it
runs as ``testfleet.history.local.ROOT_RUN_AS`` (PostgreSQL refuses root). Debian's
binaries live in ``/usr/lib/postgresql/<major>/bin``, off ``PATH``: the newest is used.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from testfleet.errors import InfrastructureError
from testfleet.history import local
from testfleet.settings import Settings

DEBIAN_ROOT = Path("/usr/lib/postgresql")
SOCKET_PATH_MAX_BYTES = 107
"""Longest Unix socket path Linux accepts (``sun_path`` less its terminating NUL)."""


def binary(name: str) -> Path:
    """A PostgreSQL server program (``initdb``, ``postgres``): on ``PATH``, else Debian's
    newest ``/usr/lib/postgresql/<major>/bin``."""
    found = shutil.which(name)
    if found:
        return Path(found)
    majors = sorted(
        (p for p in DEBIAN_ROOT.glob("*/bin") if (p / name).is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not majors:
        raise InfrastructureError(
            f"PostgreSQL's {name} is not installed: run `make setup` (Debian's postgresql), "
            "or point the fleet at a database with TESTFLEET_DATABASE__URL"
        )
    return majors[-1] / name


@dataclass(frozen=True)
class Cluster:
    """A cluster in ``root`` (``data/``, ``socket/``), run by ``user`` (None: this process's)."""

    root: Path
    port: int
    user: str | None = None

    @classmethod
    def of_fleet(cls, settings: Settings) -> Cluster:
        """The local fleet's cluster."""
        return cls(local.cluster_dir(settings), settings.database.port, local.run_as())

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket(self) -> Path:
        return self.root / "socket"

    def initialise(self) -> bool:
        """``initdb`` unless the cluster exists; True when it created it."""
        if (self.data / "PG_VERSION").is_file():
            return False
        for path in (self.root, self.data, self.socket):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.user is not None:
                entry = pwd.getpwnam(self.user)
                os.chown(path, entry.pw_uid, entry.pw_gid)
        cmd = [str(binary("initdb")), "-D", str(self.data), "-U", local.DATABASE]
        cmd += ["--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, user=self.user)
        if done.returncode != 0:
            raise InfrastructureError(
                f"initdb of the history database in {self.data} failed: {done.stderr.strip()}; "
                f"remove {self.root} to start afresh"
            )
        return True

    def _check_socket_path(self) -> None:
        path = self.socket / f".s.PGSQL.{self.port}"
        if len(str(path).encode()) > SOCKET_PATH_MAX_BYTES:
            raise InfrastructureError(
                f"the history database's socket {path} is longer than a Unix socket path may "
                f"be ({SOCKET_PATH_MAX_BYTES} bytes): choose a shorter TESTFLEET_PATHS__STATE_DIR, "
                "or point the fleet at a database with TESTFLEET_DATABASE__URL"
            )

    def command(self) -> list[str]:
        """The server in the foreground, on the socket only; to be run as ``user`` (the
        caller starts it so: ``Popen(user=...)``, no wrapper between the server and the
        signals that stop it)."""
        self._check_socket_path()
        cmd = [str(binary("postgres")), "-D", str(self.data), "-p", str(self.port)]
        cmd += [
            "-k",
            str(self.socket),
            "-c",
            "listen_addresses=",
            "-c",
            "unix_socket_permissions=0700",
        ]
        return cmd

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.socket} port={self.port} user={local.DATABASE} dbname={dbname}"

    def url(self, dbname: str = local.DATABASE) -> str:
        """SQLAlchemy URL of ``dbname`` in this cluster."""
        return (
            f"postgresql+psycopg://{local.DATABASE}@/{dbname}?host={self.socket}&port={self.port}"
        )

    def ready(self) -> bool:
        """True when the server accepts a connection."""
        try:
            with psycopg.connect(self.conninfo(), connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def create_database(self, dbname: str = local.DATABASE) -> bool:
        """Create ``dbname`` unless it exists; True when it created it."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            if found.fetchone():
                return False
            conn.execute(f'CREATE DATABASE "{dbname}"')
            return True
