"""Alembic's environment: migrations run on the engine ``testfleet.history.migrate`` passes
(no ``alembic.ini``, no URL read here)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from testfleet.history.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through testfleet.history.migrate (testfleet db upgrade)")
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    context.run_migrations()
