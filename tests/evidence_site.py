"""A page that leaves evidence: it logs, throws, fetches a missing resource and gets a 500,
and sends what is typed into its password field in a URL (the trace must not show it);
it has an open shadow root and a same-origin frame for the snapshot to keep.

``evidence_site()`` serves it on a free loopback port: ``/app`` the page, ``POST /api/save``
a 500, ``/api/echo`` a 200, anything else a 404.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

APP = """<!doctype html><html><head><title>Orders</title>
<style>h1 { color: rgb(200, 0, 0); }</style></head><body>
<h1>Order form</h1>
<form onsubmit="return false">
  <input id="user"><input id="pass" type="password">
  <label><input id="agree" type="checkbox"> agree</label>
  <select id="size"><option>S</option><option>M</option></select>
</form>
<p id="status">ready</p>
<button id="go" onclick="go()">Save</button>
<script>
console.log("hello from the page", 42);
console.warn("a warning line");
function go() {
  var token = document.getElementById('pass').value;
  console.log('token is ' + token);
  console.error('save failed: the backend said no');
  fetch('/missing.json');
  fetch('/api/echo?token=' + encodeURIComponent(token));
  fetch('/api/save', {method: 'POST', body: 'token=' + token}).then(function (r) {
    document.getElementById('status').textContent = 'server error ' + r.status;
  });
  setTimeout(function () { throw new Error('uncaught boom'); }, 0);
}
</script>
<button id="ask" onclick="ask()">Ask</button>
<div id="host"></div>
<iframe id="inner" srcdoc="<p>inside the frame</p>"></iframe>
<script>
function ask() {
  document.getElementById('status').textContent = confirm('Sure?') ? 'yes' : 'no';
}
document.getElementById('host').attachShadow({mode: 'open'}).innerHTML = '<b>in the shadow</b>';
</script></body></html>"""


@contextlib.contextmanager
def evidence_site() -> Iterator[str]:
    """Serve the page on 127.0.0.1; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, kind: str = "text/html; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/app":
                self._send(200, APP.encode())
            elif path == "/api/echo":
                self._send(200, b'{"ok": true}', "application/json")
            else:
                self._send(404, b"not here", "text/plain")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._send(500, b'{"error": "database down"}', "application/json")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="evidence-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
