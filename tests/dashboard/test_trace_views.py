"""The trace views in real headless Chromium: the offline viewer (a trace zip's
``index.html`` opened from the file system) and the HTML report's inlined view.

Each shows the failing step with its console error, its failed request and its DOM
snapshot. Snapshots are untrusted: the hostile ones (``tests.trace_files``) try
script, event handlers, meta refresh, ``<base>``, ``srcdoc``, CSS ``url()`` and SVG
script; a beacon server counts what reaches it, and must count nothing. Each
safeguard is also removed on purpose, one at a time, to show that the same check
then sees the page call out: the check would fail if the safeguard went missing.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from api.reports import html_report
from cli.traces import serving
from testfleet.artifacts import MemoryStore, trace_name
from testfleet.results import AttemptSummary, CaseResult, RunResult, StepResult
from tests.beacon import Beacon, beacon_server
from tests.dashboard.browser import chromium, open_page
from tests.trace_files import CONSOLE_ERROR, FAILED_URL, HOSTILE_BUTTON, SNAPSHOT_TEXT, trace_zip
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser]

_POLICY_META = re.compile(
    r'<meta http-equiv="Content-Security-Policy"[^>]*>'
    r"|&lt;meta http-equiv=&quot;Content-Security-Policy&quot;.*?&gt;"  # inside srcdoc=""
)
Weaken = Callable[[str], str]


def _same(text: str) -> str:
    return text


def _unsandboxed(text: str) -> str:
    return text.replace(' sandbox=""', "")


def _without_policy(text: str) -> str:
    return _POLICY_META.sub("", text)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def beacon() -> Iterator[Beacon]:
    with beacon_server() as b:
        yield b


def _unpack(data: bytes, into: Path, index: Weaken = _same, snapshot: Weaken = _same) -> Path:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        for name in archive.namelist():
            body = archive.read(name)
            if name == "index.html":
                body = index(body.decode()).encode()
            elif name.startswith("snapshots/"):
                body = snapshot(body.decode()).encode()
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
    return into / "index.html"


def _report(data: bytes, weaken: Weaken = _same) -> str:
    store = MemoryStore()
    name = trace_name("case-1", 1)
    store.save("run-1", name, data)
    case = CaseResult(
        case_id="case-1",
        run_id="run-1",
        suite="shop",
        name="check out a basket",
        status="failed",
        attempts=1,
        error="element not clickable",
        failed_step=2,
        steps=[
            StepResult(index=1, label="open the shop", step_type="navigate", status="passed"),
            StepResult(index=2, label="check out", step_type="click", status="failed"),
        ],
        artifacts=[name],
        history=[AttemptSummary(attempt=1, status="failed", worker="w1", trace=name)],
    )
    run = RunResult(
        runId="run-1",
        projectId="p",
        name="shop",
        status="failed",
        createdMs=1,
        counts={"failed": 1},
        tests=[case],
    )
    return weaken(html_report(run, store))


def _show_every_step(page: Page, press: bool = False) -> None:
    """Choose each step in turn and wait for its snapshot frames to load; with ``press``,
    click each snapshot's form button too (as a reader might)."""
    labels = page.locator("label.tf-step")
    for i in range(labels.count()):
        labels.nth(i).click()
        frames = page.locator(".tf-panel:visible iframe")
        for j in range(frames.count()):
            frame = frames.nth(j).element_handle().content_frame()
            assert frame is not None
            frame.wait_for_load_state("load")
            if press:
                frame.locator(f"#{HOSTILE_BUTTON}").click()
                assert _still_the_snapshot(frame.url), f"a snapshot navigated to {frame.url}"


def _breaks_out(page: Page, beacon: Beacon) -> None:
    """Wait until a hostile snapshot gets out: it reaches the beacon, or its frame leaves
    the snapshot (a refresh that the viewer's own policy then stops at an error page)."""
    frame = page.locator(".tf-panel:visible iframe").first.element_handle().content_frame()
    assert frame is not None

    def out() -> object:
        if not _still_the_snapshot(frame.url):
            return frame.url
        button = frame.locator(f"#{HOSTILE_BUTTON}")
        if button.count():
            button.click()
        return beacon.hostile()

    wait_until("a hostile snapshot got out", out, 10)


def _still_the_snapshot(url: str) -> bool:
    return url == "about:srcdoc" or "/snapshots/" in url


