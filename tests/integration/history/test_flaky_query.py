"""The flaky list's SQL (``queries.flaky``) against the rules written in Python
(``testfleet.history.rules``) on a random history in a real PostgreSQL: the same runs,
flaky runs and failed runs per test, and the same tests listed."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from testfleet.history import naming, queries, rules
from tests.integration.history.seed import T0, SeedRun, Try, seed

pytestmark = pytest.mark.postgres

PATTERNS = (
    ("passed",),
    ("passed",),
    ("passed",),
    ("failed", "passed"),
    ("failed", "failed"),
    ("error", "passed"),
    ("failed",),
    ("error",),
    ("cancelled",),
    ("failed", "cancelled"),
)
"""A test's attempts in one run (passing runs are the most common)."""
COMMITS = ("c1", "c2", "c3", "c4", None)
TESTS = [("Suite", f"test {i}") for i in range(12)]


def _random_history(engine: Engine, seed_value: int) -> None:
    rng = random.Random(seed_value)
    runs = []
    for number in range(40):
        tests = {}
        for test in rng.sample(TESTS, rng.randint(3, len(TESTS))):
            statuses = rng.choice(PATTERNS)
            tests[test] = [
                Try(s, rng.randint(10, 500), None if s == "passed" else "boom") for s in statuses
            ]
        runs.append(SeedRun(f"r{number}", number, commit=rng.choice(COMMITS), tests=tests))
    seed(engine, "shop", runs)


@pytest.mark.parametrize("seed_value", [1, 2, 3])
def test_the_flaky_list_follows_the_rules(engine: Engine, seed_value: int) -> None:
    _random_history(engine, seed_value)
    with Session(engine) as session:
        listed = {
            naming.joined(f.identity): f
            for f in queries.flaky(session, "shop", T0 - timedelta(days=1), limit=100)
        }
        expected: dict[str, tuple[int, int, int, int, int]] = {}
        for suite, test in TESTS:
            identity = rules.Identity(suite, test, "")
            found = queries.attempts(session, queries.case_id(session, "shop", identity))
            decided = [r for r in rules.outcomes(found) if r.decided]
            flaky = len(rules.flakes(decided))
            if flaky:
                lost = sum(
                    a.duration_ms
                    for r in decided
                    for a in r.attempts
                    if a.status in ("failed", "error")
                )
                expected[naming.joined(identity)] = (
                    len(decided),
                    flaky,
                    sum(1 for r in decided if r.ended_failed),
                    sum(len(r.attempts) - 1 for r in decided),
                    lost,
                )

    assert expected, "the random history has no flaky test: the test proves nothing"
    got = {
        name: (f.runs, f.flaky_runs, f.failed_runs, f.retries, f.lost_ms)
        for name, f in listed.items()
    }
    assert got == expected
