"""Helpers of the API test modules: suite and case documents, the projects' keys,
clients, submitting a run, reading an error answer.

The fixtures (an API on a real Redis, the projects' clients) are in this directory's
conftest.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import redis

from testfleet.fleet.auth import KeyStore

QUEUE = "tfq-api"
MAX_BODY_BYTES = 60_000


def suite(name: str, *tests: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A suite document in short form."""
    return {"name": name, "base_url": "http://demo.test", "tests": list(tests), **fields}


def case(name: str, **fields: Any) -> dict[str, Any]:
    """A two-step test case document."""
    return {"name": name, "steps": [{"navigate": "/"}, {"click": "#go"}], **fields}


class Keys:
    """API keys of projects alpha and beta, with various scopes."""

    def __init__(self, r: redis.Redis) -> None:
        ks = KeyStore(r)
        self.alpha = ks.create("alpha", ["test:read", "test:write"])[1]
        self.beta = ks.create("beta", ["test:read", "test:write"])[1]
        self.alpha_read = ks.create("alpha", ["test:read"])[1]
        self.alpha_dashboard = ks.create("alpha", ["dashboard:read"])[1]
        self.beta_dashboard = ks.create("beta", ["dashboard:read"])[1]
        self.alpha_admin = ks.create("alpha", ["admin"])[1]
        self.metrics = ks.create("ops", ["metrics:read"])[1]
        """The scraper's key: ``/metrics`` and nothing else."""


def client_for(api_url: str, key: str | None) -> httpx.Client:
    """An HTTP client of the API presenting ``key`` (none when None)."""
    headers = {"X-API-Key": key} if key else {}
    return httpx.Client(base_url=api_url, headers=headers, timeout=30)


def submit(client: httpx.Client, *suites: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Submit suites as a run; the 202 answer."""
    answer = client.post("/api/v1/runs", json={"suites": list(suites), **fields})
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` of an error answer, checked to be in the one shape."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"], body
    assert body["error"]["message"], body
    detail: dict[str, Any] = body["error"]
    return detail
