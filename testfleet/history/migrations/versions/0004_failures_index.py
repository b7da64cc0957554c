"""indexes for the flaky list and a test's figures at scale

A partial index of failed and errored attempts (the flaky list starts from a window's
failures), and the (case_id, started_at) index made covering, so that a test's attempts
are read from the index alone. Built before the old index is dropped: while they build,
reads go on and archiving waits (``CREATE INDEX`` holds writes, seconds per million
attempts); the drop and the rename at the end hold the table only for their commit.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CASE_INDEX = "ix_attempts_case_id_started_at"
BUILDING = "ix_attempts_case_id_started_at_new"
FAILURES_INDEX = "ix_attempts_failures_project_started_at"
COVERED = ["run_id", "attempt", "last", "status", "duration_ms"]


def upgrade() -> None:
    op.create_index(
        FAILURES_INDEX,
        "attempts",
        ["project", "started_at"],
        unique=False,
        postgresql_include=["case_id"],
        postgresql_where=sa.text("status IN ('failed', 'error')"),
    )
    op.create_index(
        BUILDING, "attempts", ["case_id", "started_at"], unique=False, postgresql_include=COVERED
    )
    op.drop_index(CASE_INDEX, table_name="attempts")
    op.execute(f"ALTER INDEX {BUILDING} RENAME TO {CASE_INDEX}")


def downgrade() -> None:
    op.create_index(BUILDING, "attempts", ["case_id", "started_at"], unique=False)
    op.drop_index(CASE_INDEX, table_name="attempts")
    op.execute(f"ALTER INDEX {BUILDING} RENAME TO {CASE_INDEX}")
    op.drop_index(FAILURES_INDEX, table_name="attempts")
