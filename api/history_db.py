"""The API's way into the history database: one engine, a session per request, and the
database's failures said as a 503 that names what to set.

The engine is built from the settings at start (``testfleet.history.db``) but connects
only when a history or quarantine route is asked: the API serves runs without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session

from testfleet.errors import InfrastructureError
from testfleet.history import db
from testfleet.history.migrate import UPGRADE_COMMAND
from testfleet.settings import Settings


def _cause(exc: SQLAlchemyError) -> str:
    detail = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
    return detail.strip().splitlines()[0] if detail.strip() else type(exc).__name__


class HistoryDatabase:
    """The history database as the API's routes use it."""

    def __init__(self, settings: Settings) -> None:
        self._engine = db.engine(settings)
        self._sessions = db.sessions(self._engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction (committed when the block ends without an error). A database
        that does not answer, or has no schema yet, raises ``InfrastructureError`` (503)
        saying what to set or run."""
        where = db.describe(self._engine)
        try:
            with self._sessions.begin() as session:
                yield session
        except ProgrammingError as exc:
            raise InfrastructureError(
                f"the history database {where} has no history schema or an old one "
                f"({_cause(exc)}): run `{UPGRADE_COMMAND}` with the API's "
                "TESTFLEET_DATABASE__URL"
            ) from exc
        except SQLAlchemyError as exc:
            raise InfrastructureError(
                f"the history database {where} is not answering ({_cause(exc)}): set "
                "TESTFLEET_DATABASE__URL on the API to a PostgreSQL database migrated with "
                f"`{UPGRADE_COMMAND}` (a local fleet's own starts with `testfleet up`)"
            ) from exc

    def close(self) -> None:
        self._engine.dispose()
