"""runs, cases and attempts

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("suite", sa.Text(), nullable=False),
        sa.Column("test", sa.Text(), nullable=False),
        sa.Column("data_row", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint(
            "project",
            "suite",
            "test",
            "data_row",
            name=op.f("uq_cases_project_suite_test_data_row"),
        ),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("branch", sa.Text(), nullable=True),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("pull_request", sa.Text(), nullable=True),
        sa.Column("ci_provider", sa.String(length=40), nullable=True),
        sa.Column("build_url", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.Text(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "archived_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
    )
    op.create_index(
        op.f("ix_runs_project_branch_finished_at"),
        "runs",
        ["project", "branch", "finished_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_runs_project_finished_at"), "runs", ["project", "finished_at"], unique=False
    )
    op.create_table(
        "attempts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("run_case", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retry", sa.Integer(), nullable=False),
        sa.Column("last", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("case_status", sa.String(length=20), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("failing_step_index", sa.Integer(), nullable=True),
        sa.Column("failing_step_kind", sa.String(length=60), nullable=True),
        sa.Column("failing_step_selector", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_signature", sa.String(length=64), nullable=True),
        sa.Column("artifacts", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("trace", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_attempts_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_attempts_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint(
            "run_id", "run_case", "attempt", name=op.f("uq_attempts_run_id_run_case_attempt")
        ),
    )
    op.create_index(
        op.f("ix_attempts_case_id_started_at"), "attempts", ["case_id", "started_at"], unique=False
    )
    op.create_index(
        op.f("ix_attempts_error_signature"),
        "attempts",
        ["error_signature"],
        unique=False,
        postgresql_where=sa.text("error_signature IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_attempts_project_started_at"), "attempts", ["project", "started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_attempts_project_started_at"), table_name="attempts")
    op.drop_index(
        op.f("ix_attempts_error_signature"),
        table_name="attempts",
        postgresql_where=sa.text("error_signature IS NOT NULL"),
    )
    op.drop_index(op.f("ix_attempts_case_id_started_at"), table_name="attempts")
    op.drop_table("attempts")
    op.drop_index(op.f("ix_runs_project_finished_at"), table_name="runs")
    op.drop_index(op.f("ix_runs_project_branch_finished_at"), table_name="runs")
    op.drop_table("runs")
    op.drop_table("cases")
