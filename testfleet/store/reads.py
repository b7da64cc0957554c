"""Reading runs: one set of queries, run by a sync face and an async face.

A query is the commands it queues on a Redis pipeline and the parse of their
replies (``layout``), with no I/O of its own; ``RunReader`` (redis-py, for the
API and workers) and ``AsyncRunReader`` (redis.asyncio, for the gateway and the
dashboard) each run a query in one round trip. Callers get models
(``RunResult``, ``RunOverview``, ``RunHead``, ``CaseResult``), never hash fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

import redis
import redis.asyncio as aredis

from testfleet import keys
from testfleet.errors import NotFoundError
from testfleet.results import CaseResult, RunHead, RunOverview, RunRecord, RunResult
from testfleet.store import layout
from testfleet.store.listing import RunFilter, RunPage, index_query, list_plan, overviews_query
from testfleet.store.query import Query
from testfleet.stream import Entry

T = TypeVar("T")


def missing_case(run_id: str, case_id: str) -> NotFoundError:
    """What reading a case the store does not hold raises."""
    return NotFoundError(f"case {case_id} of run {run_id} does not exist (expired?)")


def run_query(run_id: str) -> Query[RunResult | None]:
    """The run with every case (``None`` when unknown or expired)."""

    def build(pipe: Any) -> None:
        pipe.hgetall(keys.run(run_id))
        pipe.hvals(keys.run_cases(run_id))
        pipe.hgetall(keys.run_state(run_id))

    return Query(build, lambda replies: layout.result(*replies))


def snapshot_query(run_id: str) -> Query[tuple[RunResult | None, str]]:
    """The run with every case and the id of the run's newest event ("0-0" before any);
    run it atomically so the two agree."""
    run = run_query(run_id)

    def build(pipe: Any) -> None:
        pipe.xrevrange(keys.run_events(run_id), count=1)
        run.build(pipe)

    def parse(replies: list[Any]) -> tuple[RunResult | None, str]:
        newest = replies[0]
        return run.parse(replies[1:]), str(newest[0][0]) if newest else "0-0"

    return Query(build, parse)


def record_query(run_id: str) -> Query[RunRecord | None]:
    """The run's own fields (``None`` when unknown or expired)."""
    return Query(
        lambda pipe: pipe.hget(keys.run(run_id), layout.META),
        lambda replies: layout.record(replies[0]),
    )


def records_query(run_ids: Sequence[str]) -> Query[list[RunRecord | None]]:
    """The records of several runs, in order."""

    def build(pipe: Any) -> None:
        for run_id in run_ids:
            pipe.hget(keys.run(run_id), layout.META)

    return Query(build, lambda replies: [layout.record(r) for r in replies])


def case_query(run_id: str, case_id: str) -> Query[CaseResult]:
    """One case's result; ``NotFoundError`` when unknown or expired."""

    def parse(replies: list[Any]) -> CaseResult:
        if replies[0] is None:
            raise missing_case(run_id, case_id)
        return CaseResult.model_validate_json(replies[0])

    return Query(lambda pipe: pipe.hget(keys.run_cases(run_id), case_id), parse)


def cancelled_query(run_id: str) -> Query[bool]:
    """Whether cancel was asked for the run."""
    return Query(
        lambda pipe: pipe.hget(keys.run(run_id), layout.CANCELLED),
        lambda replies: layout.is_cancelled(replies[0]),
    )


def attempts_query(run_id: str, case_id: str) -> Query[int]:
    """Attempts begun at one case (every delivery's), 0 before the first."""
    return Query(
        lambda pipe: pipe.hget(keys.run(run_id), layout.attempts_field(case_id)),
        lambda replies: int(replies[0] or 0),
    )


def stop_query(run_id: str, case_id: str, attempt: int) -> Query[str | None]:
    """Why a delivery running ``attempt`` of a case should stop before its next step:
    ``"cancelled"`` (the run was), ``"superseded"`` (another delivery of the case began a
    later attempt, as after a lost lease), or None to go on."""

    def build(pipe: Any) -> None:
        pipe.hget(keys.run(run_id), layout.CANCELLED)
        pipe.hget(keys.run(run_id), layout.attempts_field(case_id))

    def parse(replies: list[Any]) -> str | None:
        return layout.stop_reason(replies[0], replies[1], attempt)

    return Query(build, parse)


def heads_query(run_ids: Sequence[str]) -> Query[list[RunHead | None]]:
    """Owner and completion of each run, in order (``None`` for an unknown one)."""

    def build(pipe: Any) -> None:
        for run_id in run_ids:
            pipe.hmget(keys.run(run_id), list(layout.HEAD_FIELDS))

    return Query(
        build,
        lambda replies: [layout.head(i, r) for i, r in zip(run_ids, replies, strict=True)],
    )


def statuses_query(run_ids: Sequence[str]) -> Query[list[str | None]]:
    """Each run's status, in order (``None`` for one expired while indexed): one field per
    run, for counting many runs (the fleet metrics) without reading their records."""

    def build(pipe: Any) -> None:
        for run_id in run_ids:
            pipe.hget(keys.run(run_id), layout.STATUS)

    return Query(build, lambda replies: [str(r) if r is not None else None for r in replies])


