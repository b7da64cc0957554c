"""The dashboard's Tests views in real headless Chromium against a real gateway and API,
on histories seeded into a real PostgreSQL (``tests.integration.history.seed``): the
flaky-tests table and its order, a test's page (its last results as a strip of coloured
cells linked to their runs, a duration chart with its P50/P95 lines, its figures), the
failure clusters and labels of a run opened after the archiver labelled it, what the
view says without a history database, another project's key, and a hostile test name.
The expectations are derived here from the seeded outcomes, by the rules as written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine

from cli.archiver import Archiver
from gateway.app import build_server
from testfleet.fleet.auth import KeyStore
from testfleet.history import db
from testfleet.settings import DatabaseSettings, Settings
from testfleet.store import RunStore
from tests.dashboard.browser import BrowserPage, open_page, sign_in
from tests.fixtures_postgres import emptied_history
from tests.fixtures_redis_api import api_server, serving
from tests.integration.history.runs import drain, finish_run
from tests.integration.history.seed import SeedRun, Try, seed
from tests.ports import held_port

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.browser]

RGB = {
    "passed": "rgb(26, 127, 55)",  # --ok
    "failed": "rgb(179, 38, 30)",  # --bad
    "flaky": "rgb(138, 90, 0)",  # --warn
    "cancelled": "rgb(89, 99, 110)",  # --idle
}
"""Each result's cell colour (style.css)."""


class Keys:
    def __init__(self, r: redis.Redis) -> None:
        ks = KeyStore(r)
        self.alpha = ks.create("alpha", ["test:read", "dashboard:read"])[1]
        self.beta = ks.create("beta", ["test:read", "dashboard:read"])[1]
        self.alpha_fleet = ks.create("alpha", ["dashboard:read"])[1]


@pytest.fixture
def key(r: redis.Redis) -> Keys:
    return Keys(r)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The module's history database, emptied for each test."""
    with emptied_history(settings.database.url) as bound:
        yield bound


@pytest.fixture
def tab(browser: Browser) -> Iterator[BrowserPage]:
    with open_page(browser) as page:
        yield page
        page.assert_no_errors()


def api_get(settings: Settings, path: str, key: str, **params: str) -> dict[str, Any]:
    """What the API answers (the figures the page must show as they are)."""
    answer = httpx.get(
        f"{settings.api_url}/api/v1{path}", params=params, headers={"X-API-Key": key}
    )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


# --- the flaky tests ----------------------------------------------------------------------

CARD = ("Checkout", "pays by card")
SIGN_IN = ("Login", "signs in")
SEARCH = ("Search", "finds a book")


def flaky_history(engine: Engine, project: str = "alpha") -> None:
    """CARD: 4 runs, 2 flaky (retried), 1 failed, 3,000 ms lost in failed attempts.
    SIGN_IN: 2 runs, 1 flaky, 300 ms lost. SEARCH: failed every time on its own commits,
    15,000 ms lost but never flaky: not listed."""
    seed(
        engine,
        project,
        [
            SeedRun(
                "f1",
                0,
                commit="c1",
                tests={
                    CARD: [Try("failed", 1000, "timeout", "sig-t"), Try("passed", 200)],
                    SIGN_IN: [Try("error", 300, "crash", "sig-c"), Try("passed", 100)],
                    SEARCH: [Try("failed", 5000, "no book", "sig-b"), Try("failed", 5000)],
                },
            ),
            SeedRun(
                "f2",
                1,
                commit="c2",
                tests={
                    CARD: [Try("passed", 200)],
                    SIGN_IN: [Try("passed", 100)],
                    SEARCH: [Try("failed", 5000, "no book", "sig-b")],
                },
            ),
            SeedRun(
                "f3",
                2,
                commit="c3",
                tests={CARD: [Try("failed", 1000, "timeout", "sig-t"), Try("passed", 210)]},
            ),
            SeedRun(
                "f4",
                3,
                commit="c4",
                tests={
                    CARD: [
                        Try("failed", 500, "timeout", "sig-t"),
                        Try("failed", 500, "timeout", "sig-t"),
                    ]
                },
            ),
        ],
    )


