"""The live dashboard page in real headless Chromium against a real gateway and Redis.

Runs are recorded and progressed through the run store as workers do it
(``simulate.SimulatedRun``); the page reads them through the gateway's dashboard
routes and follows them over its WebSocket. Every test asserts the page logged no
JavaScript error.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Iterator

import httpx
import jsonschema
import pytest
import redis
from playwright.sync_api import Browser, Locator, Page, expect

from gateway.app import build_server
from testfleet import keys
from testfleet.artifacts import ArtifactStore
from testfleet.events import Event
from testfleet.fleet.auth import KeyStore
from testfleet.payloads import FailureCluster, LabelledTest, RunLabels
from testfleet.results import (
    A11yNode,
    A11yViolation,
    AccessibilityResult,
    AiCitation,
    DiffChange,
    DiffExplanation,
    PerformanceResult,
)
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.dashboard.browser import BrowserPage, open_page, sign_in
from tests.dashboard.simulate import SimulatedRun
from tests.fixtures_redis_api import serving
from tests.ports import held_port
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.browser]


class Keys:
    def __init__(self, r: redis.Redis) -> None:
        ks = KeyStore(r)
        scopes = ["test:read", "test:write", "dashboard:read"]
        self.alpha = ks.create("alpha", scopes)[1]
        self.beta = ks.create("beta", scopes)[1]
        self.alpha_read = ks.create("alpha", ["test:read"])[1]


@pytest.fixture
def key(r: redis.Redis) -> Keys:
    return Keys(r)


@pytest.fixture
def tab(browser: Browser) -> Iterator[BrowserPage]:
    with open_page(browser) as page:
        yield page
        page.assert_no_errors()


def own_gateway(settings: Settings) -> tuple[Settings, str]:
    """Settings of a gateway of the test's own (to stop and start again), and its URL."""
    own = settings.model_copy(
        update={"gateway": settings.gateway.model_copy(update={"port": held_port()})}
    )
    return own, f"http://127.0.0.1:{own.gateway.port}"


def run(
    store: RunStore, artifacts: ArtifactStore, project: str = "alpha", **fields: object
) -> SimulatedRun:
    return SimulatedRun(store, artifacts, project, **fields).create()  # type: ignore[arg-type]


def one_test_past_step_1(
    tab: BrowserPage,
    base_url: str,
    key: Keys,
    store: RunStore,
    artifacts: ArtifactStore,
    steps: int,
) -> tuple[SimulatedRun, str, Locator]:
    """A run of one test of ``steps`` steps, open on its page, the test started and its
    first step passed: the run, the test's id and its card."""
    sim = run(store, artifacts, tests=1, steps=steps)
    [case_id] = sim.case_ids
    sign_in(tab.page, base_url, key.alpha, f"#/runs/{sim.run_id}")
    card = tab.page.locator(f"[data-case='{case_id}']")
    sim.start(case_id)
    sim.step(case_id, 1)
    return sim, case_id, card


# --- served as it should be -------------------------------------------------------------


def test_the_page_and_its_assets_are_served_offline_under_a_strict_policy(
    base_url: str, key: Keys
) -> None:
    with httpx.Client(base_url=base_url) as http:
        page = http.get("/dashboard")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy
        assert f"ws://127.0.0.1:{base_url.rsplit(':', 1)[1]}" in policy
        html = page.text
        assert "<script>" not in html, "nothing inline"
        assert "style=" not in html, "nothing inline"
        for src in ("/dashboard/static/app.js", "/dashboard/static/style.css"):
            assert src in html
        for name in (
            "app.js",
            "connection.js",
            "state.js",
            "views.js",
            "runview.js",
            "dom.js",
            "chart.js",
            "testsview.js",
            "style.css",
        ):
            asset = http.get(f"/dashboard/static/{name}")
            assert asset.status_code == 200, name
            own = asset.text.replace("http://www.w3.org/2000/svg", "")  # a namespace name
            assert "http://" not in own, f"{name} loads nothing else"
            assert "https://" not in own, f"{name} loads nothing else"
            assert "innerHTML" not in asset.text, f"{name} renders event text as text"
        assert http.get("/dashboard/static/../app.py").status_code == 404
        assert http.get("/dashboard/static/nope.js").status_code == 404
        schema = http.get("/schema/events.json").json()
        jsonschema.Draft202012Validator.check_schema(schema)
        assert http.get("/dashboard/api/runs").status_code == 401
        denied = http.get("/dashboard/api/runs", headers={"X-API-Key": "tfk_nope"})
        assert denied.status_code == 401
        assert "not valid" in denied.json()["error"]["message"]
        bad = http.get("/dashboard/api/runs?limit=0", headers={"X-API-Key": key.alpha})
        assert bad.status_code == 400
        assert "limit" in bad.json()["error"]["message"]
        bad = http.get("/dashboard/api/runs?cursor=zz", headers={"X-API-Key": key.alpha})
        assert bad.status_code == 400
        assert "nextCursor" in bad.json()["error"]["message"]


