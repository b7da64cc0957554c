"""What a Selenium Grid says about itself: readiness, slots and queue.

Read over HTTP (``/status`` and GraphQL), so any component can ask: ``testfleet
status``, the API's ``/fleet``, the gateway's metrics and the Grid launcher. The
router asks for its basic-auth credentials on both (``auth``: the settings'
``security.grid_credentials``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from testfleet.errors import InfrastructureError

_POLL_INTERVAL_S = 0.2

Auth = tuple[str, str] | None
"""(user, password) of the Grid router's basic auth, or None."""


@dataclass(frozen=True)
class GridCapacity:
    """What a Grid can take right now."""

    total_slots: int
    """Browser slots on nodes that are UP."""
    free_slots: int
    """Slots on UP nodes with no session."""
    queue_size: int
    """New-session requests waiting for a slot."""
    nodes_up: int

    @property
    def busy_slots(self) -> int:
        return self.total_slots - self.free_slots


def wait_until_ready(
    grid_url: str,
    timeout_s: float,
    *,
    min_slots: int = 1,
    alive: Callable[[], bool] | None = None,
    auth: Auth = None,
) -> None:
    """Block until the Grid at ``grid_url`` is ready and has at least ``min_slots`` slots.

    Polls ``GET {grid_url}/status`` every 0.2 s until ``value.ready`` is true and
    UP nodes offer ``min_slots`` slots, or ``timeout_s`` (seconds) passes.
    ``alive``, when given, is asked between polls; returning False (the Grid's
    process died) ends the wait at once. Raises ``InfrastructureError`` saying
    what was last seen.
    """
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    with httpx.Client(auth=auth) as client:
        while True:
            remaining_s = deadline - time.monotonic()
            try:
                status = _get_status(client, grid_url, min(2.0, max(remaining_s, 0.1)))
            except InfrastructureError as exc:
                last = str(exc)
            else:
                slots = _count_slots(status)[0]
                if not status.get("ready"):
                    last = f"not ready: {status.get('message', 'no message')}"
                elif slots < min_slots:
                    last = f"ready, but {slots} browser slot(s) registered (want {min_slots})"
                else:
                    return
            if alive is not None and not alive():
                raise InfrastructureError(
                    f"Selenium Grid at {grid_url} exited before it was ready ({last}): "
                    "see its log for the reason"
                )
            if time.monotonic() + _POLL_INTERVAL_S > deadline:
                raise InfrastructureError(
                    f"Selenium Grid at {grid_url} not ready after {timeout_s:g} s ({last}): "
                    "is `testfleet grid` (or `testfleet up`) running? see its log"
                )
            time.sleep(_POLL_INTERVAL_S)


def read_capacity(grid_url: str, timeout_s: float = 5.0, auth: Auth = None) -> GridCapacity:
    """Slots, free slots, queued requests and UP nodes of the Grid at ``grid_url``.

    Slots come from ``/status``; the queue size from GraphQL (``{ grid {
    sessionQueueSize } }``). On 4.48 ``GET /se/grid/newsessionqueue/queue`` answers
    too, but it returns every queued request's capabilities and is an internal
    route of the Grid. Raises ``InfrastructureError`` when the Grid does not answer.
    """
    with httpx.Client(auth=auth) as client:
        status = _get_status(client, grid_url, timeout_s)
        total, free, nodes_up = _count_slots(status)
        query = {"query": "{ grid { sessionQueueSize } }"}
        try:
            response = client.post(f"{grid_url.rstrip('/')}/graphql", json=query, timeout=timeout_s)
            response.raise_for_status()
            queue_size = int(response.json()["data"]["grid"]["sessionQueueSize"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise InfrastructureError(
                f"Selenium Grid at {grid_url} did not report its queue ({exc}): "
                "is it a Selenium 4 hub or standalone?"
            ) from exc
    return GridCapacity(total, free, queue_size, nodes_up)


def _get_status(client: httpx.Client, grid_url: str, timeout_s: float) -> dict[str, Any]:
    url = f"{grid_url.rstrip('/')}/status"
    try:
        response = client.get(url, timeout=timeout_s)
        if response.status_code == 401:
            raise InfrastructureError(
                f"GET {url}: the Grid refused our credentials (401): set "
                "TESTFLEET_SECURITY__GRID_USERNAME / __GRID_PASSWORD to its router's"
            )
        response.raise_for_status()
        value = response.json()["value"]
    except httpx.HTTPError as exc:
        raise InfrastructureError(f"GET {url} failed: {exc or type(exc).__name__}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise InfrastructureError(f"GET {url} did not return Grid status JSON") from exc
    if not isinstance(value, dict):
        raise InfrastructureError(f"GET {url} did not return Grid status JSON")
    return value


def _count_slots(status: dict[str, Any]) -> tuple[int, int, int]:
    """(total slots, free slots, nodes up) from a hub's or standalone's status value."""
    total = free = nodes_up = 0
    for node in status.get("nodes") or []:
        if node.get("availability") != "UP":
            continue
        nodes_up += 1
        for slot in node.get("slots") or []:
            total += 1
            if slot.get("session") is None:
                free += 1
    return total, free, nodes_up
