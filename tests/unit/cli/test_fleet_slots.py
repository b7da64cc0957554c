"""`testfleet up` sizes the Grid for what the workers' pools hold, warm spares included."""

from __future__ import annotations

import pytest

from cli.fleet import browser_slots
from testfleet.settings import GridSettings, Settings, WorkerSettings


@pytest.mark.parametrize(
    ("grid", "concurrency", "workers", "slots"),
    [
        ({}, 1, 2, 2),  # one pooled session per worker: as many slots as workers
        ({"pool_spares": 1}, 1, 2, 4),  # a spare per worker process: 2N, not N + 1
        ({"pool_spares": 1}, 2, 3, 12),  # each Celery pool child has its own pool
        ({"pool_size": 0, "pool_spares": 1}, 1, 2, 2),  # no pool, no spare
        ({"pool_size": 2}, 1, 1, 2),
    ],
)
def test_the_grid_has_a_slot_for_every_session_a_pool_may_hold(
    grid: dict[str, int], concurrency: int, workers: int, slots: int
) -> None:
    settings = Settings(
        grid=GridSettings.model_validate(grid), worker=WorkerSettings(concurrency=concurrency)
    )
    assert browser_slots(settings, workers) == slots