# --- the views ---------------------------------------------------------------------------


def test_fleet_view_shows_workers_metrics_and_service_changes(
    tab: BrowserPage, base_url: str, key: Keys, r: redis.Redis
) -> None:
    beat = {
        "name": "w1@host",
        "host": "host",
        "pid": 1,
        "concurrency": 2,
        "busy": 0,
        "started_ms": 1,
        "beat_ms": int(1000 * time.time()),
    }
    r.hset(keys.WORKERS, "w1@host", json.dumps(beat))
    page = tab.page
    sign_in(page, base_url, key.alpha)
    expect(page.locator("#fleet-tiles")).to_contain_text("Tests per minute")
    expect(page.locator("[data-worker='w1@host']")).to_contain_text("idle 0 / 2")
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#service-events")).to_contain_text("worker w1@host")
    expect(page.locator("#service-events")).to_contain_text("up")
    assert page.evaluate("sessionStorage.getItem('testfleet.apiKey')") == key.alpha
    assert page.evaluate("localStorage.length") == 0
    assert key.alpha not in page.url


def test_a_run_progresses_live_to_passed_with_a_screenshot(
    tab: BrowserPage, base_url: str, key: Keys, store: RunStore, artifacts: ArtifactStore
) -> None:
    sim = run(store, artifacts, tests=2, steps=3)
    page = tab.page
    sign_in(page, base_url, key.alpha, f"#/runs/{sim.run_id}")
    first, second = sim.case_ids
    card = page.locator(f"[data-case='{first}']")
    expect(card).to_contain_text("queued")
    sim.start(first)
    sim.step(first, 1)
    expect(card).to_contain_text("step 1/3")
    sim.step(first, 2, screenshot=True)
    expect(card).to_contain_text("step 2/3")
    sim.step(first, 3, parent=2)  # step 2 is a use: row, step 3 a step of its flow
    sim.finish(first)
    expect(card).to_contain_text("passed")
    sim.play(second)
    expect(page.locator("#run-status")).to_contain_text("passed")
    expect(page.locator("#run-counts")).to_contain_text("2 passed")
    card.locator("summary").click()
    expect(card.locator("[data-step='3']")).to_have_attribute("data-depth", "1")
    expect(card.locator("[data-step='2']")).not_to_have_attribute("data-depth", re.compile("."))
    thumb = card.locator("[data-shot] img")
    expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
    wait_until("the thumbnail to load", lambda: thumb.evaluate("i => i.naturalWidth") > 0, 10)
    card.locator("[data-shot]").click()
    expect(page.locator("#zoom")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#zoom")).to_be_hidden()


def test_a_run_that_finished_before_the_page_opened_shows_complete(
    tab: BrowserPage, base_url: str, key: Keys, store: RunStore, artifacts: ArtifactStore
) -> None:
    sim = run(store, artifacts, tests=3, steps=2)
    good, bad, third = sim.case_ids
    sim.play(good, screenshot_at=2)
    sim.play(bad, "failed")
    sim.play(third)
    page = tab.page
    sign_in(page, base_url, key.alpha, f"#/runs/{sim.run_id}")
    expect(page.locator("#run-status")).to_contain_text("failed")
    expect(page.locator("#run-counts")).to_contain_text("1 failed")
    expect(page.locator("#run-counts")).to_contain_text("2 passed")
    failing = page.locator(f"[data-case='{bad}']")
    # The dispatch order: the run's, and each case's place in it (longest first).
    expect(page.locator("#run-order")).to_contain_text("order duration")
    expect(failing.locator("[data-dispatch]")).to_have_text("#2")
    expect(page.locator(f"[data-case='{third}'] [data-dispatch]")).to_have_text("#1")
    expect(failing).to_contain_text("step 2: expected h1 to contain Welcome")
    expect(failing.locator("details")).to_have_attribute("open", "")
    expect(failing.locator("[data-step]")).to_have_count(2)
    passing = page.locator(f"[data-case='{good}']")
    expect(passing.locator("[data-shot]")).to_have_count(0)  # drawn only once opened
    passing.locator("summary").click()
    expect(passing.locator("[data-shot]")).to_have_count(1)
    expect(passing.locator("[data-step]")).to_have_count(2)
    expect(page.locator("#run-cancel")).to_have_count(0)


def test_a_visual_mismatch_shows_baseline_actual_and_diff_with_a_toggle_and_its_explanation(
    tab: BrowserPage, base_url: str, key: Keys, store: RunStore, artifacts: ArtifactStore
) -> None:
    sim = run(store, artifacts, tests=1, steps=2)
    [case_id] = sim.case_ids
    page = tab.page
    sign_in(page, base_url, key.alpha, f"#/runs/{sim.run_id}")
    card = page.locator(f"[data-case='{case_id}']")
    expect(card).to_contain_text("queued")
    sim.start(case_id)
    sim.step(case_id, 1)
    explanation = DiffExplanation(
        changes=[
            DiffChange(kind="text", description="greeting Alice became Bob", location="top banner")
        ],
        verdict="regression",
        cosmetic=False,
        confidence=0.85,
    )
    sim.mismatch(case_id, 2, explanation)
    sim.finish(case_id, "failed", 'screenshot "hero" differs from baseline v1')
    expect(card).to_contain_text("failed")

    def check() -> None:
        if card.locator("details").get_attribute("open") is None:
            card.locator("summary").click()
        visual = card.locator("[data-visual='2']")
        expect(visual).to_contain_text('step 2 "hero": mismatch, 1.25 % changed (800 px)')
        thumbs = visual.locator("[data-visual-shot] img")
        expect(thumbs).to_have_count(3)
        expect(visual.locator("figcaption")).to_have_text(["baseline", "actual", "diff"])
        for i in range(3):
            expect(thumbs.nth(i)).to_have_attribute("src", re.compile(r"^blob:"))
        expect(visual).to_contain_text("AI: regression, 85 % sure: The banner's greeting changed.")
        expect(visual).to_contain_text("text: greeting Alice became Bob at top banner")
        visual.locator("[data-visual-shot='baseline']").click()
        zoom = page.locator("#zoom")
        expect(zoom).to_be_visible()
        expect(zoom.locator("p")).to_have_text("baseline")
        zoom.locator("[data-toggle='diff']").click()
        expect(zoom.locator("p")).to_have_text("diff")
        expect(zoom.locator("img")).to_have_attribute("alt", "screenshot: diff")
        page.keyboard.press("Escape")
        expect(zoom).to_be_hidden()

    check()  # live, from the events
    page.reload()
    check()  # from the run's snapshot


def test_a_failure_analysis_shows_the_evidence_it_cites(
    tab: BrowserPage, base_url: str, key: Keys, store: RunStore, artifacts: ArtifactStore
) -> None:
    sim, case_id, card = one_test_past_step_1(tab, base_url, key, store, artifacts, steps=2)
    page = tab.page
    sim.step(case_id, 2, error="#status did not contain 'saved'")
    cites = [AiCitation(kind="request", index=1, text="[step 2] POST /api/save -> 500 <b>x</b>")]
    sim.failure_analysis(case_id, 2, cites)
    sim.finish(case_id, "failed", "#status did not contain 'saved'")

    def check() -> None:
        expect(card).to_contain_text("failed")
        if card.locator("details").get_attribute("open") is None:
            card.locator("summary").click()
        cited = card.locator(".finding .citations li")
        expect(cited).to_have_text(
            ["cites failed request 1: [step 2] POST /api/save -> 500 <b>x</b>"]
        )

    check()  # live, from the events
    page.reload()
    check()  # from the run's snapshot


def test_runs_view_filters_pages_and_cancels_with_a_confirmation(
    tab: BrowserPage, base_url: str, key: Keys, store: RunStore, artifacts: ArtifactStore
) -> None:
    for i in range(27):
        run(store, artifacts, name=f"bulk {i:02d}", tests=1, steps=1, tags=["nightly"])
    smoke = run(store, artifacts, name="smoke run", tests=2, steps=1, tags=["smoke"])
    done = run(store, artifacts, name="done run", tests=1, steps=1, tags=["smoke"])
    done.play(done.case_ids[0])
    page = tab.page
    sign_in(page, base_url, key.alpha, "#/runs")
    rows = page.locator("#runs-table tbody tr")
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text("done run")
    expect(rows.nth(1)).to_contain_text("smoke run")
    page.locator("#page-older").click()
    expect(page.locator("#runs-pager")).to_contain_text("page 2")
    expect(rows).to_have_count(4)
    page.locator("#page-newer").click()
    expect(rows).to_have_count(25)
    page.locator("#filter-tag").fill("smoke")
    page.locator("#filter-status").select_option("passed")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("done run")
    page.locator("#filter-status").select_option("")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(2)
    row = page.locator(f"[data-run='{smoke.run_id}']")
    row.get_by_role("button", name="Cancel").click()
    page.locator("#confirm-no").click()
    expect(row).to_contain_text("queued")
    row.get_by_role("button", name="Cancel").click()
    expect(page.locator("#confirm-text")).to_contain_text("smoke run")
    page.locator("#confirm-yes").click()
    expect(page.locator("#notice")).to_contain_text("2 queued test(s) will not start")
    expect(row).to_contain_text("cancelled")
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)
    assert store.get_run(smoke.run_id).status == "cancelled"  # type: ignore[union-attr]


