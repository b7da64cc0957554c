"""The dashboard's trace view in real headless Chromium against a real gateway and Redis.

A failed test's kept trace (``tests.trace_files``, stored in the artifact store as the
worker stores it) opens at the failing step, with its console error, its failed
request and its DOM snapshot; live counts arrive with ``test_progress``. Hostile
snapshots run nothing, load nothing (a beacon server counts zero) and cannot read
the dashboard's key; removing the frame's sandbox or the snapshot route's policy is
shown to be seen by the same check.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import httpx
import pytest
import redis
from playwright.sync_api import Browser, Page, Route, expect

from gateway import traces
from testfleet.artifacts import ArtifactStore, trace_name
from testfleet.fleet.auth import KeyStore
from testfleet.results import AttemptSummary
from testfleet.store import RunStore
from tests.beacon import Beacon, beacon_server
from tests.dashboard.browser import open_page, sign_in
from tests.dashboard.simulate import SimulatedRun
from tests.trace_files import CONSOLE_ERROR, FAILED_URL, HOSTILE_BUTTON, SNAPSHOT_TEXT, trace_zip
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.browser]

_POLICY_META = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>')


@pytest.fixture
def key(r: redis.Redis) -> str:
    return KeyStore(r).create("alpha", ["test:read", "test:write", "dashboard:read"])[1]


@pytest.fixture
def beacon() -> Iterator[Beacon]:
    with beacon_server() as b:
        yield b


def without_own_policy(data: bytes) -> bytes:
    """The trace zip with its snapshots' own policy removed (as if the capture missed it):
    then only the route's policy stands between them and the network."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            body = src.read(name)
            if name.startswith("snapshots/"):
                body = _POLICY_META.sub("", body.decode()).encode()
            dst.writestr(name, body)
    return out.getvalue()


def failed_with_trace(store: RunStore, artifacts: ArtifactStore, data: bytes) -> SimulatedRun:
    """A run whose one test failed at step 2 and kept ``data`` as attempt 1's trace."""
    sim = SimulatedRun(store, artifacts, "alpha", tests=1, steps=2).create()
    (case_id,) = sim.case_ids
    sim.start(case_id)
    sim.step(case_id, 1)
    sim.step(case_id, 2, error="element not clickable", console_errors=1, failed_requests=2)
    name = artifacts.save(sim.run_id, trace_name(case_id, 1), data)
    summary = AttemptSummary(attempt=1, status="failed", worker="w", trace=name)
    sim.cases[case_id] = sim.cases[case_id].model_copy(update={"history": [summary]})
    sim.finish(case_id, "failed", "element not clickable")
    return sim


def open_trace(page: Page, base_url: str, key: str, sim: SimulatedRun) -> None:
    sign_in(page, base_url, key, f"#/runs/{sim.run_id}")
    page.locator(".trace .trace-panel[data-step='2']").wait_for()


def test_a_failed_tests_trace_opens_at_the_failing_step(
    browser: Browser, base_url: str, key: str, store: RunStore, artifacts: ArtifactStore
) -> None:
    sim = failed_with_trace(store, artifacts, trace_zip())
    with open_page(browser) as bp:
        page = bp.page
        open_trace(page, base_url, key, sim)
        panel = page.locator(".trace-panel")
        expect(panel.locator("tr.bad", has_text=CONSOLE_ERROR)).to_be_visible()
        expect(panel.locator("tr.bad", has_text=FAILED_URL)).to_contain_text("500")
        frame = panel.frame_locator("iframe[title='step 2: DOM after']")
        expect(frame.locator("h1")).to_have_text(SNAPSHOT_TEXT)
        expect(panel.locator("img.trace-shot")).to_have_js_property("naturalWidth", 4)
        expect(page.locator(".trace-step.bad[data-step='2']")).to_contain_text("1 console error")
        page.locator(".trace-step[data-step='1']").click()
        expect(panel).to_contain_text("shop ready")
        bp.assert_no_errors()


def test_live_counts_arrive_with_test_progress(
    browser: Browser, base_url: str, key: str, store: RunStore, artifacts: ArtifactStore
) -> None:
    sim = SimulatedRun(store, artifacts, "alpha", tests=1, steps=3).create()
    (case_id,) = sim.case_ids
    with open_page(browser) as bp:
        sign_in(bp.page, base_url, key, f"#/runs/{sim.run_id}")
        sim.start(case_id)
        sim.step(case_id, 1, console_errors=2, failed_requests=1)
        live = bp.page.locator(".live-counts")
        expect(live).to_have_text("2 console error(s) · 1 failed request(s)")
        bp.assert_no_errors()


