"""``GET /runs``: a project's runs, newest first, filtered and paged by cursor.

The project's index (``keys.project_runs``) is a sorted set scored by creation
time; runs are read in pages of it, newest first, so ties are broken by run id
(descending, as ZREVRANGEBYSCORE orders them). A cursor is the position
(created_ms, run id) of the last run of a page, so pages stay stable while new
runs arrive. One request scans at most ``MAX_SCAN`` index entries: a filter
matching little answers a short page with a cursor rather than a slow request.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import redis

from orchestrator.api_errors import ApiError
from orchestrator.api_models import RunList, RunSummary
from orchestrator.api_services import API_PREFIX
from testfleet import keys
from testfleet.results import RunStatus

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


def _summary(fields: dict[str, str]) -> RunSummary | None:
    if "meta" not in fields:
        return None  # expired while still indexed
    meta = json.loads(fields["meta"])
    counts = {k[2:]: int(v) for k, v in fields.items() if k.startswith("n:") and int(v)}
    status = fields.get("status", "queued")
    if status not in ("passed", "failed", "cancelled"):
        started = counts or any(k.startswith("attempts:") for k in fields)
        status = "cancelled" if fields.get("cancelled") == "1" else (
            "running" if started else "queued"
        )  # fmt: skip
    finished = fields.get("finished_ms")
    return RunSummary(
        runId=meta["run_id"],
        name=meta["name"],
        status=status,
        createdMs=meta["created_ms"],
        finishedMs=int(finished) if finished else None,
        total=meta["total"],
        counts=counts,
        suites=meta["suites"],
        tags=meta.get("tags", []),
        links={"self": f"{API_PREFIX}/runs/{meta['run_id']}"},
    )


def _case_tags(raw_cases: list[str]) -> set[str]:
    tags: set[str] = set()
    for raw in raw_cases:
        tags.update(json.loads(raw).get("tags", []))
    return tags


def _read_page(
    client: redis.Redis, entries: list[tuple[str, float]], tag: str | None
) -> list[tuple[RunSummary | None, set[str]]]:
    pipe = client.pipeline(transaction=False)
    for run_id, _ in entries:
        pipe.hgetall(keys.run(run_id))
        if tag is not None:
            pipe.hvals(keys.run_cases(run_id))
    replies: list[Any] = pipe.execute()
    step = 2 if tag is not None else 1
    return [
        (
            _summary(cast(dict[str, str], replies[i])),
            _case_tags(cast(list[str], replies[i + 1])) if tag is not None else set(),
        )
        for i in range(0, len(replies), step)
    ]


def list_runs(
    client: redis.Redis, project: str, limit: int, wanted: RunFilter, cursor: str | None
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
        raw = client.zrevrangebyscore(
            keys.project_runs(project), top, bottom, start=offset, num=_PAGE, withscores=True
        )
        entries = cast(list[tuple[str, float]], raw)
        if not entries:
            return RunList(runs=found)
        offset += len(entries)
        if after is not None:
            # Entries with the cursor's time are listed again; keep those after it only.
            entries = [(i, s) for i, s in entries if (int(s), i) < after]
        for (run_id, score), (summary, case_tags) in zip(
            entries, _read_page(client, entries, wanted.tag), strict=True
        ):
            scanned += 1
            last = (int(score), run_id)
            if summary is not None and _matches(summary, case_tags, wanted):
                found.append(summary)
                if len(found) == limit:
                    return RunList(runs=found, nextCursor=encode_cursor(*last))
    return RunList(runs=found, nextCursor=encode_cursor(*last) if last else None)


def _matches(summary: RunSummary, case_tags: set[str], wanted: RunFilter) -> bool:
    if wanted.status is not None and summary.status != wanted.status:
        return False
    return wanted.tag is None or wanted.tag in case_tags or wanted.tag in summary.tags
