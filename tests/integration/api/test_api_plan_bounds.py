"""Planning a submission is bounded, through the real API (on a real Redis).

The Selenium IDE bomb (nested ``run``, a few KB; ``tests.unit.recordings.side_bomb``)
used to take a minute of the API's CPU and hundreds of MB, inlined in the API
process; two of them held both planner threads and stalled every project. Now it
is refused while it converts, in a child process, and a submission that asks for
more work than the plan limits allow is stopped at ``max_plan_cpu_s`` while other
projects' submissions are planned meanwhile.
"""

from __future__ import annotations

import resource
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from api.submit import planning
from testfleet.settings import (
    ApiSettings,
    GatewaySettings,
    GridSettings,
    LimitSettings,
    PathSettings,
    RedisSettings,
    Settings,
    WorkerSettings,
)
from tests.integration.api.helpers import MAX_BODY_BYTES, QUEUE, case, error_of, submit, suite
from tests.ports import held_port
from tests.unit.recordings.side_bomb import side_bomb, side_bomb_text
from tests.waiting import wait_until

_MIB = 1024 * 1024
PLAN_CPU_S = 2


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The conftest's settings, with small plan limits (the API fixture uses these)."""
    return Settings(
        redis=RedisSettings(url=redis_url),
        api=ApiSettings(port=held_port(), max_body_bytes=MAX_BODY_BYTES),
        gateway=GatewaySettings(public_url="https://gw.example.test:8443"),
        grid=GridSettings(url=f"http://127.0.0.1:{held_port()}"),  # nothing listens
        worker=WorkerSettings(queue=QUEUE),
        paths=PathSettings(state_dir=tmp_path_factory.mktemp("api") / "state"),
        limits=LimitSettings(max_plan_cpu_s=PLAN_CPU_S, max_plan_memory_bytes=256 * _MIB),
    )


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def test_the_selenium_ide_bomb_is_refused_while_it_converts_outside_the_api(
    alpha: httpx.Client,
) -> None:
    assert len(side_bomb_text(9)) < 4_000  # 5 ** 9 clicks once inlined
    peak_before_mib = _peak_rss_mib()
    answer = alpha.post("/api/v1/runs", json={"suites": [side_bomb(9)], "sources": ["b.side"]})
    assert answer.status_code == 422, answer.text
    assert error_of(answer)["problems"] == [
        "b.side: tests[0].steps: 501 steps is more than the 500 a test may have (counted as "
        "its flows are expanded, each use of a flow with all of the flow's steps; expanding "
        "stopped there); split the test or raise TESTFLEET_LIMITS__MAX_STEPS_PER_TEST"
    ]
    # The API's process (this one: uvicorn serves in a thread) held none of the work; the
    # child that did it could take at most max_plan_memory_bytes (256 MiB here).
    assert _peak_rss_mib() - peak_before_mib < 64
    assert alpha.get("/api/v1/runs").json()["runs"] == []


def _heavy(index: int) -> dict[str, Any]:
    """A suite within every counted limit (415 steps per test, 90 data rows) that is much
    work to expand: twenty of them ask for minutes of CPU."""
    clicks = [{"click": f"#{c}"} for c in "abcd"]
    return suite(
        f"heavy {index}",
        {
            "name": "t {{ n }}",
            "data": [{"n": str(k)} for k in range(90)],
            "steps": [{"use": "top"}],
        },
        flows={
            "leaf": {"steps": clicks},
            "mid": {"steps": [{"use": "leaf"}] * 9},
            "top": {"steps": [{"use": "mid"}] * 9},
        },
    )


def test_work_past_the_plan_limit_is_stopped_and_other_projects_go_on_meanwhile(
    alpha: httpx.Client, beta: httpx.Client
) -> None:
    heavy = {"suites": [_heavy(i) for i in range(20)]}
    with ThreadPoolExecutor(2) as pool:
        # Two at once: as many as there used to be planner threads for every project.
        pending = [pool.submit(alpha.post, "/api/v1/runs", json=heavy) for _ in range(2)]
        wait_until(
            "alpha's two submissions to be planning",
            lambda: planning.running("alpha") == 2 or any(p.done() for p in pending),
            timeout_s=30,
        )
        # Another project's submission is planned and queued meanwhile...
        accepted = submit(beta, suite("ordinary", case("home")))
        assert accepted["status"] == "queued"
        # ...and alpha may not hold more planners than its share.
        third = alpha.post("/api/v1/runs", json={"suites": [suite("more", case("x"))]})
        still_planning = planning.running("alpha")
        answers = [p.result() for p in pending]
    assert still_planning == 2, "alpha's submissions ended before beta's was accepted"
    assert third.status_code == 429, third.text
    assert "TESTFLEET_LIMITS__MAX_PLANS_PER_PROJECT" in error_of(third)["message"]
    assert third.headers["retry-after"]
    for answer in answers:
        assert answer.status_code == 413, answer.text
        message = error_of(answer)["message"]
        assert message.startswith(f"planning the submission took more than {PLAN_CPU_S} s of CPU")
        assert "TESTFLEET_LIMITS__MAX_PLAN_CPU_S" in message
    assert planning.running("alpha") == 0
    # Once they are answered, alpha submits as before.
    assert submit(alpha, suite("after", case("home")))["status"] == "queued"