def test_another_projects_key_sees_none_of_it(
    browser: Browser, base_url: str, key: Keys, store: RunStore, artifacts: ArtifactStore
) -> None:
    sim = run(store, artifacts, name="alpha secret run", tests=1, steps=1)
    sim.play(sim.case_ids[0], screenshot_at=1)
    with open_page(browser, allow=("404",)) as tab:
        page = tab.page
        sign_in(page, base_url, key.beta, "#/runs")
        expect(page.locator("#runs-body")).to_contain_text("No run matches")
        page.goto(f"{base_url}/dashboard#/runs/{sim.run_id}")
        expect(page.locator("#view")).to_contain_text("does not exist in project beta")
        page.goto(f"{base_url}/dashboard#/fleet")
        sim2 = run(store, artifacts, name="alpha later run", tests=1, steps=1)
        sim2.play(sim2.case_ids[0])
        page.goto(f"{base_url}/dashboard#/runs")
        expect(page.locator("#runs-body")).to_contain_text("No run matches")
        assert "alpha" not in page.locator("body").inner_text()
        tab.assert_no_errors()
    with httpx.Client(base_url=base_url, headers={"X-API-Key": key.beta}) as http:
        shot = sim.cases[sim.case_ids[0]].artifacts[0]
        for path in (
            f"/dashboard/api/runs/{sim.run_id}",
            f"/dashboard/api/runs/{sim.run_id}/artifacts/{shot}",
        ):
            assert http.get(path).status_code == 404
        assert http.post(f"/dashboard/api/runs/{sim.run_id}/cancel").status_code == 404
    with httpx.Client(base_url=base_url, headers={"X-API-Key": key.alpha_read}) as http:
        denied = http.post(f"/dashboard/api/runs/{sim.run_id}/cancel")
        assert denied.status_code == 403
        assert "test:write" in denied.json()["error"]["message"]