def test_snapshot_route_needs_a_ticket_and_sandboxes(
    base_url: str, key: str, store: RunStore, artifacts: ArtifactStore
) -> None:
    sim = failed_with_trace(store, artifacts, trace_zip())
    (case_id,) = sim.case_ids
    path = f"/dashboard/api/runs/{sim.run_id}/traces/{case_id}"
    with httpx.Client(base_url=base_url, headers={"X-API-Key": key}) as http:
        assert http.get(path).json() == {"attempts": {"1": trace_name(case_id, 1)}}
        assert httpx.get(f"{base_url}{path}/1/trace.json").status_code == 401
        with_key = httpx.get(f"{base_url}{path}/1/snapshots/002-after.html?ticket={key}")
        assert with_key.status_code == 401, "a key in a URL is refused"
        ticket = http.post("/api/stream-tickets").json()["ticket"]
        snapshot = httpx.get(f"{base_url}{path}/1/snapshots/002-after.html?ticket={ticket}")
        assert snapshot.status_code == 200
        assert snapshot.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
        again = httpx.get(f"{base_url}{path}/1/snapshots/002-after.html?ticket={ticket}")
        assert again.status_code == 401, "a ticket works once"
        assert http.get(f"{path}/1/../../x").status_code == 404


def _calls_home(page: Page, beacon: Beacon) -> list[str]:
    frames = page.locator(".trace-panel iframe")
    for i in range(frames.count()):
        frame = frames.nth(i).element_handle().content_frame()
        assert frame is not None
        expect(frame.locator("p").first).to_have_text(SNAPSHOT_TEXT)
        frame.locator(f"#{HOSTILE_BUTTON}").click()
        assert "/snapshots/" in frame.url, f"a snapshot navigated to {frame.url}"
    page.goto(f"{beacon.url}/done")
    wait_until("the beacon saw /done", lambda: "/done" in beacon.seen(), 10)
    return beacon.hostile()


def test_hostile_snapshots_stay_inert_in_the_dashboard(
    browser: Browser,
    base_url: str,
    key: str,
    store: RunStore,
    artifacts: ArtifactStore,
    beacon: Beacon,
) -> None:
    sim = failed_with_trace(store, artifacts, without_own_policy(trace_zip(beacon=beacon.url)))
    with open_page(browser) as bp:
        open_trace(bp.page, base_url, key, sim)
        assert bp.page.evaluate("sessionStorage.getItem('testfleet.apiKey')") == key
        expect(bp.page.locator(".trace-panel iframe").first).to_have_attribute("sandbox", "")
        assert _calls_home(bp.page, beacon) == []


def _unsandboxed_view(route: Route) -> None:
    body = route.fetch().text().replace('sandbox: "", ', "")
    route.fulfill(body=body, headers={"content-type": "text/javascript; charset=utf-8"})


def test_the_dashboard_check_sees_a_missing_sandbox(
    browser: Browser,
    base_url: str,
    key: str,
    store: RunStore,
    artifacts: ArtifactStore,
    beacon: Beacon,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without the frame's sandbox (and the route's), the snapshot's form leaves the view.
    monkeypatch.setattr(traces, "SNAPSHOT_HEADER_POLICY", traces.SNAPSHOT_HEADER_POLICY[9:])
    sim = failed_with_trace(store, artifacts, without_own_policy(trace_zip(beacon=beacon.url)))
    with open_page(browser) as bp:
        bp.page.route("**/dashboard/static/traceview.js", _unsandboxed_view)
        open_trace(bp.page, base_url, key, sim)
        frame = bp.page.locator(".trace-panel iframe").first.element_handle().content_frame()
        assert frame is not None

        def out() -> object:
            # Out: it reached the beacon, or its refresh left the snapshot (for an error
            # page: the dashboard's frame-src stops it there).
            if "/snapshots/" not in frame.url:
                return frame.url
            button = frame.locator(f"#{HOSTILE_BUTTON}")
            if button.count():
                button.click()
            return beacon.hostile()

        wait_until("a hostile snapshot got out", out, 10)


def test_the_dashboard_check_sees_a_missing_policy(
    browser: Browser,
    base_url: str,
    key: str,
    store: RunStore,
    artifacts: ArtifactStore,
    beacon: Beacon,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without the route's policy (the snapshots have none of their own here), CSS calls out.
    monkeypatch.setattr(traces, "SNAPSHOT_HEADER_POLICY", "sandbox")
    sim = failed_with_trace(store, artifacts, without_own_policy(trace_zip(beacon=beacon.url)))
    with open_page(browser) as bp:
        open_trace(bp.page, base_url, key, sim)
        wait_until("a hostile snapshot reached the beacon", beacon.hostile, 10)
