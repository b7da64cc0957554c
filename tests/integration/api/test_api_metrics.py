"""``/metrics`` on the API: only a key with ``metrics:read`` (or ``admin``) scrapes it,
``/health`` and ``/ready`` stay open, and what a scrape costs Redis does not grow with
the runs the fleet keeps (the run statuses are walked at most once per ``CACHE_S``)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from testfleet import keys
from testfleet.fleet.auth import KeyStore
from testfleet.metrics.export import CACHE_S, priority_lists
from testfleet.settings import Settings
from tests.conftest import cli
from tests.integration.api.helpers import Keys, client_for, error_of

pytestmark = pytest.mark.redis

RUNS = 300
"""Runs kept in the index while scraping (each walk of their statuses is one HGET each)."""
SCRAPES = 20


def scrape(api_url: str, key: str) -> httpx.Response:
    """``/metrics`` as Prometheus sends it (``authorization: {credentials_file: ...}``)."""
    return httpx.get(f"{api_url}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_metrics_need_a_key_with_the_metrics_scope(api_url: str, api_keys: Keys) -> None:
    with httpx.Client(base_url=api_url, timeout=30) as anyone:
        # What was found: anyone reaching the port read every project's load, the AI
        # spend and the workers' names.
        refused = anyone.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "testfleet_" not in refused.text
        assert "Authorization: Bearer" in error_of(refused)["message"]
        assert anyone.get("/health").status_code == 200
        assert anyone.get("/ready").status_code == 200
    with client_for(api_url, api_keys.alpha) as project:
        denied = project.get("/metrics")
        assert denied.status_code == 403
        assert "metrics:read" in error_of(denied)["message"]
    for key in (api_keys.metrics, api_keys.alpha_admin):
        answer = scrape(api_url, key)
        assert answer.status_code == 200, answer.text
        assert "testfleet_fleet_metrics_up 1.0" in answer.text
        assert "testfleet_api_requests_total" in answer.text
    with client_for(api_url, api_keys.metrics) as scraper:
        assert scraper.get("/metrics").status_code == 200, "X-API-Key works too"
        assert scraper.get("/api/v1/runs").status_code == 403, "a scraper's key reads no runs"
        assert scraper.get("/api/v1/fleet").status_code == 403


def test_scrapes_walk_the_runs_at_most_once_per_cache_period(
    api_url: str, api_keys: Keys, r: redis.Redis
) -> None:
    pipe = r.pipeline(transaction=False)
    for n in range(RUNS):
        pipe.zadd(keys.RUNS_INDEX, {f"run{n}": n})
        pipe.hset(keys.run(f"run{n}"), "status", "passed")
    pipe.execute()
    r.config_resetstat()
    started_s = time.monotonic()
    with ThreadPoolExecutor(4) as scrapers:
        answers = list(scrapers.map(lambda _: scrape(api_url, api_keys.metrics), range(SCRAPES)))
    elapsed_s = time.monotonic() - started_s
    assert all(a.status_code == 200 for a in answers)
    assert all('testfleet_runs{status="passed"}' in a.text for a in answers)
    hgets = int(r.info("commandstats").get("cmdstat_hget", {}).get("calls", 0))
    # One HGET per request checks its key; the rest are walks of the runs' statuses, one
    # per CACHE_S at most (before: one per scrape, RUNS x SCRAPES).
    walks_allowed = 1 + int(elapsed_s // CACHE_S)
    assert hgets <= SCRAPES + RUNS * walks_allowed, f"{hgets} HGETs in {elapsed_s:.1f} s"


def test_queue_depth_is_read_fresh_on_every_scrape(
    api_url: str, api_keys: Keys, r: redis.Redis, settings: Settings
) -> None:
    low = priority_lists(settings)["low"]

    def depth() -> str:
        text = scrape(api_url, api_keys.metrics).text
        [line] = [
            x for x in text.splitlines() if x.startswith('testfleet_queue_depth{priority="low"}')
        ]
        return line.split()[-1]

    assert depth() == "0.0"
    r.rpush(low, "a", "b", "c")
    assert depth() == "3.0", "only the runs' statuses and the Grid's are kept between scrapes"


def test_keys_create_makes_a_scrapers_key(
    api_url: str, settings: Settings, r: redis.Redis, tmp_path: Path
) -> None:
    env = dict(
        os.environ,
        TESTFLEET_REDIS__URL=settings.redis.url,
        TESTFLEET_PATHS__STATE_DIR=str(tmp_path),
    )
    created = cli("keys", "create", "--project", "ops", "--scopes", "metrics:read", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert KeyStore(r).verify(key).scopes == ["metrics:read"]
    assert scrape(api_url, key).status_code == 200