def test_keyboard_focus_status_words_and_a_narrow_window(
    browser: Browser, base_url: str, key: Keys, store: RunStore, artifacts: ArtifactStore
) -> None:
    run(store, artifacts, name="narrow run", tests=1, steps=1)
    with open_page(browser, width=380, height=740) as tab:
        page = tab.page
        sign_in(page, base_url, key.alpha, "#/runs")
        expect(page.locator("#runs-table")).to_contain_text("narrow run")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        page.reload()  # the key is kept for the tab's session: no second sign-in
        expect(page.locator("#runs-table")).to_contain_text("narrow run")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        assert focused == "Skip to content"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid", "focus is visible"
        link = page.get_by_role("link", name="narrow run")
        link.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#run-title")).to_contain_text("narrow run")
        badge_text = page.locator("#run-status .badge").inner_text()
        assert "queued" in badge_text, "status is said in words, not only colour"
        tab.assert_no_errors()


def test_the_page_resumes_through_a_gateway_restart_without_gap_or_duplicate(
    browser: Browser, settings: Settings, key: Keys, store: RunStore, artifacts: ArtifactStore
) -> None:
    own, url = own_gateway(settings)
    sim = run(store, artifacts, tests=1, steps=6)
    case = sim.case_ids[0]
    with open_page(browser, allow=("ERR_CONNECTION_REFUSED", "WebSocket")) as tab:
        page = tab.page
        card = page.locator(f"[data-case='{case}']")
        with serving(build_server(own)):
            sign_in(page, url, key.alpha, f"#/runs/{sim.run_id}")
            sim.start(case)
            sim.step(case, 1)
            sim.step(case, 2)
            expect(card).to_contain_text("step 2/6")
        # The gateway is gone (it closed the socket with 1001): steps go on meanwhile.
        expect(page.locator("#conn-state")).not_to_have_text("connected")
        sim.step(case, 3)
        sim.step(case, 4)
        with serving(build_server(own)):
            expect(page.locator("#conn-state")).to_have_text("connected", timeout=30_000)
            sim.step(case, 5)
            sim.step(case, 6)
            sim.finish(case)
            expect(card).to_contain_text("passed")
            card.locator("summary").click()
            steps = card.locator("[data-step]")
            expect(steps).to_have_count(6)
            numbers = [steps.nth(i).get_attribute("data-step") for i in range(6)]
            assert numbers == ["1", "2", "3", "4", "5", "6"], "every step once, in order"
            assert int(page.locator("#conn-attempts").inner_text()) >= 1
            expect(page.locator("#conn-error")).not_to_have_text("none")
        tab.assert_no_errors()


