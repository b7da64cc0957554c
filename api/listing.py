"""``GET /runs``: a project's runs, newest first, filtered and paged by cursor.

The listing itself (index pages, cursors, filters) is the run store's
(``testfleet.store.listing``), shared with the gateway's dashboard; here it is
turned into the API's answer and its errors.
"""

from __future__ import annotations

from datetime import UTC, datetime

from api.errors import ApiError
from api.models import RunList, RunSummary
from testfleet.constants import run_path
from testfleet.results import RunOverview
from testfleet.store import RunReader, listing
from testfleet.store.listing import RunFilter, encode_cursor

__all__ = ["RunFilter", "decode_cursor", "encode_cursor", "epoch_ms", "list_runs", "summary"]


def epoch_ms(moment: datetime | None) -> int | None:
    """``moment`` in Unix epoch milliseconds (a naive time is taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def decode_cursor(cursor: str) -> tuple[int, str]:
    """(created_ms, run id) of a cursor; ``ApiError`` 400 for one this API did not give."""
    try:
        return listing.decode_cursor(cursor)
    except listing.CursorError as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None


def summary(run: RunOverview) -> RunSummary:
    """A run as ``GET /runs`` lists it."""
    return RunSummary(
        **run.model_dump(exclude={"projectId", "caseTags"}),
        links={"self": run_path(run.runId)},
    )


def list_runs(
    runs: RunReader, project: str, limit: int, wanted: RunFilter, cursor: str | None
) -> RunList:
    """A page of ``project``'s runs matching ``wanted``, newest first."""
    if cursor:
        decode_cursor(cursor)  # a bad cursor is the API's 400, said its way
    page = runs.list_page(project, limit, wanted, cursor)
    return RunList(runs=[summary(r) for r in page.runs], nextCursor=page.next_cursor)
