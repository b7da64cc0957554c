"""``testfleet trace`` (download a test's trace zip) and ``testfleet show-trace`` (open one).

``show-trace`` unpacks the zip into a temporary folder and serves it on loopback
only, from a small HTTP server: the viewer (``index.html``) under its own policy,
and every snapshot (the tested page's HTML) with ``SNAPSHOT_HEADER_POLICY``, which
sandboxes it even when opened on its own. The folder is removed when the server stops.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from testfleet.constants import run_path
from testfleet.errors import UsageError
from testfleet.evidence.viewer import INDEX_POLICY
from testfleet.evidence.viewer_model import SNAPSHOT_HEADER_POLICY, read_zip

LOOPBACK = "127.0.0.1"


def find_case(run: dict[str, Any], test: str) -> str:
    """The case id of the run's test named ``test`` (or ``Suite/name``, or a case id)."""
    tests: list[dict[str, Any]] = run.get("tests", [])
    for wanted in (
        lambda t: t.get("case_id") == test,
        lambda t: t.get("name") == test,
        lambda t: f"{t.get('suite')}/{t.get('name')}" == test,
    ):
        found = [t for t in tests if wanted(t)]
        if len(found) == 1:
            return str(found[0]["case_id"])
        if len(found) > 1:
            suites = ", ".join(sorted(f"{t.get('suite')}/{t.get('name')}" for t in found))
            raise UsageError(f"several tests are named {test!r}; name one as Suite/name: {suites}")
    names = ", ".join(sorted({str(t.get("name")) for t in tests})[:20]) or "none"
    raise UsageError(f"run {run.get('runId')} has no test named {test!r}; its tests: {names}")


@click.command("trace")
@click.argument("run_id")
@click.argument("test_name")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="trace.zip",
    show_default=True,
    help="Where to write the zip",
)
@click.option(
    "--attempt",
    default=None,
    help="An attempt number, or 'all' (one zip, a folder per attempt); "
    "default: the last kept attempt",
)
@click.option("--server")
@click.option("--key", "api_key")
@click.pass_context
def trace(
    ctx: click.Context,
    run_id: str,
    test_name: str,
    output: str,
    attempt: str | None,
    server: str | None,
    api_key: str | None,
) -> None:
    """Download a test's trace: DOM snapshots, console, network (HAR) and screenshots per
    step, with an index.html viewer (open it with `testfleet show-trace`)."""
    from cli import runner
    from testfleet.client.http import ApiClient

    if attempt is not None and attempt != "all" and not attempt.isdigit():
        raise UsageError(f"--attempt must be a number or 'all', not {attempt!r}")
    target = runner.Target.resolve(ctx.ensure_object(dict)["settings"], server, api_key)
    with ApiClient(target.api_url, target.api_key) as api:
        case_id = find_case(api.get_run(run_id), test_name)
        query = f"?attempt={attempt}" if attempt else ""
        data = api.get_bytes(f"{run_path(run_id)}/traces/{quote(case_id, safe='')}{query}")
    Path(output).write_bytes(data)
    click.echo(f"wrote {output} ({len(data)} bytes); open it with: testfleet show-trace {output}")


class _TraceHandler(SimpleHTTPRequestHandler):
    """Files of one unpacked trace, each with the policy its kind needs; no listings."""

    def end_headers(self) -> None:
        path = self.path.split("?", 1)[0]
        policy = SNAPSHOT_HEADER_POLICY if "/snapshots/" in path else INDEX_POLICY
        self.send_header("Content-Security-Policy", policy)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def list_directory(self, path: str | Any) -> None:
        self.send_error(404, "no listing: open index.html")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the terminal shows the URL, not every request


def unpack(data: bytes, into: Path) -> Path:
    """The trace zip's members written under ``into``; the ``index.html`` to open."""
    for name, body in read_zip(data).items():
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    index = into / "index.html"
    if not index.is_file():
        raise UsageError("this trace zip has no index.html: download it again with testfleet trace")
    return index


@contextmanager
def serving(data: bytes, port: int = 0) -> Iterator[str]:
    """The trace zip ``data`` unpacked and served on loopback; yields its viewer's URL."""
    with tempfile.TemporaryDirectory(prefix="testfleet-trace-") as folder:
        unpack(data, Path(folder))
        handler = partial(_TraceHandler, directory=folder)
        server = ThreadingHTTPServer((LOOPBACK, port), handler)
        thread = threading.Thread(target=server.serve_forever, name="show-trace", daemon=True)
        thread.start()
        try:
            yield f"http://{LOOPBACK}:{server.server_address[1]}/index.html"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


@click.command("show-trace")
@click.argument("zip_path", type=click.Path(exists=True, dir_okay=False))
@click.option("--port", default=0, show_default=True, help="Loopback port (0: any free one)")
@click.option("--no-open", is_flag=True, help="Only print the URL (CI, no browser)")
def show_trace(zip_path: str, port: int, no_open: bool) -> None:
    """Open a trace zip in a browser, from a local server on 127.0.0.1 (Ctrl-C stops it)."""
    with serving(Path(zip_path).read_bytes(), port) as url:
        click.echo(f"trace viewer: {url}  (Ctrl-C to stop)")
        sys.stdout.flush()  # a caller reading the URL from a pipe gets it now
        if not no_open and not webbrowser.open(url):
            click.echo("no browser found here: open the URL above in one")
        stop = threading.Event()
        # SIGTERM ends it as Ctrl-C does: the unpacked folder is removed either way.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with suppress(KeyboardInterrupt):
            stop.wait()
        click.echo("stopped")
