"""History tests run on the session's private PostgreSQL cluster (``tests.fixtures_postgres``).

Two ways to hold a database: a module whose tests talk to the API shares one
(``history_url``, in ``settings``) and empties it per test; the others take one of each
test's own (``database_url``), migrated by ``engine``.
"""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from cli.archiver import Archiver
from testfleet.history import db, migrate
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.fixtures_postgres import database_url, history_url, postgres  # noqa: F401 (fixtures)
from tests.fixtures_redis_api import serving_api
from tests.ports import held_port


@pytest.fixture(scope="module")
def settings(
    redis_url: str,
    history_url: str,  # noqa: F811 (the fixture above)
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """An API's: the session's Redis, the module's history database, a port of its own.
    Modules whose tests each have a database of their own override it."""
    return Settings(
        redis={"url": redis_url},
        database={"url": history_url},
        api={"port": held_port()},
        paths={"state_dir": tmp_path_factory.mktemp("state")},
    )


@pytest.fixture(scope="module")
def api_url(settings: Settings) -> Iterator[str]:
    """The API of ``settings``, served for the module."""
    with serving_api(settings) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:  # noqa: F811 (the fixture above)
    """The test's own history database, migrated to the newest revision."""
    bound = db.engine(Settings(database={"url": database_url}))
    migrate.upgrade(bound)
    yield bound
    bound.dispose()


@pytest.fixture
def archiver(settings: Settings, store: RunStore, engine: Engine) -> Archiver:
    """The archiver of ``settings`` writing into ``engine``, its consumer group made."""
    archiver = Archiver(settings, store, db.sessions(engine), name="a1")
    archiver.ensure_group()
    return archiver