def events_query(run_id: str, after: str, count: int) -> Query[list[dict[str, Any]]]:
    """A run's events after ``after`` in wire form (oldest first)."""
    return Query(
        lambda pipe: pipe.xrange(keys.run_events(run_id), min=f"({after}", count=count),
        lambda replies: [Entry.of(str(i), f).message() for i, f in replies[0]],
    )


class RunReader:
    """Reads runs with redis-py (strings decoded). Thread-safe."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def ask(self, query: Query[T]) -> T:
        """Run ``query`` in one round trip."""
        pipe = self._r.pipeline(transaction=False)
        query.build(pipe)
        return query.parse(pipe.execute())

    def get_run(self, run_id: str) -> RunResult | None:
        """The run with every case, or None when unknown or expired."""
        return self.ask(run_query(run_id))

    def get_record(self, run_id: str) -> RunRecord | None:
        return self.ask(record_query(run_id))

    def get_case(self, run_id: str, case_id: str) -> CaseResult:
        return self.ask(case_query(run_id, case_id))

    def is_cancelled(self, run_id: str) -> bool:
        return self.ask(cancelled_query(run_id))

    def attempts(self, run_id: str, case_id: str) -> int:
        return self.ask(attempts_query(run_id, case_id))

    def stop_reason(self, run_id: str, case_id: str, attempt: int) -> str | None:
        """See ``stop_query``: ``"cancelled"``, ``"superseded"`` or None, one round trip."""
        return self.ask(stop_query(run_id, case_id, attempt))

    def head(self, run_id: str) -> RunHead | None:
        """Who owns the run and whether it is over; None when unknown or expired."""
        return self.ask(heads_query([run_id]))[0]

    def heads(self, run_ids: Sequence[str]) -> list[RunHead | None]:
        return self.ask(heads_query(run_ids))

    def statuses(self, run_ids: Sequence[str]) -> list[str | None]:
        return self.ask(statuses_query(run_ids))

    def overviews(
        self, run_ids: Sequence[str], case_tags: bool = False
    ) -> list[RunOverview | None]:
        return self.ask(overviews_query(run_ids, case_tags))

    def index_page(
        self, project: str, top: float, bottom: float, offset: int, count: int
    ) -> list[tuple[str, int]]:
        return self.ask(index_query(project, top, bottom, offset, count))

    def list_page(
        self, project: str, limit: int, wanted: RunFilter, cursor: str | None = None
    ) -> RunPage:
        """A page of ``project``'s runs matching ``wanted``, newest first (``listing``);
        ``CursorError`` for a cursor no listing gave."""
        plan = list_plan(project, limit, wanted, cursor)
        query = next(plan)
        while True:
            try:
                query = plan.send(self.ask(query))
            except StopIteration as done:
                return cast("RunPage", done.value)

    def list_runs(self, project_id: str, limit: int = 50) -> list[RunRecord]:
        """A project's most recent runs, newest first."""
        page = self.index_page(project_id, float("inf"), float("-inf"), 0, limit)
        records = self.ask(records_query([run_id for run_id, _ in page]))
        return [r for r in records if r is not None]

    def read_run_events(
        self, run_id: str, after: str = "0-0", count: int = 1000
    ) -> list[dict[str, Any]]:
        """A run's events after ``after`` in wire form (oldest first)."""
        return self.ask(events_query(run_id, after, count))


class AsyncRunReader:
    """The same reads with redis.asyncio, for the gateway and the dashboard."""

    def __init__(self, client: aredis.Redis) -> None:
        self._r = client

    async def ask(self, query: Query[T], atomic: bool = False) -> T:
        """Run ``query`` in one round trip (in MULTI/EXEC when ``atomic``)."""
        pipe = self._r.pipeline(transaction=atomic)
        query.build(pipe)
        return query.parse(await pipe.execute())

    async def get_run(self, run_id: str) -> RunResult | None:
        return await self.ask(run_query(run_id))

    async def head(self, run_id: str) -> RunHead | None:
        """Who owns the run and whether it is over; None when unknown or expired."""
        return (await self.ask(heads_query([run_id])))[0]

    async def heads(self, run_ids: Sequence[str]) -> list[RunHead | None]:
        return await self.ask(heads_query(run_ids))

    async def overviews(
        self, run_ids: Sequence[str], case_tags: bool = False
    ) -> list[RunOverview | None]:
        return await self.ask(overviews_query(run_ids, case_tags))

    async def read_run_events(
        self, run_id: str, after: str = "0-0", count: int = 1000
    ) -> list[dict[str, Any]]:
        return await self.ask(events_query(run_id, after, count))

    async def list_page(
        self, project: str, limit: int, wanted: RunFilter, cursor: str | None = None
    ) -> RunPage:
        """``RunReader.list_page``, on asyncio."""
        plan = list_plan(project, limit, wanted, cursor)
        query = next(plan)
        while True:
            try:
                query = plan.send(await self.ask(query))
            except StopIteration as done:
                return cast("RunPage", done.value)

    async def snapshot(self, run_id: str) -> tuple[RunResult | None, str]:
        """The run with every case, and the id of its newest event at that moment (read
        atomically): following the run from that id misses nothing and repeats nothing."""
        return await self.ask(snapshot_query(run_id), atomic=True)
