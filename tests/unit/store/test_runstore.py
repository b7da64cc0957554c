"""The run store on a real Redis: final statuses once, runs complete once, cancel."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis.asyncio as aredis

from testfleet import keys, payloads, stream
from testfleet.events import Event, now_ms
from testfleet.results import FINAL_STATUSES, CaseResult, RunRecord, finished_run_status
from testfleet.settings import Settings
from testfleet.store import AsyncRunReader, Progressed, RunStore, scripts
from testfleet.stream import Entry

pytestmark = pytest.mark.redis


@pytest.fixture
def store(redis_url: str) -> RunStore:
    store = RunStore.connect(Settings(redis={"url": redis_url}), source="test@host")
    store.redis.flushdb()
    return store


def new_run(store: RunStore, run_id: str = "r1", n: int = 3) -> list[CaseResult]:
    record = RunRecord(
        run_id=run_id, project_id="p", name="x", suites=["s"], created_ms=now_ms(), total=n
    )
    cases = [
        CaseResult(case_id=f"{run_id}-{i}", run_id=run_id, suite="s", name=f"t{i}")
        for i in range(n)
    ]
    started = Event("run_started", run_id, "p", {"total": n}, source="test")
    store.create_run(record, cases, {c.case_id: "{}" for c in cases}, started)
    return cases


def final(case: CaseResult, status: str) -> tuple[CaseResult, Event]:
    done = case.model_copy(update={"status": status})
    kind = "test_completed" if status in ("passed", "flaky") else "test_failed"
    event = Event(
        kind,
        case.run_id,
        "p",
        {"testId": case.case_id, "result": {"status": status}},
        correlation_id=case.case_id,
    )
    return done, event


def events(store: RunStore, run_id: str) -> list[dict[str, object]]:
    return store.read_run_events(run_id)


def test_a_final_status_is_recorded_once_even_under_concurrent_deliveries(store: RunStore) -> None:
    [case] = new_run(store, n=1)
    assert store.begin_case("r1", case.case_id) == 1
    assert store.begin_case("r1", case.case_id) == 2  # a redelivery counts an attempt
    attempts = [final(case, "passed"), final(case, "failed")] * 10
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda a: store.finish_case(*a), attempts))
    assert results.count(True) == 1
    finals = [e for e in events(store, "r1") if e["type"] in ("test_completed", "test_failed")]
    assert len(finals) == 1
    assert [e["type"] for e in events(store, "r1")].count("run_completed") == 1
    assert store.begin_case("r1", case.case_id) == 0  # final: a late delivery does nothing


def test_run_completes_once_with_the_right_status_and_counts(store: RunStore) -> None:
    cases = new_run(store)
    for case, status in zip(cases, ["passed", "flaky", "failed"], strict=True):
        store.begin_case("r1", case.case_id)
        assert store.finish_case(*final(case, status))
    completed = events(store, "r1")[-1]
    assert completed["type"] == "run_completed"
    payload = completed["payload"]
    assert isinstance(payload, dict)
    assert payload["status"] == "failed"
    assert payload["counts"] == {"passed": 1, "flaky": 1, "failed": 1, "error": 0, "cancelled": 0}
    run = store.get_run("r1")
    assert run is not None
    assert run.status == "failed"
    assert run.finishedMs is not None


def test_progress_after_the_final_status_is_ignored(store: RunStore) -> None:
    [case] = new_run(store, n=1)
    store.begin_case("r1", case.case_id)
    store.finish_case(*final(case, "passed"))
    late = case.model_copy(update={"status": "running", "attempts": 9})
    assert not store.update_case(late, Event("test_progress", "r1", "p", {}))
    assert store.get_case("r1", case.case_id).status == "passed"


def test_cancel_ends_queued_cases_and_flags_running_ones(store: RunStore) -> None:
    cases = new_run(store)
    store.begin_case("r1", cases[0].case_id)  # running
    assert store.cancel_run("r1") == 2
    assert store.is_cancelled("r1")
    assert store.begin_case("r1", cases[1].case_id) == 0  # already cancelled: never starts
    run = store.get_run("r1")
    assert run is not None
    assert run.counts == {"running": 1, "cancelled": 2}
    cancelled, _ = final(cases[0], "cancelled")
    store.finish_case(cancelled, Event("test_cancelled", "r1", "p", {}))
    assert store.get_run("r1").status == "cancelled"  # type: ignore[union-attr]


def test_each_event_has_the_same_id_on_both_streams(store: RunStore) -> None:
    new_run(store, n=1)
    event_id = store.publish(Event("test_progress", "r1", "p", {"x": 1}))
    [(global_id, fields)] = store.redis.xrange(keys.EVENTS_STREAM, min=event_id, max=event_id)
    [(run_id, _)] = store.redis.xrange(keys.run_events("r1"), min=event_id, max=event_id)
    assert global_id == run_id == event_id
    entry = Entry.of(global_id, fields)
    assert (entry.run_id, entry.project, entry.channel) == ("r1", "p", "test_execution")
    assert entry.message()["payload"] == {"x": 1}


def test_unknown_case_is_not_found(store: RunStore) -> None:
    from testfleet.errors import NotFoundError

    new_run(store, n=1)
    with pytest.raises(NotFoundError):
        store.begin_case("r1", "nope")


@pytest.mark.parametrize(
    "statuses",
    [
        ["passed", "flaky"],
        ["passed", "error"],
        ["cancelled", "passed"],
        ["cancelled", "failed"],
        ["flaky", "flaky"],
    ],
)
def test_lua_and_python_decide_a_run_status_by_the_same_rules(
    store: RunStore, statuses: list[str]
) -> None:
    cases = new_run(store, n=len(statuses))
    counts: dict[str, int] = {}
    for case, status in zip(cases, statuses, strict=True):
        store.begin_case("r1", case.case_id)
        store.finish_case(*final(case, status))
        counts[status] = counts.get(status, 0) + 1
    expected = finished_run_status(counts)
    completed = events(store, "r1")[-1]
    assert completed["type"] == "run_completed"
    assert completed["payload"]["status"] == expected  # type: ignore[index]
    run = store.get_run("r1")
    [overview] = store.overviews(["r1"])
    assert run is not None
    assert overview is not None
    assert (run.status, overview.status) == (expected, expected)
    assert overview.counts == counts


def test_the_lua_scripts_do_not_retype_the_status_rules() -> None:
    ruled = set(FINAL_STATUSES) - {"cancelled"}  # cancel_run writes `cancelled` itself
    for name in scripts.NAMES:
        source = scripts.source(name)
        assert not [s for s in ruled if f"'{s}'" in source or f'"{s}"' in source], name
    assert json.loads(scripts.status_rules())["final"] == sorted(FINAL_STATUSES)


def test_a_listing_and_the_full_run_agree_on_the_status_at_every_stage(store: RunStore) -> None:
    cases = new_run(store, n=3)

    def both() -> tuple[str, str]:
        run = store.get_run("r1")
        [overview] = store.overviews(["r1"])
        assert run is not None
        assert overview is not None
        return run.status, overview.status

    assert both() == ("queued", "queued")
    store.begin_case("r1", cases[0].case_id)
    assert both() == ("running", "running")
    store.finish_case(*final(cases[0], "passed"))
    assert both() == ("running", "running")
    store.cancel_run("r1")
    assert both() == ("cancelled", "cancelled")
    assert store.get_run("r1").finishedMs is not None  # type: ignore[union-attr]


def test_the_async_face_reads_what_the_sync_face_reads(store: RunStore, redis_url: str) -> None:
    cases = new_run(store, n=2)
    store.begin_case("r1", cases[0].case_id)
    store.finish_case(*final(cases[0], "failed"))
    new_run(store, run_id="r2", n=1)

    async def read() -> tuple[object, ...]:
        client = aredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            reader = AsyncRunReader(client)
            return (
                await reader.get_run("r1"),
                await reader.head("r1"),
                await reader.heads(["r2", "nope", "r1"]),
                await reader.overviews(["r1", "nope"], case_tags=True),
                await reader.read_run_events("r1"),
            )
        finally:
            await client.aclose()

    assert asyncio.run(read()) == (
        store.get_run("r1"),
        store.head("r1"),
        store.heads(["r2", "nope", "r1"]),
        store.overviews(["r1", "nope"], case_tags=True),
        store.read_run_events("r1"),
    )
    head = store.head("r1")
    assert head is not None
    assert (head.projectId, head.finishedMs is None) == ("p", True)
    assert store.head("nope") is None


def test_the_scripts_run_completed_has_the_envelope_and_payload_python_would_write(
    store: RunStore,
) -> None:
    [case] = new_run(store, n=1)
    store.begin_case("r1", case.case_id)
    store.finish_case(*final(case, "passed"))
    completed = events(store, "r1")[-1]
    written = stream.envelope(Event("run_completed", "r1", "p", {}, correlation_id="r1"))
    assert completed.keys() == {"id", *written}
    assert completed["correlationId"] == "r1"
    assert completed["metadata"] == {"source": "test@host", "priority": "normal"}
    payload = payloads.parse("run_completed", completed["payload"])  # type: ignore[arg-type]
    assert payloads.unknown_fields(payload) == []


def test_a_progress_write_answers_what_the_next_step_asks(store: RunStore) -> None:
    [case] = new_run(store, n=1)
    attempt = store.begin_case("r1", case.case_id)
    running = case.model_copy(update={"status": "running", "attempts": attempt})
    written = store.progress_case(running, Event("test_progress", "r1", "p", {}))
    assert written.stored
    assert written.stop_reason(attempt) is None
    assert written.stop_reason(attempt) == store.stop_reason("r1", case.case_id, attempt)

    store.begin_case("r1", case.case_id, first=False)  # another delivery took it over
    superseded = store.progress_case(running)
    assert superseded.stop_reason(attempt) == "superseded"
    assert superseded.stop_reason(attempt) == store.stop_reason("r1", case.case_id, attempt)

    store.cancel_run("r1")
    cancelled = store.progress_case(running)
    assert cancelled.stop_reason(attempt + 1) == "cancelled"
    assert cancelled.stop_reason(attempt + 1) == store.stop_reason("r1", case.case_id, attempt + 1)


def test_a_progress_write_on_a_final_case_stores_nothing_and_says_so(store: RunStore) -> None:
    [case] = new_run(store, n=1)
    store.begin_case("r1", case.case_id)
    store.finish_case(*final(case, "passed"))
    late = case.model_copy(update={"status": "running"})
    assert store.progress_case(late) == Progressed(stored=False)
