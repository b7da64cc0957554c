"""Listing a project's runs: newest first, filtered, paged by cursor, as one plan.

The project's index is a sorted set scored by creation time; runs are read
through the run store's queries in pages of it, newest first, so ties are
broken by run id (descending, as ZREVRANGEBYSCORE orders them). A cursor is the
position (created_ms, run id) of the last run of a page, so pages stay stable
while new runs arrive. One listing scans at most ``MAX_SCAN`` index entries: a
filter matching little answers a short page with a cursor rather than a slow
request.

``list_plan`` does no I/O: it is a generator that yields the queries it needs
one at a time and is sent their answers, so the sync face (the API) and the
async face (the gateway's dashboard) run the same listing (``RunReader.list_page``,
``AsyncRunReader.list_page``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from testfleet import keys
from testfleet.errors import UsageError
from testfleet.results import RunOverview, RunStatus
from testfleet.store import layout
from testfleet.store.query import Query

MAX_SCAN = 5_000
"""Index entries one listing reads at most."""
_PAGE = 200
"""Index entries read per Redis round trip."""
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class CursorError(UsageError):
    """A cursor that no listing gave."""


@dataclass(frozen=True)
class RunFilter:
    """What a listing keeps."""

    status: RunStatus | None = None
    tag: str | None = None
    """Runs with a test carrying this tag, or submitted with it as filter."""
    since_ms: int | None = None
    """Created at or after, Unix epoch milliseconds."""
    until_ms: int | None = None
    """Created at or before, Unix epoch milliseconds."""


@dataclass
class RunPage:
    """One page of a listing, newest first."""

    runs: list[RunOverview] = field(default_factory=list)
    next_cursor: str | None = None
    """Where the next page starts; None when this page is the last."""


Plan = Generator[Query[Any], Any, RunPage]


def overviews_query(
    run_ids: Sequence[str], case_tags: bool = False
) -> Query[list[RunOverview | None]]:
    """Each run without its cases, in order (``None`` for one expired while indexed);
    ``case_tags`` also reads every case, to fill ``caseTags``."""

    def build(pipe: Any) -> None:
        for run_id in run_ids:
            pipe.hgetall(keys.run(run_id))
            if case_tags:
                pipe.hvals(keys.run_cases(run_id))

    def parse(replies: list[Any]) -> list[RunOverview | None]:
        if not case_tags:
            return [layout.overview(fields) for fields in replies]
        return [layout.overview(replies[i], replies[i + 1]) for i in range(0, len(replies), 2)]

    return Query(build, parse)


def index_query(
    project: str, top: float, bottom: float, offset: int, count: int
) -> Query[list[tuple[str, int]]]:
    """A page of a project's run index: (run id, created ms), newest first, created
    within [bottom, top]; ties in time come in descending run id."""
    return Query(
        lambda pipe: pipe.zrevrangebyscore(
            keys.project_runs(project), top, bottom, start=offset, num=count, withscores=True
        ),
        lambda replies: [(str(i), int(s)) for i, s in replies[0]],
    )


def encode_cursor(created_ms: int, run_id: str) -> str:
    """The opaque cursor after the run at (created_ms, run_id)."""
    return base64.urlsafe_b64encode(f"{created_ms}:{run_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """(created_ms, run id) of a cursor; ``CursorError`` for one no listing gave."""
    bad = CursorError(
        f"cursor {cursor[:100]!r} is not one this listing gave: pass the nextCursor of the "
        "previous page unchanged, or leave cursor out for the first page"
    )
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    created, _, run_id = text.partition(":")
    if not created.isdigit() or len(created) > 15 or not _RUN_ID.match(run_id):
        raise bad
    return int(created), run_id


def list_plan(project: str, limit: int, wanted: RunFilter, cursor: str | None) -> Plan:
    """The listing of a page of ``project``'s runs matching ``wanted`` (see the module)."""
    after = decode_cursor(cursor) if cursor else None
    top: float = float("inf") if wanted.until_ms is None else wanted.until_ms
    if after is not None:
        top = min(top, after[0])
    bottom: float = float("-inf") if wanted.since_ms is None else wanted.since_ms
    found: list[RunOverview] = []
    scanned = 0
    offset = 0
    last: tuple[int, str] | None = None
    while scanned < MAX_SCAN:
        entries: list[tuple[str, int]] = yield index_query(project, top, bottom, offset, _PAGE)
        if not entries:
            return RunPage(found)
        offset += len(entries)
        if after is not None:
            # Entries with the cursor's time are listed again; keep those after it only.
            entries = [(i, s) for i, s in entries if (s, i) < after]
        ids = [i for i, _ in entries]
        overviews: list[RunOverview | None] = yield overviews_query(
            ids, case_tags=wanted.tag is not None
        )
        for (run_id, created_ms), run in zip(entries, overviews, strict=True):
            scanned += 1
            last = (created_ms, run_id)
            if run is not None and _matches(run, wanted):
                found.append(run)
                if len(found) == limit:
                    return RunPage(found, encode_cursor(*last))
    return RunPage(found, encode_cursor(*last) if last else None)


def _matches(run: RunOverview, wanted: RunFilter) -> bool:
    if wanted.status is not None and run.status != wanted.status:
        return False
    return wanted.tag is None or wanted.tag in run.caseTags or wanted.tag in run.tags