def test_the_flaky_table_lists_the_most_time_lost_first_and_links_each_test(
    tab: BrowserPage, base_url: str, key: Keys, engine: Engine
) -> None:
    flaky_history(engine)
    page = tab.page
    sign_in(page, base_url, key.alpha)
    page.get_by_role("link", name="Tests").click()
    expect(page.locator("#nav-tests")).to_have_attribute("aria-current", "page")
    rows = page.locator("#flaky-table tbody tr")
    expect(rows).to_have_count(2)  # SEARCH never passed: failing, not flaky
    assert [rows.nth(i).get_attribute("data-test") for i in range(2)] == [
        "Checkout/pays by card",
        "Login/signs in",
    ], "the most time lost to failed attempts first"
    card, sign_in_row = rows.nth(0), rows.nth(1)
    # CARD: flaky in 2 of 4 runs, failed in 1 (pass rate 3 of 4), 1000+1000+500+500 ms lost.
    expect(card.locator(".flake-rate")).to_contain_text("50 %")
    expect(card.locator(".flake-rate")).to_contain_text("2 flaky run(s)")
    expect(card.locator(".pass-rate")).to_have_text("75 %")
    expect(card.locator(".lost")).to_contain_text("3.0 s")
    expect(card.locator(".lost")).to_contain_text("3 retries")
    expect(card.locator(".runs")).to_have_text("4")
    expect(card.locator(".last-failure")).not_to_have_text("–")
    expect(sign_in_row.locator(".flake-rate")).to_contain_text("50 %")
    expect(sign_in_row.locator(".pass-rate")).to_have_text("100 %")
    expect(sign_in_row.locator(".lost")).to_contain_text("300 ms")
    expect(sign_in_row.locator(".runs")).to_have_text("2")

    card.get_by_role("link", name="pays by card").click()
    expect(page).to_have_url(f"{base_url}/dashboard#/tests/Checkout/pays%20by%20card")
    expect(page.locator("#test-title")).to_contain_text("pays by card")
    expect(page.locator("#test-flake-rate")).to_contain_text("50 %")
    expect(page.locator("#nav-tests")).to_have_attribute("aria-current", "page")


def test_another_projects_key_sees_none_of_the_history(
    browser: Browser, base_url: str, key: Keys, engine: Engine
) -> None:
    flaky_history(engine, "alpha")
    with open_page(browser, allow=("404",)) as tab:
        page = tab.page
        sign_in(page, base_url, key.beta, "#/tests")
        expect(page.locator("#flaky-none")).to_be_visible()
        expect(page.locator("#flaky-table")).to_have_count(0)
        page.goto(f"{base_url}/dashboard#/tests/Checkout/pays%20by%20card")
        expect(page.locator("#test-unknown")).to_contain_text("No archived run")
        expect(page.locator("#test-strip")).to_have_count(0)
        tab.assert_no_errors()


def test_a_key_without_test_read_is_told_which_scope_the_view_needs(
    tab: BrowserPage, base_url: str, key: Keys, engine: Engine
) -> None:
    flaky_history(engine)
    page = tab.page
    sign_in(page, base_url, key.alpha_fleet, "#/tests")
    expect(page.locator("#view")).to_contain_text("lacks the test:read scope")
    page.goto(f"{base_url}/dashboard#/tests/Checkout/pays%20by%20card")
    expect(page.locator("#view")).to_contain_text("lacks the test:read scope")
    expect(page.locator("#test-strip")).to_have_count(0)


# --- one test's page ------------------------------------------------------------------------

CART = ("Cart", "adds items")
RUNS = 55
"""More runs than the strip shows (50)."""


