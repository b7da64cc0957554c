"""Fleet metrics on a real local fleet: the API's /metrics, parsed with prometheus_client's
parser, has every fleet family, and each moves while a real run goes through the fleet."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from subprocess import CompletedProcess

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, Fleet
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

FAMILIES = {
    "testfleet_fleet_metrics_up": "gauge",
    "testfleet_queue_depth": "gauge",
    "testfleet_cases_running": "gauge",
    "testfleet_worker_slots": "gauge",
    "testfleet_workers": "gauge",
    "testfleet_worker_heartbeat_age_seconds": "gauge",
    "testfleet_grid_up": "gauge",
    "testfleet_grid_slots_free": "gauge",
    "testfleet_grid_slots_capacity": "gauge",
    "testfleet_grid_session_queue": "gauge",
    "testfleet_runs": "gauge",
    "testfleet_case_duration_seconds": "histogram",
    "testfleet_step_duration_seconds": "histogram",
    "testfleet_session_start_seconds": "histogram",
    "testfleet_pool_resets": "counter",
    "testfleet_pool_replacements": "counter",
    "testfleet_sessions_opened": "counter",
    "testfleet_ai_analyses": "counter",
    "testfleet_ai_tokens": "counter",
    "testfleet_ai_cost_usd": "counter",
}

SUITE = (
    """
name: Metrics
env: [DEMO_URL]
base_url: ${DEMO_URL}
tests:
"""
    + "".join(
        f"""
  - name: look {i}
    priority: {"critical" if i % 2 else "low"}
    steps:
      - navigate: /login
      - assert_title: Sign in
      - wait: 2  # long enough for a scrape to see the case running on a fast pool
      - screenshot: {{name: page, analyze: general}}
"""
        for i in range(6)
    )
    + """
  - name: wrong heading
    steps:
      - navigate: /
      - assert_text: {selector: h1, equals: "Not the title"}
        timeout: 1
"""
)


def scrape(fleet: Fleet, url: str | None = None) -> tuple[dict[str, str], Samples]:
    """``/metrics`` of the API (or ``url``) as Prometheus scrapes it: with a key that has
    ``metrics:read`` (the fleet's admin key) as ``Authorization: Bearer``."""
    answer = httpx.get(
        f"{url or fleet.status['api_url']}/metrics",
        headers={"Authorization": f"Bearer {fleet.admin_key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    text = answer.text
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return types, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def test_every_fleet_family_exists_and_moves_during_a_run(fleet: Fleet, tmp_path: Path) -> None:
    types, before = scrape(fleet)
    for name, kind in FAMILIES.items():
        assert types.get(name) == kind, f"{name}: {types.get(name)}"
    assert value(before, "testfleet_fleet_metrics_up") == 1
    assert value(before, "testfleet_grid_up") == 1
    assert value(before, "testfleet_workers", state="alive") == 2
    assert value(before, "testfleet_grid_slots_capacity") >= 2

    suite = tmp_path / "metrics.yaml"
    suite.write_text(SUITE)
    done: list[CompletedProcess[str]] = []
    runner = threading.Thread(target=lambda: done.append(fleet.run("run", str(suite))))
    runner.start()
    seen = {"queued": 0.0, "running": 0.0, "free_min": value(before, "testfleet_grid_slots_free")}

    def busy_seen() -> bool:
        _, now = scrape(fleet)
        seen["queued"] = max(seen["queued"], total(now, "testfleet_queue_depth"))
        seen["running"] = max(seen["running"], value(now, "testfleet_cases_running"))
        seen["free_min"] = min(seen["free_min"], value(now, "testfleet_grid_slots_free"))
        return bool(seen["queued"] and seen["running"] and seen["free_min"] < 2) or bool(done)

    try:
        wait_until("the fleet to look busy in /metrics", busy_seen, 240, interval_s=0.1)
    finally:
        runner.join(timeout=300)
    assert done, "testfleet run did not finish"
    assert done[0].returncode == 1, done[0].stdout + done[0].stderr  # one test fails on purpose
    assert seen["queued"] > 0, "cases waited in the queue"
    assert seen["running"] > 0, "cases ran"
    assert seen["free_min"] < value(before, "testfleet_grid_slots_capacity"), "slots were taken"

    # /metrics answers from a collection up to CACHE_S old: wait for one taken after the run.
    latest: dict[str, Samples] = {}

    def run_counted() -> bool:
        latest["after"] = now = scrape(fleet)[1]
        name = "testfleet_case_duration_seconds_count"
        return (
            value(now, name, status="passed") - value(before, name, status="passed") >= 6
            and value(now, name, status="failed") - value(before, name, status="failed") >= 1
            and value(now, "testfleet_runs", status="failed")
            > value(before, "testfleet_runs", status="failed")
        )

    wait_until("the run to be counted in /metrics", run_counted, 60, interval_s=0.5)
    after = latest["after"]

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("testfleet_case_duration_seconds_count", status="passed") == 6
    assert moved("testfleet_case_duration_seconds_count", status="failed") == 1
    assert moved("testfleet_case_duration_seconds_sum", status="passed") > 0
    assert moved("testfleet_step_duration_seconds_count", action="navigate") == 7
    assert moved("testfleet_step_duration_seconds_count", action="screenshot") == 6
    starts = sum(moved("testfleet_session_start_seconds_count", kind=k) for k in ("new", "pooled"))
    assert starts == 7, "one session per attempt"
    resets = moved("testfleet_pool_resets_total", result="ok")
    opened = moved("testfleet_sessions_opened_total")
    assert resets + opened >= 7 - moved("testfleet_pool_resets_total", result="failed")
    assert resets > 0, "2 workers, 7 tests: pooled sessions were reset and lent again"
    # No OPENAI_API_KEY on this fleet: the analyses are counted as skipped (6 screenshot
    # steps, and the failing test's failure screenshot).
    assert moved("testfleet_ai_analyses_total", result="skipped") == 7
    assert moved("testfleet_runs", status="failed") == 1
    for name in ("testfleet_pool_replacements_total", "testfleet_ai_tokens_total",
                 "testfleet_ai_cost_usd_total", "testfleet_grid_session_queue",
                 "testfleet_worker_heartbeat_age_seconds", "testfleet_worker_slots"):  # fmt: skip
        assert any(n == name for n, _ in after), f"{name} is exported"


def test_the_grafana_dashboard_uses_only_metrics_the_fleet_exports(fleet: Fleet) -> None:
    exported: set[str] = set()
    for url in (fleet.status["api_url"], fleet.status["gateway_url"]):
        types, _ = scrape(fleet, str(url))
        exported |= set(types)
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "testfleet-fleet.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 20
    used = {re.sub(r"_(bucket|count|sum|total)$", "", m)
            for e in exprs for m in re.findall(r"testfleet_\w+", e)}  # fmt: skip
    assert used - exported == set()
    assert set(FAMILIES) <= used | {"testfleet_worker_slots"}, "every fleet family is shown"
