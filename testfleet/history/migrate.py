"""Schema migrations (Alembic scripts in ``migrations/``, shipped as package data), run
programmatically: ``testfleet db upgrade`` and ``testfleet up`` call ``upgrade``; the API
and the archiver call ``require_current`` when they start."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from testfleet import logs
from testfleet.errors import InfrastructureError
from testfleet.history import db
from testfleet.history.db import describe
from testfleet.settings import Settings

UPGRADE_COMMAND = "testfleet db upgrade"


def _config(bound: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("testfleet.history") / "migrations"))
    if bound is not None:
        config.attributes["engine"] = bound
    return config


def head() -> str:
    """The newest revision the code knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:
        raise AssertionError("testfleet/history/migrations has no revision")
    return revision


def current(bound: Engine) -> str | None:
    """The database's revision (None: no schema yet)."""
    with bound.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(bound: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (the newest by default); a no-op when there."""
    command.upgrade(_config(bound), revision)


def downgrade(bound: Engine, revision: str) -> None:
    """Migrate the database back to ``revision`` (every migration has its way back)."""
    command.downgrade(_config(bound), revision)


def schema_is_current(bound: Engine) -> bool:
    """True when the database is at the code's newest revision."""
    return current(bound) == head()


def require_current(bound: Engine) -> None:
    """Raise ``InfrastructureError`` naming ``testfleet db upgrade`` unless the database's
    schema is the code's (a process must not write history into an old schema)."""
    found = current(bound)
    if found != head():
        raise InfrastructureError(
            f"the history database {describe(bound)} is at schema revision "
            f"{found or 'none (empty)'}, this testfleet needs {head()}: run "
            f"`{UPGRADE_COMMAND}` (with the same TESTFLEET_DATABASE__URL), then start again"
        )


def refuse_old_schema(settings: Settings) -> None:
    """At a process's start: raise ``InfrastructureError`` naming ``testfleet db upgrade``
    when the history database answers with an old schema. A database that does not answer
    is only logged (what needs history waits for it; runs go on without it)."""
    bound = db.engine(settings)
    try:
        require_current(bound)
    except SQLAlchemyError as exc:
        logs.get_logger(__name__).warning(
            "the history database %s is not answering (%s): history is unavailable until it is",
            describe(bound),
            exc,
        )
    finally:
        bound.dispose()