def outcome(i: int) -> tuple[str, list[Try]]:
    """Run ``i``'s result for CART and its attempts: passed, flaky, failed, cancelled,
    passed, again and again."""
    kind = ["passed", "flaky", "failed", "cancelled", "passed"][i % 5]
    if kind == "flaky":
        return kind, [Try("failed", 400, "element #buy not found", "sig-buy"), Try("passed", 150)]
    if kind == "failed":
        return kind, [Try("failed", 300, f"total was {i} <b>not</b> 10", "sig-total")]
    if kind == "cancelled":
        return kind, [Try("cancelled", 20)]
    return kind, [Try("passed", 100 + i)]


def cart_history(engine: Engine) -> None:
    seed(
        engine,
        "alpha",
        [
            SeedRun(f"s{i}", i, commit=f"c{i}", branch="main", tests={CART: outcome(i)[1]})
            for i in range(RUNS)
        ],
    )


def strip_of(page: Page) -> list[dict[str, str]]:
    cells = page.locator("#test-strip a.cell")
    expect(cells.first).to_be_visible()
    found: list[dict[str, str]] = cells.evaluate_all(
        """cells => cells.map((c) => ({
            status: c.dataset.status, href: c.getAttribute("href"), title: c.title,
            colour: getComputedStyle(c).backgroundColor }))"""
    )
    return found


def test_a_tests_page_shows_its_last_50_results_a_duration_chart_and_its_figures(
    tab: BrowserPage, base_url: str, key: Keys, engine: Engine, settings: Settings
) -> None:
    cart_history(engine)
    page = tab.page
    sign_in(page, base_url, key.alpha, "#/tests/Cart/adds%20items")

    cells = strip_of(page)
    shown = range(RUNS - 50, RUNS)  # the newest 50 runs, oldest first
    assert [c["status"] for c in cells] == [outcome(i)[0] for i in shown]
    assert [c["href"] for c in cells] == [f"#/runs/s{i}" for i in shown]
    for c in cells:
        assert c["colour"] == RGB[c["status"]], c
    failed = cells[list(shown).index(52)]
    assert failed["title"].startswith("failed, 300 ms")
    assert "commit c52 on main" in failed["title"]
    assert "error: total was 52 <b>not</b> 10" in failed["title"]
    flaky = cells[list(shown).index(51)]
    assert flaky["title"].startswith("flaky, 550 ms in 2 attempts"), flaky["title"]
    assert "error: element #buy not found" in flaky["title"]

    # One dot per attempt of those runs, oldest first (a retry after its first attempt).
    expected_ms = [t.duration_ms for i in shown for t in outcome(i)[1]]
    dots = page.locator("#test-chart svg circle.dot")
    expect(dots).to_have_count(len(expected_ms))
    assert [int(v) for v in dots.evaluate_all("ds => ds.map((d) => d.dataset.ms)")] == expected_ms
    figures = api_get(settings, "/history/tests", key.alpha, test="Cart/adds items", limit="1")
    for line, figure in (("p50", "p50Ms"), ("p95", "p95Ms")):
        drawn = page.locator(f"#test-chart line[data-line={line}]")
        assert float(drawn.get_attribute("data-ms") or "nan") == figures[figure]

    # Over all 55 runs: 11 of each kind; cancelled runs decide nothing: 44 decided, 33
    # ended passed (passed twice per 5, flaky once), 11 flaky.
    expect(page.locator("#test-pass-rate")).to_have_text("75 % (33 of 44 runs)")
    expect(page.locator("#test-flake-rate")).to_have_text("25 % (11 flaky run(s))")
    expect(page.locator("#test-trend")).to_contain_text(figures["trend"]["direction"])
    expect(page.locator("#test-first-seen")).not_to_have_text("–")
    last = page.locator("#test-last-failure")
    expect(last.get_by_role("link", name="s52")).to_have_attribute("href", "#/runs/s52")
    expect(last).to_contain_text("total was 52 <b>not</b> 10")


