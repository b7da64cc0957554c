"""Schemathesis against the history and quarantine routes, on an API with a real
history database: no input makes them 500 or hang, and every answer is as documented
(as ``tests/integration/api/test_api_schema.py`` does for the other routes)."""

from __future__ import annotations

import pytest
import schemathesis

from tests.integration.api.test_api_schema import (  # noqa: F401 (admin_key: a fixture)
    HISTORY_OPERATIONS,
    admin_key,
    fuzz,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

MAX_EXAMPLES = 25
"""Examples per operation and generation mode."""


@pytest.mark.parametrize(
    ("label", "mode"),
    [(label, mode) for label in HISTORY_OPERATIONS for mode in schemathesis.GenerationMode],
)
def test_no_input_makes_the_history_routes_fail(
    api_url: str,
    admin_key: str,  # noqa: F811 (the fixture imported above)
    label: str,
    mode: schemathesis.GenerationMode,
) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    fuzz(schema, label, mode, MAX_EXAMPLES, api_url, admin_key)
