"""The run indexes: every run (``tf:runs``) and each project's (``tf:project:<p>:runs``),
sorted sets of run id scored by creation time (Unix epoch ms).

The run store writes them with the run (``RunStore.create_run``) and alone reads them:
the listing pages a project's index (``listing``), and the queries here answer the rest
(the fleet metrics' newest runs, whose runs a project owns, the retention sweep's
expired runs), run by ``RunReader.ask`` like every other read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from testfleet import keys
from testfleet.store.query import Query


def newest_runs_query(count: int) -> Query[list[str]]:
    """The ids of the newest ``count`` runs of every project, newest first."""
    return Query(
        lambda pipe: pipe.zrevrange(keys.RUNS_INDEX, 0, count - 1),
        lambda replies: [str(run_id) for run_id in replies[0]],
    )


def project_runs_query(project: str, run_ids: Sequence[str]) -> Query[set[str]]:
    """Which of ``run_ids`` are ``project``'s runs (and still indexed)."""

    def build(pipe: Any) -> None:
        for run_id in run_ids:
            pipe.zscore(keys.project_runs(project), run_id)

    def parse(replies: list[Any]) -> set[str]:
        return {run_id for run_id, score in zip(run_ids, replies, strict=True) if score is not None}

    return Query(build, parse)


def created_before_query(cutoff_ms: int, count: int) -> Query[list[str]]:
    """The ids of at most ``count`` runs created before ``cutoff_ms``, oldest first."""
    return Query(
        lambda pipe: pipe.zrangebyscore(keys.RUNS_INDEX, "-inf", f"({cutoff_ms}", 0, count),
        lambda replies: [str(run_id) for run_id in replies[0]],
    )