def test_a_hostile_test_name_renders_as_text(
    tab: BrowserPage, base_url: str, key: Keys, engine: Engine
) -> None:
    suite = 'a/<img src=x onerror="window.pwned=1">'
    name = '</script><script>window.pwned=2</script> & "quotes"'
    error = "<iframe src=javascript:window.pwned=3></iframe>"
    seed(
        engine,
        "alpha",
        [
            SeedRun("h1", 0, commit="x1", tests={(suite, name): [Try("failed", 90, error, "s")]}),
            SeedRun("h2", 1, commit="x1", tests={(suite, name): [Try("passed", 80)]}),
        ],
    )
    page = tab.page
    sign_in(page, base_url, key.alpha, "#/tests")
    row = page.locator("#flaky-table tbody tr")
    expect(row).to_have_count(1)
    assert row.get_attribute("data-test") == f"{suite}/{name}"
    row.get_by_role("link").click()
    expect(page.locator("#test-title")).to_have_text(f"{name} {suite}")
    cells = strip_of(page)
    assert [c["status"] for c in cells] == ["failed", "passed"]
    assert f"error: {error}" in cells[0]["title"]
    expect(page.locator("#test-last-failure .error")).to_have_text(error)
    view = page.locator("#view")
    for tag in ("img", "script", "iframe"):
        expect(view.locator(tag)).to_have_count(0)
    assert page.evaluate("window.pwned") is None


# --- without a history database ------------------------------------------------------------


def test_without_a_history_database_the_tests_view_says_what_to_set(
    browser: Browser, settings: Settings, key: Keys
) -> None:
    nowhere = f"postgresql+psycopg://testfleet@127.0.0.1:{held_port()}/history"
    own = settings.model_copy(
        update={
            "database": DatabaseSettings(url=nowhere, connect_timeout_s=1),
            "api": settings.api.model_copy(update={"port": held_port()}),
            "gateway": settings.gateway.model_copy(update={"port": held_port()}),
        }
    )
    url = f"http://127.0.0.1:{own.gateway.port}"
    with (
        serving(api_server(own)),
        serving(build_server(own)),
        open_page(browser, allow=("503",)) as tab,
    ):
        page = tab.page
        sign_in(page, url, key.alpha, "#/tests")
        line = page.locator("#history-unavailable")
        expect(line).to_contain_text("no history database")
        expect(line).to_contain_text("TESTFLEET_DATABASE__URL")
        page.goto(f"{url}/dashboard#/tests/Cart/adds%20items")
        expect(page.locator("#test-title")).to_contain_text("adds items")
        expect(page.locator("#history-unavailable")).to_contain_text("TESTFLEET_DATABASE__URL")
        tab.assert_no_errors()


# --- a run's failure clusters -----------------------------------------------------------------


def test_a_run_opened_after_it_was_labelled_shows_its_labels_and_failure_clusters(
    tab: BrowserPage,
    base_url: str,
    key: Keys,
    engine: Engine,
    settings: Settings,
    store: RunStore,
) -> None:
    # Its three tests: passed, passed on the retry, failed; both failures "element #go
    # not found": one cause. The archiver labels it (its run_labels event goes by).
    finish_run(store, "labelled", project="alpha")
    archiver = Archiver(settings, store, db.sessions(engine), name="dash")
    archiver.ensure_group()
    drain(archiver)
    answer = api_get(settings, "/runs/labelled/labels", key.alpha)
    assert answer["archived"] is True
    labelled: list[dict[str, Any]] = answer["tests"]
    assert len(labelled) == 2

    page = tab.page
    sign_in(page, base_url, key.alpha, "#/runs/labelled")
    expect(page.locator("#run-clusters")).to_have_text("2 failures, 1 cause")
    rows = page.locator("#run-clusters-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td").nth(0)).to_have_text("element #go not found")
    expect(rows.locator(".count")).to_have_text("2")
    expect(rows.locator("li")).to_have_text(["checkout/test 1", "checkout/test 2"])
    for t in labelled:
        card = page.locator(f"[data-case='{t['testId']}']")
        expect(card.locator(".label")).to_have_text(t["labels"])
