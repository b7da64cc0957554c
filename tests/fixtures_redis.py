"""A throwaway Redis server on a free port, for tests that need the real thing.

Plain context managers (wrap them in a pytest fixture where needed): the server
keeps nothing on disk (``--save "" --appendonly no``) and is always stopped.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator

import redis

from tests.waiting import wait_until

START_TIMEOUT_S = 10.0
"""How long redis-server may take to answer PING."""
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port nothing listens on right now (another process could still take it):
    only for a server that cannot bind 0 and retries (``redis_server``), or for a port
    where nothing must listen."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PORT_ATTEMPTS = 5
"""redis-server cannot bind port 0 (``--port 0`` turns TCP off): it gets a port chosen
here, and another when something took that one before redis-server bound it."""


@contextlib.contextmanager
def redis_server(binary: str = "redis-server") -> Iterator[str]:
    """A fresh redis-server for the ``with`` block; yields its URL (``redis://...:port/0``)."""
    path = shutil.which(binary)
    if path is None:
        raise RuntimeError(f"{binary} is not installed: apt-get install redis-server")
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        process = subprocess.Popen(
            [path, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            try:
                _wait_for_ping(url, process)
            except PortTaken:
                if attempt == PORT_ATTEMPTS:
                    raise
                continue
            yield url
            return
        finally:
            stop_process(process, STOP_TIMEOUT_S)
            if process.stdout is not None:
                process.stdout.close()


class PortTaken(RuntimeError):
    """A server exited at start because another process held its port."""


def stop_process(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; always reaped."""
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for_ping(url: str, process: subprocess.Popen[bytes]) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)

    def answers() -> bool:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            if "address already in use" in output.lower():
                raise PortTaken(f"redis-server's port was taken: {url}")
            raise RuntimeError(f"redis-server exited at start:\n{output}")
        return bool(client.ping())

    try:
        wait_until(
            f"redis-server at {url}", answers, START_TIMEOUT_S, ignore=(redis.ConnectionError,)
        )
    finally:
        client.close()