def _calls_home(page: Page, beacon: Beacon) -> list[str]:
    """What the hostile snapshots reached at the beacon: after every frame loaded, the
    page is left for the beacon's ``/done`` (unloading every frame, so no timer of theirs
    outlives the check)."""
    _show_every_step(page, press=True)
    page.goto(f"{beacon.url}/done")
    wait_until("the beacon saw /done", lambda: "/done" in beacon.seen(), 10)
    return beacon.hostile()


def _assert_snapshot_text_shown(page: Page) -> None:
    first = page.frame_locator(".tf-panel:visible iframe").first
    expect(first.locator("p").first).to_have_text(SNAPSHOT_TEXT)
    expect(page.locator(".tf-panel:visible iframe").first).to_have_attribute("sandbox", "")


def _assert_failing_step_shown(page: Page) -> None:
    panel = page.locator(".tf-panel:visible")
    expect(panel).to_have_attribute("data-step", "2")
    expect(panel.locator("tr.tf-row-bad", has_text=CONSOLE_ERROR)).to_be_visible()
    expect(panel.locator("tr.tf-row-bad", has_text=FAILED_URL)).to_contain_text("500")
    frame = panel.frame_locator("iframe[title='step 2: DOM after']")
    expect(frame.locator("h1")).to_have_text(SNAPSHOT_TEXT)


def test_offline_viewer_shows_the_failing_step(browser: Browser, tmp_path: Path) -> None:
    index = _unpack(trace_zip(), tmp_path)
    with open_page(browser) as bp:
        bp.page.goto(index.as_uri())
        _assert_failing_step_shown(bp.page)
        shot = bp.page.locator(".tf-panel:visible img.tf-shot")
        expect(shot).to_have_js_property("naturalWidth", 4)  # loaded from its folder
        bp.page.locator("label.tf-step[data-step='1']").click()
        expect(bp.page.locator(".tf-panel:visible")).to_contain_text("shop ready")
        bp.assert_no_errors()


def test_report_shows_the_failing_step(browser: Browser, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(_report(trace_zip()))
    with open_page(browser) as bp:
        bp.page.goto(report.as_uri())
        _assert_failing_step_shown(bp.page)
        # The report shows each screenshot once, with its thumbnail: the view points there
        # rather than inlining the same picture a second time.
        expect(bp.page.locator(".tf-panel:visible img.tf-shot")).to_have_count(0)
        expect(bp.page.locator(".tf-panel:visible")).to_contain_text(
            "shown with the test's screenshots"
        )
        bp.assert_no_errors()


def test_hostile_snapshots_stay_inert_in_the_offline_viewer(
    browser: Browser, beacon: Beacon, tmp_path: Path
) -> None:
    index = _unpack(trace_zip(beacon=beacon.url), tmp_path)
    with open_page(browser) as bp:
        bp.page.goto(index.as_uri())
        _assert_snapshot_text_shown(bp.page)
        assert _calls_home(bp.page, beacon) == []


def test_hostile_snapshots_stay_inert_in_the_report(
    browser: Browser, beacon: Beacon, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    report.write_text(_report(trace_zip(beacon=beacon.url)))
    with open_page(browser) as bp:
        bp.page.goto(report.as_uri())
        _assert_snapshot_text_shown(bp.page)
        assert _calls_home(bp.page, beacon) == []


def test_hostile_snapshots_stay_inert_in_show_trace(browser: Browser, beacon: Beacon) -> None:
    with serving(trace_zip(beacon=beacon.url)) as url, open_page(browser) as bp:
        bp.page.goto(url)
        _assert_snapshot_text_shown(bp.page)
        assert _calls_home(bp.page, beacon) == []


@pytest.mark.parametrize(
    ("index", "snapshot"),
    [(_unsandboxed, _same), (_same, _without_policy)],
    ids=["without-sandbox", "without-policy"],
)
def test_the_offline_check_sees_a_missing_safeguard(
    browser: Browser, beacon: Beacon, tmp_path: Path, index: Weaken, snapshot: Weaken
) -> None:
    page_file = _unpack(trace_zip(beacon=beacon.url), tmp_path, index, snapshot)
    with open_page(browser) as bp:
        bp.page.goto(page_file.as_uri())
        _breaks_out(bp.page, beacon)


@pytest.mark.parametrize("weaken", [_unsandboxed, _without_policy], ids=["sandbox", "policy"])
def test_the_report_check_sees_a_missing_safeguard(
    browser: Browser, beacon: Beacon, tmp_path: Path, weaken: Weaken
) -> None:
    report = tmp_path / "report.html"
    report.write_text(_report(trace_zip(beacon=beacon.url), weaken))
    with open_page(browser) as bp:
        bp.page.goto(report.as_uri())
        _breaks_out(bp.page, beacon)
