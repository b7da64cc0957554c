"""The local fleet's private cluster as ``testfleet up`` starts it: initdb once, the
server on a Unix socket of its own, the database migrated; stopped as ``down`` stops it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import text

from cli import fleet
from cli.postgres import Cluster
from testfleet.history import db, local, migrate
from testfleet.settings import Settings

pytestmark = [
    pytest.mark.postgres,
    # The launcher detaches what it starts (``down`` reaps it by pid, not via Popen).
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(paths={"state_dir": tmp_path / "state"}, database={"url": ""})
    yield settings
    shutil.rmtree(local.cluster_dir(settings), ignore_errors=True)


def test_up_starts_the_private_cluster_migrated_and_down_stops_it(settings: Settings) -> None:
    launcher = fleet.Launcher(settings)
    try:
        url = fleet._start_database(settings, launcher)
        assert f"host={local.socket_dir(settings)}&" in unquote(url)
        bound = db.engine(settings)
        assert migrate.schema_is_current(bound)
        with bound.connect() as conn:  # no TCP: the socket only
            assert conn.scalar(text("SHOW listen_addresses")) == ""
        bound.dispose()
    finally:
        fleet._stop(launcher.started, say=lambda _m: None)
    assert not Cluster.of_fleet(settings).ready()

    again = fleet.Launcher(settings)  # a second `up` reuses the cluster (no initdb)
    try:
        assert not Cluster.of_fleet(settings).initialise()
        fleet._start_database(settings, again)
        bound = db.engine(settings)
        assert migrate.schema_is_current(bound)
        bound.dispose()
    finally:
        fleet._stop(again.started, say=lambda _m: None)
