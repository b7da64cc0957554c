"""A local web server for the pages a browser test needs.

``page_server(pages)`` serves ``pages`` (path -> HTML, or a callable returning
HTML on each request) on a free port from a background thread, and always stops.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

Page = str | Callable[[], str]


@contextlib.contextmanager
def page_server(pages: Mapping[str, Page]) -> Iterator[str]:
    """Serve ``pages`` on 127.0.0.1; yields the base URL (``http://127.0.0.1:<port>``).

    A path not in ``pages`` is a 404; the query string is ignored when matching.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = pages.get(urlsplit(self.path).path)
            if page is None:
                self.send_error(404)
                return
            body = (page() if callable(page) else page).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output to what failed

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="page-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def world_readable_page(marker: str, prefix: str) -> Iterator[str]:
    """A file:// URL of a page holding ``marker`` that every user may read (a root node's
    browser runs as another user); removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        directory.chmod(0o755)
        path = directory / "page.html"
        path.write_text(f"<p>{marker}</p>")
        path.chmod(0o644)
        yield path.as_uri()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