def test_a_trimmed_cursor_shows_a_visible_notice(
    browser: Browser,
    settings: Settings,
    key: Keys,
    store: RunStore,
    artifacts: ArtifactStore,
    r: redis.Redis,
) -> None:
    own, url = own_gateway(settings)
    sim = run(store, artifacts, tests=1, steps=8)
    case = sim.case_ids[0]
    with open_page(browser, allow=("ERR_CONNECTION_REFUSED", "WebSocket")) as tab:
        page = tab.page
        with serving(build_server(own)):
            sign_in(page, url, key.alpha, f"#/runs/{sim.run_id}")
            sim.start(case)
            expect(page.locator(f"[data-case='{case}']")).to_contain_text("running")
        for n in range(1, 8):
            sim.step(case, n)
        r.xtrim(keys.run_events(sim.run_id), maxlen=2, approximate=False)
        r.xtrim(keys.EVENTS_STREAM, maxlen=2, approximate=False)
        with serving(build_server(own)):
            expect(page.locator("#notice")).to_contain_text("trimmed")
            expect(page.locator(f"[data-case='{case}']")).to_contain_text("step 7/8")
        tab.assert_no_errors()


def test_a_page_left_open_keeps_only_the_open_runs_detail(
    tab: BrowserPage, base_url: str, key: Keys, store: RunStore, artifacts: ArtifactStore
) -> None:
    # A wall screen left open for hours shows run after run: what it keeps must not grow
    # with them. Measured: a page keeping each run it showed grew by about 0.6x a run's
    # JSON per run (7.8x over 13 runs); as it is, its heap wanders within 0.4 MB.
    runs = [run(store, artifacts, name=f"Run {i:02d}", tests=10, steps=60) for i in range(22)]
    for sim in runs:
        for case in sim.case_ids:
            sim.play(case, screenshot_at=1)
    run_json = len(store.get_run(runs[0].run_id).model_dump_json())  # type: ignore[union-attr]
    page = tab.page

    def show(sim: SimulatedRun) -> int:
        page.goto(f"{base_url}/dashboard#/runs/{sim.run_id}")
        expect(page.locator("#run-title")).to_contain_text(sim.name)
        expect(page.locator("#run-counts")).to_contain_text("10 passed")
        card = page.locator(f"[data-case='{sim.case_ids[0]}']")
        card.locator("summary").click()
        thumb = card.locator("[data-shot] img")
        expect(thumb).to_have_attribute("src", re.compile(r"^blob:"), timeout=15_000)
        return _heap_after_gc(page)

    sign_in(page, base_url, key.alpha)
    nodes = 0
    heaps = []
    for sim in runs:
        heaps.append(show(sim))
        nodes = nodes or page.evaluate("document.getElementsByTagName('*').length")
    # A run's view is hundreds of elements (10 cards of 60 steps); a transient one (a
    # toast, an image not yet swapped) may be there at one count and not the other.
    last = page.evaluate("document.getElementsByTagName('*').length")
    assert abs(last - nodes) <= 5, f"{nodes} elements after the first run, {last} after 22"
    # Medians of five, early (after the first run's one-off allocations) and late: a
    # page keeping every run would be 15 runs heavier at the end.
    early, late = statistics.median(heaps[1:6]), statistics.median(heaps[-5:])
    assert late - early < 3 * run_json, (
        f"the heap grew {late - early:.0f} bytes over 15 runs; a run is {run_json} bytes of "
        f"JSON; after each run: {heaps}"
    )


