"""Oversized submissions: 413 with a message, whether or not the body says its length.

Nothing of a refused submission is stored or queued.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import httpx
import pytest
import redis

from testfleet import keys
from tests.integration.api.helpers import (
    MAX_BODY_BYTES,
    Keys,
    case,
    error_of,
    suite,
)

pytestmark = pytest.mark.redis


def big_yaml() -> bytes:
    steps = "".join(f"      - navigate: /page/{i}\n" for i in range(MAX_BODY_BYTES // 20))
    return (
        f"name: Big\nbase_url: http://demo.test\ntests:\n  - name: t\n    steps:\n{steps}".encode()
    )


def test_a_chunked_yaml_body_over_the_limit_is_413_and_nothing_is_stored(
    alpha: httpx.Client, r: redis.Redis
) -> None:
    body = big_yaml()
    assert len(body) > MAX_BODY_BYTES

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    answer = alpha.post("/api/v1/runs", content=chunks(), headers={"Content-Type": "text/yaml"})
    assert answer.status_code == 413, answer.text
    error = error_of(answer)
    assert error["code"] == "payload_too_large"
    assert f"larger than {MAX_BODY_BYTES} bytes" in error["message"]
    assert r.zcard(keys.project_runs("alpha")) == 0


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    api_url: str, api_keys: Keys
) -> None:
    url = httpx.URL(api_url)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=30)
    try:
        # Claims 1 GB but sends nothing: the answer must not wait for the body.
        connection.putrequest("POST", "/api/v1/runs")
        connection.putheader("X-API-Key", api_keys.alpha)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(1_000_000_000))
        connection.endheaders()
        answer = connection.getresponse()
        status, body = answer.status, json.loads(answer.read())
    finally:
        connection.close()
    assert status == 413
    assert "TESTFLEET_API__MAX_BODY_BYTES" in body["error"]["message"]


def test_a_body_just_under_the_limit_is_read(alpha: httpx.Client) -> None:
    # In four texts: one text is capped on its own (TESTFLEET_LIMITS__MAX_FIELD_CHARS).
    padding = "x" * ((MAX_BODY_BYTES - 2_000) // 4)
    tests = [case(f"t{i}", description=padding) for i in range(4)]
    answer = alpha.post("/api/v1/runs", json={"suites": [suite("S", *tests)]})
    assert answer.status_code == 202, answer.text
