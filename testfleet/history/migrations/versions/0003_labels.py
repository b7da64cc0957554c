"""failure labels

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "failure_labels",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("run_case", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("labels", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("error_signature", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_failure_labels_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.run_id"],
            name=op.f("fk_failure_labels_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "run_case", name=op.f("pk_failure_labels")),
    )
    op.create_index(op.f("ix_failure_labels_case_id"), "failure_labels", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_failure_labels_case_id"), table_name="failure_labels")
    op.drop_table("failure_labels")
