"""``testfleet show-trace`` as a user runs it: the URL it prints serves the trace on
loopback, and SIGTERM stops it and removes what it unpacked."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.trace_files import CONSOLE_ERROR, trace_zip


def test_show_trace_serves_the_zip_until_stopped(tmp_path: Path) -> None:
    archive = tmp_path / "trace.zip"
    archive.write_bytes(trace_zip())
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "cli.main", "show-trace", str(archive), "--no-open"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        _check_and_stop(process, tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("testfleet-trace-")]


def _check_and_stop(process: subprocess.Popen[str], tmp_path: Path) -> None:
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the server listens and says where
        found = re.search(r"http://127\.0\.0\.1:\d+/index\.html", line)
        assert found, line
        page = httpx.get(found.group(0))
        assert page.status_code == 200
        assert CONSOLE_ERROR in page.text
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("testfleet-trace-")]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
