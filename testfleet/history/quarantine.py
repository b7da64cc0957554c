"""A project's quarantine: tests whose failures do not fail a run, until an expiry.

A quarantined test still runs and is reported; ``testfleet run`` exits 0 when every
test that failed is in quarantine. Expiry lifts a test by itself: every read here
keeps to rows whose ``expires_at`` is still ahead, so no job has to remove them (a
row past its expiry is replaced when the test is added again).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from testfleet.errors import UsageError
from testfleet.history.models import Quarantine
from testfleet.history.rules import Identity

MAX_EXPIRY = timedelta(days=365)
"""The longest quarantine: a test is not meant to be forgotten there."""
_UNITS_S = dict((("m", 60), ("h", 3600), ("d", 86_400), ("w", 7 * 86_400)))
"""Seconds per unit of an expiry (``14d``): minutes, hours, days, weeks."""
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")


@dataclass(frozen=True)
class Entry:
    """A test in quarantine."""

    identity: Identity
    reason: str
    owner: str
    added_by: str | None
    added_at: datetime
    expires_at: datetime


def parse_expiry(text: str) -> timedelta:
    """``14d``, ``12h``, ``30m``, ``2w`` as a duration (at most ``MAX_EXPIRY``);
    ``UsageError`` saying the form otherwise."""
    found = _DURATION.match(text)
    if found is None:
        raise UsageError(
            f"an expiry is a number and a unit, m h d or w (14d: fourteen days); got {text!r}"
        )
    span = timedelta(seconds=int(found.group(1)) * _UNITS_S[found.group(2)])
    if not timedelta(0) < span <= MAX_EXPIRY:
        raise UsageError(f"an expiry is more than 0 and at most {MAX_EXPIRY.days}d; got {text!r}")
    return span


def _entry(row: Quarantine) -> Entry:
    return Entry(
        identity=Identity(row.suite, row.test, row.data_row),
        reason=row.reason,
        owner=row.owner,
        added_by=row.added_by,
        added_at=row.added_at,
        expires_at=row.expires_at,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def add(
    session: Session,
    project: str,
    identity: Identity,
    reason: str,
    owner: str,
    expires_at: datetime,
    added_by: str | None = None,
) -> Entry:
    """Put the test in quarantine until ``expires_at`` (a test there already gets the
    new reason, owner and expiry)."""
    values = {
        "project": project,
        "suite": identity.suite,
        "test": identity.test,
        "data_row": identity.data_row,
        "reason": reason,
        "owner": owner,
        "added_by": added_by,
        "expires_at": expires_at,
        "added_at": _now(),
    }
    statement = insert(Quarantine).values(values)
    upsert = statement.on_conflict_do_update(
        index_elements=[Quarantine.project, Quarantine.suite, Quarantine.test, Quarantine.data_row],
        set_={
            k: statement.excluded[k]
            for k in ("reason", "owner", "added_by", "expires_at", "added_at")
        },
    )
    row = session.scalars(upsert.returning(Quarantine)).one()
    return _entry(row)


def active(session: Session, project: str, at: datetime | None = None) -> list[Entry]:
    """The project's quarantine at ``at`` (now), soonest expiry first."""
    rows = session.scalars(
        select(Quarantine)
        .where(Quarantine.project == project, Quarantine.expires_at > (at or _now()))
        .order_by(Quarantine.expires_at, Quarantine.suite, Quarantine.test)
    )
    return [_entry(r) for r in rows]


def among(
    session: Session, project: str, identities: Collection[Identity], at: datetime | None = None
) -> dict[Identity, Entry]:
    """Which of ``identities`` are in the project's quarantine at ``at`` (now)."""
    if not identities:
        return {}
    wanted = [tuple(i) for i in set(identities)]
    rows = session.scalars(
        select(Quarantine).where(
            Quarantine.project == project,
            Quarantine.expires_at > (at or _now()),
            tuple_(Quarantine.suite, Quarantine.test, Quarantine.data_row).in_(wanted),
        )
    )
    return {e.identity: e for e in map(_entry, rows)}


def remove(session: Session, project: str, identity: Identity) -> bool:
    """Take the test out of quarantine; False when it was not in it (or had expired)."""
    removed = session.scalars(
        delete(Quarantine)
        .where(
            Quarantine.project == project,
            Quarantine.suite == identity.suite,
            Quarantine.test == identity.test,
            Quarantine.data_row == identity.data_row,
        )
        .returning(Quarantine.expires_at)
    ).all()
    return any(expires > _now() for expires in removed)
