"""A loopback HTTP server that records every request it gets: where a hostile page would
call home. A test that shows untrusted HTML counts the calls here (it wants zero)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Beacon:
    """What the server at ``url`` was asked for, in order."""

    url: str
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self) -> list[str]:
        with self.lock:
            return list(self.paths)

    def hostile(self) -> list[str]:
        """Every request but the tests' own: ``/done`` marks (and the favicon that the
        browser asks for when a test opens ``/done``)."""
        return [p for p in self.seen() if not p.startswith(("/done", "/favicon.ico"))]


@contextmanager
def beacon_server() -> Iterator[Beacon]:
    """A running beacon for the ``with`` block (always shut down)."""
    beacon = Beacon(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            with beacon.lock:
                beacon.paths.append(self.path)
            body = b"<!doctype html><title>beacon</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    beacon.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="beacon", daemon=True)
    thread.start()
    try:
        yield beacon
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