def _heap_after_gc(page: Page) -> int:
    """The page's JavaScript heap in use, in bytes, after a full garbage collection."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("HeapProfiler.collectGarbage")
        return int(cdp.send("Runtime.getHeapUsage")["usedSize"])
    finally:
        cdp.detach()


def test_labels_of_the_failures_show_as_badges_when_run_labels_arrives(
    tab: BrowserPage, base_url: str, key: Keys, store: RunStore, artifacts: ArtifactStore
) -> None:
    sim = run(store, artifacts, tests=2, steps=1)
    page = tab.page
    sign_in(page, base_url, key.alpha, f"#/runs/{sim.run_id}")
    first, second = sim.case_ids
    sim.play(first, "failed")
    sim.play(second, "failed")
    expect(page.locator("#run-status")).to_contain_text("failed")
    labelled = RunLabels(
        tests=[
            LabelledTest(testId=first, suite=sim.name, name="a", labels=["new", "flaky"]),
            LabelledTest(testId=second, suite=sim.name, name="b", labels=["failing-on-main"]),
        ],
        clusters=[FailureCluster(signature="ab12", count=2, tests=[first, second], error="boom")],
    )
    store.publish(Event("run_labels", sim.run_id, "alpha", labelled.dump(), source="archiver"))

    card = page.locator(f"[data-case='{first}']")
    expect(card.locator(".label[data-label='new']")).to_have_text("new")
    expect(card.locator(".label[data-label='flaky']")).to_have_text("flaky")
    other = page.locator(f"[data-case='{second}'] .label")
    expect(other).to_have_text("failing-on-main")
    expect(page.locator("#run-clusters")).to_contain_text("2 failures, 1 cause")


def test_accessibility_and_performance_checks_show_their_rules_and_metrics(
    tab: BrowserPage, base_url: str, key: Keys, store: RunStore, artifacts: ArtifactStore
) -> None:
    sim, case_id, card = one_test_past_step_1(tab, base_url, key, store, artifacts, steps=3)
    page = tab.page
    nodes = [A11yNode(target="#hero", html="<img>", status="new")]
    found = AccessibilityResult(
        baseline_id="t-page-0123456789abcdef",
        suite="s",
        test="t",
        name="page",
        browser="chrome",
        url="http://app.test/a11y",
        fail_on="serious",
        axe_version="4.14.1",
        violations=[
            A11yViolation(
                rule="image-alt",
                impact="critical",
                description="d",
                help="Images must have alternative text",
                help_url="https://dequeuniversity.com/rules/axe/4.14/image-alt",
                nodes=nodes,
            )
        ],
        fixed=["label #q"],
        new=1,
    )
    sim.step(case_id, 2, error="1 new accessibility violation(s)", accessibility=found)
    speed = PerformanceResult(
        url="http://app.test/",
        metrics={"lcp_ms": 900.0, "cls": 0.2},
        budgets={"cls": 0.1},
        over=["cls"],
        runs=[{"lcp_ms": 900.0, "cls": 0.2}],
    )
    sim.step(case_id, 3, performance=speed)
    sim.finish(case_id, "failed", "1 new accessibility violation(s)")
    expect(card).to_contain_text("failed")

    def check() -> None:
        if card.locator("details").get_attribute("open") is None:
            card.locator("summary").click()
        a11y = card.locator("[data-a11y='2']")
        expect(a11y).to_contain_text('Accessibility, step 2 "page": 1 new')
        expect(a11y).to_contain_text("critical image-alt: Images must have alternative text")
        expect(a11y.locator("a")).to_have_attribute(
            "href", "https://dequeuniversity.com/rules/axe/4.14/image-alt"
        )
        expect(a11y).to_contain_text("fixed: label #q")
        perf = card.locator("[data-perf='3']")
        expect(perf).to_contain_text("lcp_ms 900")
        expect(perf.locator(".error")).to_have_text("cls 0.2 / 0.1")

    check()  # live, from the events
    page.reload()
    check()  # from the run's snapshot
