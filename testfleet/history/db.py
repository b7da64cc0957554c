"""The history database's engine and sessions: one engine per process, built from the
settings, and a session per unit of work."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from testfleet.history.local import database_url
from testfleet.settings import Settings


def engine(settings: Settings) -> Engine:
    """An engine on ``database.url`` (the local cluster's when empty). Connections are
    checked before use (``pool_pre_ping``): after a database restart the first query
    reconnects instead of failing on a dead connection."""
    url = make_url(database_url(settings))
    return create_engine(
        url,
        pool_size=settings.database.pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": settings.database.connect_timeout_s},
    )


def sessions(bound: Engine) -> sessionmaker[Session]:
    """Sessions on ``bound`` (``with sessions(e).begin() as s:`` is one transaction)."""
    return sessionmaker(bound, expire_on_commit=False)


def describe(bound: Engine) -> str:
    """The database's URL without its password, for messages and logs."""
    return bound.url.render_as_string(hide_password=True)
