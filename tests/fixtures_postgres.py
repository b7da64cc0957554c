"""A private PostgreSQL cluster for the test session, and a database of its own per test.

The cluster (``cli.postgres.Cluster``: initdb into a temporary directory, a Unix socket
only, as the ``postgres`` user under root) is started once per session; ``PgServer`` can
stop, kill and start it again (chaos tests). Never the machine's own cluster or port.
A module whose tests share one migrated history database takes ``history_url`` and
empties it per test with ``emptied_history``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text

from cli.postgres import Cluster
from testfleet.history import migrate
from testfleet.history.local import run_as
from tests.waiting import wait_until

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
SOCKET_PORT = 6401
"""Names the socket file in the cluster's own directory: no TCP port is opened."""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class PgServer:
    """The session's cluster, with its server process (restartable)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.process: subprocess.Popen[bytes] | None = None
        self.log = cluster.root / "server.log"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.cluster.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=self.cluster.user,
            )
        process = self.process
        wait_until(
            f"PostgreSQL in {self.cluster.root} to accept connections (log {self.log})",
            lambda: process.poll() is None and self.cluster.ready(),
            START_TIMEOUT_S,
        )

    def stop(self, kill: bool = False) -> None:
        """Stop the server: a fast shutdown (SIGINT), or SIGKILL of its postmaster alone
        (as a crash would); returns once every process of the cluster is gone."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.send_signal(signal.SIGKILL if kill else signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # Backends outlive a killed postmaster for a moment; a new one refuses to start
        # while they hold the old shared memory. They share its process group.
        wait_until(
            "the cluster's processes to exit", lambda: not _group_alive(process.pid), STOP_TIMEOUT_S
        )

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.cluster.create_database(name)
        return self.cluster.url(name)

    def drop_database(self, url: str) -> None:
        name = url.split("/", 3)[3].split("?", 1)[0]
        with psycopg.connect(self.cluster.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PgServer]:
    """A fresh cluster for the ``with`` block, always stopped and removed."""
    root = Path(tempfile.mkdtemp(prefix="testfleet-pg-"))
    server = PgServer(Cluster(root, SOCKET_PORT, run_as()))
    try:
        server.cluster.initialise()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """The session's PostgreSQL cluster."""
    with postgres_cluster() as server:
        yield server


@pytest.fixture
def database_url(postgres: PgServer) -> Iterator[str]:
    """An empty database of this test's own (dropped after it)."""
    url = postgres.create_database()
    yield url
    if postgres.process is not None:
        postgres.drop_database(url)


@pytest.fixture(scope="module")
def history_url(postgres: PgServer) -> Iterator[str]:
    """A history database of the module's own, migrated to the newest revision once (its
    tests share it: ``emptied_history`` gives each an empty one)."""
    url = postgres.create_database()
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    if postgres.process is not None:
        postgres.drop_database(url)


@contextlib.contextmanager
def emptied_history(url: str) -> Iterator[Engine]:
    """An engine on the migrated history database ``url``, emptied of every run first
    (what earlier tests of the module archived would change what this one reads)."""
    bound = create_engine(url)
    with bound.begin() as conn:
        conn.execute(text("TRUNCATE runs, cases, attempts, quarantine CASCADE"))
    try:
        yield bound
    finally:
        bound.dispose()
