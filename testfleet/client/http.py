"""The Python client: the REST API and the gateway's event stream, over HTTP.

``testfleet run`` and ``testfleet watch`` use it; so can any script. httpx
errors are translated here into testfleet errors whose message says what to do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from testfleet.backoff import Backoff
from testfleet.constants import API_PREFIX
from testfleet.errors import (
    AuthError,
    InfrastructureError,
    NotFoundError,
    SuiteError,
    TestfleetError,
    UsageError,
)

RECONNECT = Backoff(first_s=0.2, max_s=5.0)
"""Between reconnects of a client following a run's events (SSE here, WebSocket in
``wsclient``), after a network failure."""
_UNREACHABLE = (
    "nothing is listening at {url}: start the local fleet with `testfleet up`, or pass --server"
)


class ApiClient:
    """The orchestrator's REST API (``/api/v1``)."""

    def __init__(self, base_url: str, api_key: str | None, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise InfrastructureError(_UNREACHABLE.format(url=self.base_url) + f" ({exc})") from exc
        if response.status_code < 400:
            return response
        raise _api_error(response)

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """Submit a run; returns the 202 answer (runId, links, ...)."""
        return dict(self._request("POST", f"{API_PREFIX}/runs", json=body).json())

    def get_run(self, run_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"{API_PREFIX}/runs/{run_id}").json())

    def run_labels(self, run_id: str) -> dict[str, Any]:
        """The labels of a run's failures and its failure clusters (``archived`` false
        while the run is not in the history database yet)."""
        return dict(self._request("GET", f"{API_PREFIX}/runs/{run_id}/labels").json())

    def list_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        data = self._request("GET", f"{API_PREFIX}/runs", params={"limit": limit}).json()
        return list(data["runs"] if isinstance(data, dict) else data)

    def cancel(self, run_id: str) -> dict[str, Any]:
        return dict(self._request("POST", f"{API_PREFIX}/runs/{run_id}/cancel").json())

    def get_bytes(self, path: str) -> bytes:
        return self._request("GET", path).content

    def list_baselines(self) -> list[dict[str, Any]]:
        """The project's visual baselines (newest version of each)."""
        return list(self._request("GET", f"{API_PREFIX}/baselines").json()["baselines"])

    def baseline_versions(self, baseline_id: str) -> list[dict[str, Any]]:
        """Every version of one baseline, oldest first."""
        path = f"{API_PREFIX}/baselines/{quote(baseline_id, safe='')}"
        return list(self._request("GET", path).json()["versions"])

    def baseline_image(self, baseline_id: str, version: int | None = None) -> bytes:
        """A baseline's PNG (its newest version by default)."""
        params = {"version": version} if version is not None else {}
        path = f"{API_PREFIX}/baselines/{quote(baseline_id, safe='')}/image"
        return self._request("GET", path, params=params).content

    def approve_baselines(self, run_id: str, test: str | None = None) -> dict[str, Any]:
        """Make a run's changed (or missing) screenshots the new baselines."""
        path = f"{API_PREFIX}/runs/{quote(run_id, safe='')}/baselines/approve"
        return dict(self._request("POST", path, json={"test": test}).json())

    def run_quarantine(self, run_id: str) -> list[dict[str, Any]]:
        """The run's tests that are in the project's quarantine now."""
        path = f"{API_PREFIX}/runs/{quote(run_id, safe='')}/quarantine"
        return list(self._request("GET", path).json()["quarantined"])

    def quarantine_list(self) -> list[dict[str, Any]]:
        """The project's quarantined tests, soonest expiry first."""
        return list(self._request("GET", f"{API_PREFIX}/quarantine").json()["tests"])

    def quarantine_add(self, test: str, reason: str, owner: str, expires: str) -> dict[str, Any]:
        """Put ``test`` (SUITE/TEST NAME) in quarantine for ``expires`` (``14d``)."""
        body = {"test": test, "reason": reason, "owner": owner, "expires": expires}
        return dict(self._request("POST", f"{API_PREFIX}/quarantine", json=body).json())

    def quarantine_remove(self, test: str) -> dict[str, Any]:
        """Lift ``test``'s quarantine."""
        path = f"{API_PREFIX}/quarantine"
        return dict(self._request("DELETE", path, params={"test": test}).json())

    def notify_add(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add a notification target (``kind``, ``secret``, ``url``, ``repo``, ``project``)."""
        return dict(self._request("POST", f"{API_PREFIX}/notify/targets", json=body).json())

    def notify_list(self, project: str | None = None) -> list[dict[str, Any]]:
        params = {"project": project} if project else {}
        path = f"{API_PREFIX}/notify/targets"
        return list(self._request("GET", path, params=params).json()["targets"])

    def notify_remove(self, target_id: str, project: str | None = None) -> dict[str, Any]:
        params = {"project": project} if project else {}
        path = f"{API_PREFIX}/notify/targets/{quote(target_id, safe='')}"
        return dict(self._request("DELETE", path, params=params).json())

    def notify_test(self, target_id: str, project: str | None = None) -> dict[str, Any]:
        """Send a test notification to the target now; the delivery."""
        params = {"project": project} if project else {}
        path = f"{API_PREFIX}/notify/targets/{quote(target_id, safe='')}/test"
        return dict(self._request("POST", path, params=params).json())

    def notify_deliveries(self, project: str | None = None, limit: int = 20) -> list[Any]:
        params: dict[str, Any] = {"limit": limit, **({"project": project} if project else {})}
        path = f"{API_PREFIX}/notify/deliveries"
        return list(self._request("GET", path, params=params).json()["deliveries"])

    def test_history(self, test: str, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        """A test's figures and a page of its attempts, newest first."""
        params: dict[str, Any] = {"test": test, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        return dict(self._request("GET", f"{API_PREFIX}/history/tests", params=params).json())

    def flaky_tests(self, days: int = 30, limit: int = 50) -> dict[str, Any]:
        """The project's flaky tests, the most time lost first."""
        params = {"days": days, "limit": limit}
        return dict(self._request("GET", f"{API_PREFIX}/history/flaky", params=params).json())

    def last_failed(self, suites: list[str], branch: str) -> dict[str, Any]:
        """The tests that failed in the branch's latest archived run of these suites
        (``runId`` None when it has none)."""
        params = {"suite": suites, "branch": branch}
        path = f"{API_PREFIX}/history/last-failed"
        return dict(self._request("GET", path, params=params).json())


def _api_error(response: httpx.Response) -> TestfleetError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    message = error.get("message") or f"{response.status_code} {response.reason_phrase}"
    if response.status_code in (401, 403):
        return AuthError(message)
    if response.status_code == 404:
        return NotFoundError(message)
    if error.get("problems"):
        return SuiteError([str(p) for p in error["problems"]])
    if response.status_code < 500:
        return UsageError(message)
    return InfrastructureError(f"the server failed: {message}")


def parse_sse(lines: Iterator[str]) -> Iterator[tuple[str | None, str, str]]:
    """(id, event, data) for each SSE message in ``lines`` (comments skipped)."""
    event_id: str | None = None
    event = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event_id, event, "\n".join(data)
            event_id, event, data = None, "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            event_id = value
        elif field == "event":
            event = value
        elif field == "data":
            data.append(value)


def follow_events(
    url: str,
    api_key: str | None,
    last_id: str | None = None,
    *,
    max_retries: int = 8,
    stop: Callable[[dict[str, Any]], bool] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every event of an SSE stream, resuming after a disconnect from the last id seen.

    Reconnects with exponential backoff and jitter (``RECONNECT``: 0.2 s doubling up to 5 s);
    gives up with ``InfrastructureError`` after ``max_retries`` failed attempts in
    a row. Ends when the server ends the stream (after ``run_completed``) or when
    ``stop(event)`` is true.
    """
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    failures = 0
    while True:
        if last_id:
            headers["Last-Event-ID"] = last_id
        try:
            with httpx.stream(
                "GET", url, headers=headers, timeout=httpx.Timeout(30.0, read=60.0)
            ) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _api_error(r)
                failures = 0
                for event_id, _kind, data in parse_sse(r.iter_lines()):
                    event = json.loads(data)
                    last_id = event_id or event.get("id") or last_id
                    yield event
                    if stop is not None and stop(event):
                        return
                    if event.get("type") == "run_completed":
                        return
            return  # the server ended the stream on purpose
        except httpx.TransportError as exc:
            failures += 1
            if failures > max_retries:
                raise InfrastructureError(
                    f"lost the event stream at {url} and could not reconnect ({exc}); "
                    "check `testfleet status`, then `testfleet watch RUN_ID`"
                ) from exc
            time.sleep(RECONNECT.delay_s(failures))
