"""Fixtures for the API and gateway tests: uvicorn serving in a thread.

(The real redis-server they need comes from ``tests.fixtures_redis``.) ``serving``
always stops what it started; waiting is on a condition with a deadline (uvicorn
says it started), never a fixed sleep.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api.app import create_app
from testfleet.settings import Settings
from tests.ports import hold_again, take_held
from tests.waiting import wait_until


@contextmanager
def serving(server: uvicorn.Server, timeout_s: float = 15.0) -> Iterator[uvicorn.Server]:
    """Run ``server`` in a thread until the block ends; yields once it accepts connections.

    A port from ``tests.ports.held_port`` is served on the socket that holds it, so no
    other process can have taken it in between.
    """
    held = take_held(server.config.port)
    if held is not None:
        held.listen(server.config.backlog)
    sockets = None if held is None else [held]
    thread = threading.Thread(
        target=lambda: server.run(sockets=sockets), name="uvicorn", daemon=True
    )
    thread.start()
    try:
        wait_until("uvicorn to start", lambda: server.started or not thread.is_alive(), timeout_s)
        if not server.started:
            raise RuntimeError("uvicorn stopped before it started (see the log above)")
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=timeout_s)
        if thread.is_alive():
            raise RuntimeError("uvicorn did not stop in time")
        if held is not None:
            held.close()
            hold_again(server.config.port, server.config.host)


def api_server(settings: Settings) -> uvicorn.Server:
    """The API of ``settings`` (on ``settings.api.port``), for ``serving``."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=settings.api.port, log_level="warning"
    )
    return uvicorn.Server(config)


@contextmanager
def serving_api(settings: Settings) -> Iterator[str]:
    """The API of ``settings`` served until the block ends; yields its URL."""
    with serving(api_server(settings)):
        yield f"http://127.0.0.1:{settings.api.port}"
