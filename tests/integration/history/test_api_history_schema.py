"""Schemathesis against the history and quarantine routes, on an API with a real
history database: no input makes them 500 or hang, and every answer is as documented
(as ``tests/integration/api/test_api_schema.py`` does for the other routes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from testfleet.fleet.auth import KeyStore
from testfleet.settings import Settings
from tests.integration.api.test_api_schema import CHECKS, HISTORY_OPERATIONS, REQUEST_TIMEOUT_S

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

MAX_EXAMPLES = 25
"""Examples per operation and generation mode."""


@pytest.fixture(scope="module")
def admin_key(settings: Settings) -> Iterator[str]:
    client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
    try:
        yield KeyStore(client).create("fuzz", ["admin"])[1]
    finally:
        client.close()


@pytest.mark.parametrize(
    ("label", "mode"),
    [(label, mode) for label in HISTORY_OPERATIONS for mode in schemathesis.GenerationMode],
)
def test_no_input_makes_the_history_routes_fail(
    api_url: str, admin_key: str, label: str, mode: schemathesis.GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    (operation,) = [r.ok() for r in schema.get_all_operations() if r.ok().label == label]

    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        headers = {"X-API-Key": admin_key}
        response = case.call(base_url=api_url, headers=headers, timeout=REQUEST_TIMEOUT_S)
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()
