"""``/docs`` and ``/redoc`` render in real headless Chromium with no network but the API.

What was found: FastAPI's pages load Swagger UI and ReDoc from a CDN (and ReDoc's
fonts from Google), so on a fleet without internet they stayed blank. Here every
request the page makes to any other origin is aborted and recorded, as a network
with no way out would; the pages must render from the API alone and ask nothing
of anyone else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Route
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.dashboard.browser import chromium, open_page

pytestmark = pytest.mark.redis

TITLE = "testfleet API"
"""The app's title (``api.app.create_app``), which ReDoc shows as its heading."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


class Offline:
    """Lets a page reach ``origin`` only; every other request is aborted and recorded."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.refused: list[str] = []

    def handle(self, route: Route) -> None:
        url = route.request.url
        if _origin(url) == self.origin:
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("internetdisconnected")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def render_offline(page: Page, api_url: str, path: str, rendered: Locator) -> None:
    """Open ``path`` with the network closed but for the API and wait for ``rendered``;
    fail saying what the page tried to fetch elsewhere."""
    offline = Offline(_origin(api_url))
    page.route("**/*", offline.handle)
    page.goto(f"{api_url}{path}")
    try:
        rendered.wait_for()
    except PlaywrightTimeout:
        pytest.fail(
            f"{path} stayed blank with no network but the API's; it asked elsewhere for "
            f"{offline.refused}"
        )
    page.wait_for_load_state("networkidle")
    assert offline.refused == [], f"{path} asked hosts other than the API for {offline.refused}"


@pytest.mark.browser
def test_swagger_ui_renders_the_operations_offline(api_url: str, browser: Browser) -> None:
    with open_page(browser) as bp:
        page = bp.page
        submit = page.locator(".opblock-post").filter(
            has=page.locator(".opblock-summary-path[data-path='/api/v1/runs']")
        )
        render_offline(page, api_url, "/docs", submit)
        assert page.locator(".opblock").count() > 1, "Swagger UI lists one operation only"
        bp.assert_no_errors()


@pytest.mark.browser
def test_redoc_renders_the_api_offline(api_url: str, browser: Browser) -> None:
    with open_page(browser) as bp:
        page = bp.page
        heading = page.get_by_role("heading", name=re.compile(re.escape(TITLE)), level=1)
        render_offline(page, api_url, "/redoc", heading)
        # The operations are listed too, not only the title.
        page.get_by_text("/api/v1/runs").first.wait_for(state="attached")
        bp.assert_no_errors()


class _References(HTMLParser):
    """Every ``src`` and ``href`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_pages_and_their_files_are_open_and_on_the_api(api_url: str, path: str) -> None:
    """No key is needed (like ``/openapi.json``), and every file a page names is served
    by the API itself."""
    with httpx.Client(base_url=api_url, timeout=30) as anyone:
        page = anyone.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        refs = _References()
        refs.feed(page.text)
        assert refs.urls, f"{path} names no script or stylesheet"
        for url in refs.urls:
            absolute = urljoin(f"{api_url}{path}", url)
            assert _origin(absolute) == api_url, f"{path} loads {url} from elsewhere"
            answer = anyone.get(absolute)
            assert answer.status_code == 200, f"{url}: {answer.status_code}"
        assert "fonts.googleapis.com" not in page.text
