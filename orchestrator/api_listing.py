"""``GET /runs``: a project's runs, newest first, filtered and paged by cursor.

The project's index is a sorted set scored by creation time; runs are read
through the run store in pages of it, newest first, so ties are broken by run id
(descending, as ZREVRANGEBYSCORE orders them). A cursor is the position
(created_ms, run id) of the last run of a page, so pages stay stable while new
runs arrive. One request scans at most ``MAX_SCAN`` index entries: a filter
matching little answers a short page with a cursor rather than a slow request.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from orchestrator.api_errors import ApiError
from orchestrator.api_models import RunList, RunSummary
from testfleet.constants import API_PREFIX
from testfleet.results import RunOverview, RunStatus
from testfleet.store import RunReader

MAX_SCAN = 5_000
"""Index entries one listing request reads at most."""
_PAGE = 200
"""Index entries read per Redis round trip."""
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


@dataclass(frozen=True)
class RunFilter:
    """What ``GET /runs`` keeps."""

    status: RunStatus | None = None
    tag: str | None = None
    """Runs with a test carrying this tag, or submitted with it as filter."""
    since_ms: int | None = None
    """Created at or after, Unix epoch milliseconds."""
    until_ms: int | None = None
    """Created at or before, Unix epoch milliseconds."""


def epoch_ms(moment: datetime | None) -> int | None:
    """``moment`` in Unix epoch milliseconds (a naive time is taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def encode_cursor(created_ms: int, run_id: str) -> str:
    """The opaque cursor after the run at (created_ms, run_id)."""
    return base64.urlsafe_b64encode(f"{created_ms}:{run_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """(created_ms, run id) of a cursor; ``ApiError`` 400 for one this API did not give."""
    bad = ApiError(
        400,
        "invalid_cursor",
        f"cursor {cursor[:100]!r} is not one this API gave: pass the nextCursor of the previous "
        "page unchanged, or leave cursor out for the first page",
    )
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    created, _, run_id = text.partition(":")
    if not created.isdigit() or len(created) > 15 or not _RUN_ID.match(run_id):
        raise bad
    return int(created), run_id


def summary(run: RunOverview) -> RunSummary:
    """A run as ``GET /runs`` lists it."""
    return RunSummary(
        **run.model_dump(exclude={"projectId", "caseTags"}),
        links={"self": f"{API_PREFIX}/runs/{run.runId}"},
    )


def list_runs(
    runs: RunReader, project: str, limit: int, wanted: RunFilter, cursor: str | None
) -> RunList:
    """A page of ``project``'s runs matching ``wanted``, newest first."""
    after = decode_cursor(cursor) if cursor else None
    top: float = float("inf") if wanted.until_ms is None else wanted.until_ms
    if after is not None:
        top = min(top, after[0])
    bottom: float = float("-inf") if wanted.since_ms is None else wanted.since_ms
    found: list[RunSummary] = []
    scanned = 0
    offset = 0
    last: tuple[int, str] | None = None
    while scanned < MAX_SCAN:
        entries = runs.index_page(project, top, bottom, offset, _PAGE)
        if not entries:
            return RunList(runs=found)
        offset += len(entries)
        if after is not None:
            # Entries with the cursor's time are listed again; keep those after it only.
            entries = [(i, s) for i, s in entries if (s, i) < after]
        overviews = runs.overviews([i for i, _ in entries], case_tags=wanted.tag is not None)
        for (run_id, created_ms), run in zip(entries, overviews, strict=True):
            scanned += 1
            last = (created_ms, run_id)
            if run is not None and _matches(run, wanted):
                found.append(summary(run))
                if len(found) == limit:
                    return RunList(runs=found, nextCursor=encode_cursor(*last))
    return RunList(runs=found, nextCursor=encode_cursor(*last) if last else None)


def _matches(run: RunOverview, wanted: RunFilter) -> bool:
    if wanted.status is not None and run.status != wanted.status:
        return False
    return wanted.tag is None or wanted.tag in run.caseTags or wanted.tag in run.tags
