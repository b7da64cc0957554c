"""A chromedriver on any machine (grid.driver): Debian's first, else webdriver-manager's.

webdriver-manager is pointed at a Chrome-for-Testing mirror served here on loopback
(``grid.chromedriver_mirror``): the two JSON endpoints it reads and a zip in Chrome
for Testing's layout (``chromedriver-linux64/chromedriver``), whose "driver" is a
shell script. Nothing leaves the machine; offline is a port that refuses.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from grid import driver
from testfleet.errors import BrowserError
from testfleet.settings import GridSettings, PathSettings, Settings

VERSION = "156.0.8078.129"
STORAGE = "https://storage.googleapis.com/chrome-for-testing-public"
ZIP_PATH = f"/chrome-for-testing-public/{VERSION}/linux64/chromedriver-linux64.zip"


def driver_zip() -> bytes:
    """A Chrome-for-Testing driver archive whose chromedriver prints its version."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        script = zipfile.ZipInfo("chromedriver-linux64/chromedriver")
        script.external_attr = 0o755 << 16
        archive.writestr(script, f"#!/bin/sh\necho 'ChromeDriver {VERSION} (fake)'\n")
        archive.writestr("chromedriver-linux64/LICENSE.chromedriver", "license\n")
        archive.writestr("chromedriver-linux64/THIRD_PARTY_NOTICES.chromedriver", "notices\n")
    return buffer.getvalue()


def mirror_files() -> dict[str, bytes]:
    builds = {"builds": {VERSION.rsplit(".", 1)[0]: {"version": VERSION}}}
    platforms = [
        {"platform": p, "url": f"{STORAGE}/{VERSION}/{p}/chromedriver-{p}.zip"}
        for p in ("linux64", "mac-arm64", "win64")
    ]
    known = {"versions": [{"version": VERSION, "downloads": {"chromedriver": platforms}}]}
    return {
        "/chrome-for-testing/latest-patch-versions-per-build.json": json.dumps(builds).encode(),
        "/chrome-for-testing/known-good-versions-with-downloads.json": json.dumps(known).encode(),
        ZIP_PATH: driver_zip(),
    }


@contextlib.contextmanager
def mirror() -> Iterator[tuple[str, list[str]]]:
    """A Chrome-for-Testing mirror on loopback: (base URL, the paths asked for)."""
    files, asked = mirror_files(), []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def refusing_port() -> Iterator[str]:
    """A loopback port bound, never listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with a browser (Google Chrome's `--version`) and no chromedriver anywhere."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    chrome = bin_dir / "google-chrome"
    chrome.write_text(f"#!/bin/sh\necho 'Google Chrome {VERSION} '\n")
    chrome.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return chrome


def settings_for(tmp_path: Path, mirror_url: str, system_driver: Path | None = None) -> Settings:
    return Settings(
        grid=GridSettings(
            chromium_binary=tmp_path / "no-chromium",
            chromedriver_path=system_driver or tmp_path / "no-chromedriver",
            chromedriver_mirror=mirror_url,
        ),
        paths=PathSettings(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache"),
    )


def test_without_a_system_driver_the_matching_one_is_fetched_once_and_cached(
    tmp_path: Path, laptop: Path
) -> None:
    with mirror() as (url, asked):
        settings = settings_for(tmp_path, url)
        browser = driver.browser_binary(settings)
        found = driver.chromedriver(settings, browser)

    assert browser == laptop, "Google Chrome on PATH stands in for a missing Chromium"
    assert ZIP_PATH in asked, "the driver for the browser's exact version"
    assert found.is_relative_to(settings.paths.cache_dir / "chromedriver")
    ran = subprocess.run([str(found)], capture_output=True, text=True, check=True)
    assert VERSION in ran.stdout
    with refusing_port() as offline:
        again = driver.chromedriver(settings_for(tmp_path, offline), browser)
    assert again == found, "offline, the cached driver is used"


def test_offline_with_nothing_cached_says_what_to_install(tmp_path: Path, laptop: Path) -> None:
    with refusing_port() as url, pytest.raises(BrowserError) as caught:
        driver.chromedriver(settings_for(tmp_path, url), laptop)

    message = str(caught.value)
    assert "apt install chromium chromium-driver" in message
    assert "chrome-for-testing" in message.lower()
    assert "TESTFLEET_GRID__CHROMEDRIVER_PATH" in message
    assert VERSION in message


def test_a_system_driver_wins_and_nothing_is_asked(tmp_path: Path, laptop: Path) -> None:
    system = tmp_path / "chromedriver"
    system.write_text("#!/bin/sh\n")
    system.chmod(0o755)
    with mirror() as (url, asked):
        settings = settings_for(tmp_path, url, system)
        assert driver.chromedriver(settings, laptop) == system
    assert asked == []


def test_a_driver_on_path_comes_before_fetching(tmp_path: Path, laptop: Path) -> None:
    on_path = laptop.parent / "chromedriver"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    with mirror() as (url, asked):
        assert driver.chromedriver(settings_for(tmp_path, url), laptop) == on_path
    assert asked == []


def test_mirrored_keeps_the_path_and_query() -> None:
    url = "https://googlechromelabs.github.io/chrome-for-testing/x.json?a=1"
    assert driver.mirrored(url, "http://m:8/") == "http://m:8/chrome-for-testing/x.json?a=1"
    assert driver.mirrored(url, "") == url


def test_debians_chromium_and_driver_are_the_defaults() -> None:
    grid = GridSettings()
    assert (grid.chromium_binary, grid.chromedriver_path) == (
        Path("/usr/bin/chromium"),
        Path("/usr/bin/chromedriver"),
    )
    assert os.access(grid.chromedriver_path, os.X_OK), "this machine has Debian's driver"
