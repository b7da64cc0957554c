"""The run store's completion appends each finished run to the archive stream, once, in
the same script as ``run_completed`` (finished or cancelled), and nothing before."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from testfleet import keys
from testfleet.store import RunStore
from tests.unit.store.test_runstore import final, new_run, store  # noqa: F401 (fixture)

pytestmark = pytest.mark.redis


def archived(store: RunStore) -> list[str]:  # noqa: F811 (the fixture's name)
    entries = store.redis.xrange(keys.ARCHIVE_STREAM)
    return [fields[keys.ARCHIVE_RUN_FIELD] for _id, fields in entries]


def test_a_run_is_appended_once_when_its_last_case_finishes(store: RunStore) -> None:  # noqa: F811
    cases = new_run(store, "r1")
    for case in cases[:-1]:
        store.begin_case("r1", case.case_id)
        assert store.finish_case(*final(case, "passed"))
    assert archived(store) == []  # not finished yet

    store.begin_case("r1", cases[-1].case_id)
    with ThreadPoolExecutor(4) as pool:  # concurrent deliveries of the last case
        list(pool.map(lambda _: store.finish_case(*final(cases[-1], "failed")), range(8)))

    assert archived(store) == ["r1"]


def test_a_cancelled_run_is_appended_once(store: RunStore) -> None:  # noqa: F811
    new_run(store, "r2")
    store.cancel_run("r2")
    store.cancel_run("r2")

    assert archived(store) == ["r2"]
