"""The history schema: runs, test identities (cases) and attempts.

A run is archived once, whole (``testfleet.history.archive``): its row, a row per new
test identity, a row per attempt. A test's identity (project, suite, test name, data
row) outlives runs: its history is its attempts across runs. Timestamps are UTC
(``timestamptz``); durations are milliseconds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names the migrations can refer to (Alembic cannot alter unnamed ones)."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Run(Base):
    """One finished run with its metadata (the CI's, when ``testfleet run`` read them)."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))
    """The run's settled status: passed, failed or cancelled."""
    branch: Mapped[str | None] = mapped_column(Text)
    commit: Mapped[str | None] = mapped_column(String(64))
    pull_request: Mapped[str | None] = mapped_column(Text)
    ci_provider: Mapped[str | None] = mapped_column(String(40))
    build_url: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    """Final cases per status."""
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """Submission time."""
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )

    __table_args__ = (
        Index(None, "project", "finished_at"),
        Index(None, "project", "branch", "finished_at"),
    )


class Case(Base):
    """A test's identity: project, suite name, test name and data row ('' for none)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(200))
    suite: Mapped[str] = mapped_column(Text)
    test: Mapped[str] = mapped_column(Text)
    data_row: Mapped[str] = mapped_column(Text, default="")
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("project", "suite", "test", "data_row"),)


COVERED = ("run_id", "attempt", "last", "status", "duration_ms")
"""The columns of an attempt that ``ix_attempts_case_id_started_at`` carries (INCLUDE)."""
FAILURES_INDEX = "ix_attempts_failures_project_started_at"
"""The partial index of failed and errored attempts (the flaky list's starting point)."""


class Attempt(Base):
    """One attempt at a test in a run (retries and redeliveries each make one)."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    run_case: Mapped[str] = mapped_column(String(64))
    """The case's id within its run (the run store's)."""
    project: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer)
    """1, 2, ...; ``retry`` is ``attempt - 1``."""
    retry: Mapped[int] = mapped_column(Integer)
    last: Mapped[bool]
    """The case's last attempt in the run: ``case_status`` is then the case's result."""
    status: Mapped[str] = mapped_column(String(20))
    """How this attempt ended: passed, failed, error or cancelled."""
    case_status: Mapped[str] = mapped_column(String(20))
    """The case's final status in the run (``flaky``: passed on a retry)."""
    duration_ms: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """The case's start in the run (attempts of one case share it: the run store keeps
    only the case's)."""
    worker: Mapped[str | None] = mapped_column(Text)
    failing_step_index: Mapped[int | None] = mapped_column(Integer)
    """1-based index of the step that failed the attempt (known for the last attempt)."""
    failing_step_kind: Mapped[str | None] = mapped_column(String(60))
    failing_step_selector: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    error_signature: Mapped[str | None] = mapped_column(String(64))
    """The error normalised and hashed: equal signatures are one failure cause."""
    artifacts: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    """Artifact names in the run's artifact store (screenshots, logs)."""
    trace: Mapped[str | None] = mapped_column(Text)
    """The attempt's trace artifact, when one was recorded."""

    __table_args__ = (
        UniqueConstraint("run_id", "run_case", "attempt"),
        # Covering what a test's figures and the flaky list read of its attempts: they
        # are read from the index alone, not from heap pages spread over every run.
        Index(None, "case_id", "started_at", postgresql_include=list(COVERED)),
        Index(None, "project", "started_at"),
        Index(None, "error_signature", postgresql_where=text("error_signature IS NOT NULL")),
        # The flaky list starts from a window's failures (``queries.flaky``): a few
        # percent of the attempts, so a small index.
        Index(
            FAILURES_INDEX,
            "project",
            "started_at",
            postgresql_include=["case_id"],
            postgresql_where=text("status IN ('failed', 'error')"),
        ),
    )


class FailureLabel(Base):
    """A failed test of an archived run (or one that passed only on a retry), with the
    labels its history gave the failure when the run was archived
    (``testfleet.history.labels``), written in the run's own transaction."""

    __tablename__ = "failure_labels"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    run_case: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The case's id within its run (the run store's)."""
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    labels: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    """In ``testfleet.history.rules.LABELS`` order."""
    error_signature: Mapped[str | None] = mapped_column(String(64))
    """The signature of the test's latest failed attempt in the run: its cluster."""
    error: Mapped[str | None] = mapped_column(Text)
    """That attempt's error."""

    __table_args__ = (Index(None, "case_id"),)


class Quarantine(Base):
    """A test of a project in quarantine: it still runs and is reported, but its failure
    does not fail the run. The row stays after ``expires_at`` and is ignored from then on
    (expiry needs no job); adding the test again replaces it."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(200))
    suite: Mapped[str] = mapped_column(Text)
    test: Mapped[str] = mapped_column(Text)
    data_row: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(Text)
    """Who is to fix the test (a name or handle, as given)."""
    added_by: Mapped[str | None] = mapped_column(String(64))
    """The id of the API key that put the test in quarantine."""
    added_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("project", "suite", "test", "data_row"),
        Index(None, "project", "expires_at"),
    )


class StepMetric(Base):
    """One value an ``assert_performance`` or ``assert_accessible`` step recorded in a
    test's last attempt of a run, so a test's trends can be drawn across runs: each
    performance metric (``lcp_ms``, ``cls``, ...: the step's median), and for an
    accessibility check ``a11y_elements`` (elements with a violation) and ``a11y_new``
    (those that failed it)."""

    __tablename__ = "step_metrics"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    run_case: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(Integer)
    """The step's 1-based index in the test."""
    label: Mapped[str] = mapped_column(Text)
    metric: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """The case's start in the run."""

    __table_args__ = (
        UniqueConstraint("run_id", "run_case", "step", "metric"),
        Index(None, "case_id", "metric", "started_at"),
    )
