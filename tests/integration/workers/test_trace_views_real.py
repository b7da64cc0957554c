"""A real failing test's trace, seen where users see it: ``run_case`` on real Redis and
headless Chromium against a page that logs an error and gets a 500 (tests/evidence_site.py),
then its stored trace opened in real Chromium in the offline viewer, the HTML report and
the dashboard: each opens at the failing step and shows the console error, the failed
request with its status and the page's text in the DOM snapshot."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import Browser, Page, expect

from api.reports import html_report
from gateway.app import build_server
from testfleet.artifacts import open_store
from testfleet.fleet.auth import KeyStore
from testfleet.settings import ApiSettings, GatewaySettings, Settings
from testfleet.store import RunStore
from tests.dashboard.browser import chromium, open_page, sign_in
from tests.evidence_site import evidence_site
from tests.fixtures_redis_api import serving
from tests.integration.workers.runcase import CountingProvider, create_run, execute
from tests.ports import held_port

pytestmark = [pytest.mark.redis, pytest.mark.browser]

CONSOLE_ERROR = "save failed: the backend said no"
PAGE_TEXT = "server error 500"
STEPS: list[dict[str, Any]] = [
    {"step_type": "navigate", "input_data": "/app"},
    {"step_type": "click", "selector": "#go"},
    {"step_type": "assert", "selector": "#status", "expected_result": "saved"},
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _failed_trace(store: RunStore, provider: CountingProvider, settings: Settings) -> str:
    with evidence_site() as site:
        document = {
            "name": "Orders",
            "base_url": site,
            "timeout_seconds": 1.5,
            "tests": [
                {
                    "name": "saves an order",
                    "steps": [{"order_index": i, **s} for i, s in enumerate(STEPS, 1)],
                }
            ],
        }
        run_id, case_id = create_run(store, document)
        result = execute(store, provider, settings, run_id, case_id)
    assert result is not None
    assert (result.status, result.failed_step) == ("failed", 3)
    assert result.history[-1].trace is not None
    return run_id


def _explains_itself(page: Page, panel: str, table_row: str) -> None:
    shown = page.locator(panel)
    expect(shown).to_have_attribute("data-step", "3")
    expect(shown.locator(table_row, has_text=CONSOLE_ERROR).first).to_be_visible()
    expect(shown.locator(table_row, has_text="/api/save").first).to_contain_text("500")
    before = shown.frame_locator("iframe[title='step 3: DOM before']")
    expect(before.locator("#status")).to_have_text(PAGE_TEXT)


def test_a_real_failure_explains_itself_offline_in_the_report_and_the_dashboard(
    store: RunStore,
    provider: CountingProvider,
    settings: Settings,
    browser: Browser,
    tmp_path: Path,
) -> None:
    run_id = _failed_trace(store, provider, settings)
    run = store.get_run(run_id)
    assert run is not None
    (case,) = run.tests
    artifacts = open_store(settings)
    trace = artifacts.read(run_id, str(case.history[-1].trace))

    folder = tmp_path / "trace"
    with zipfile.ZipFile(BytesIO(trace)) as archive:
        archive.extractall(folder)
    report = tmp_path / "report.html"
    report.write_text(html_report(run, artifacts))
    for page_file in (folder / "index.html", report):
        with open_page(browser) as bp:
            bp.page.goto(page_file.as_uri())
            _explains_itself(bp.page, ".tf-panel:visible", "tr.tf-row-bad")
            bp.assert_no_errors()

    own = settings.model_copy(
        update={
            "gateway": GatewaySettings(port=held_port(), read_block_ms=100),
            "api": ApiSettings(public_url=f"http://127.0.0.1:{held_port()}"),
        }
    )
    client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
    key = KeyStore(client).create("proj", ["test:read"])[1]
    client.close()
    # No API is served here: the page's read of the failed run's labels is refused (the
    # run's page shows without them).
    refused = ("ERR_CONNECTION_REFUSED",)
    with serving(build_server(own)), open_page(browser, allow=refused) as bp:
        sign_in(bp.page, f"http://127.0.0.1:{own.gateway.port}", key, f"#/runs/{run_id}")
        _explains_itself(bp.page, ".trace-panel", "tr.bad")
        bp.assert_no_errors()
