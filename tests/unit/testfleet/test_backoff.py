"""The one retry delay formula: exponential, capped, jittered; a server's Retry-After wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from testfleet.backoff import Backoff, retry_after_s


def test_the_ceiling_doubles_per_failure_up_to_the_cap() -> None:
    exact = Backoff(first_s=0.2, max_s=5.0, rand=lambda: 0.0)
    assert [exact.delay_s(n) for n in range(1, 8)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]


def test_jitter_takes_up_to_half_off_and_never_adds() -> None:
    lowest = Backoff(first_s=1.0, max_s=10.0, rand=lambda: 0.999999)
    assert lowest.delay_s(3) == pytest.approx(2.0, abs=1e-5)
    delays = {Backoff(first_s=1.0, max_s=10.0).delay_s(3) for _ in range(200)}
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(delays) > 100, "jittered, not one fixed delay"
    assert Backoff(first_s=1.0, max_s=10.0, jitter=0.0).delay_s(3) == 4.0


def test_a_servers_retry_after_wins_but_is_capped() -> None:
    backoff = Backoff(first_s=0.5, max_s=30.0)
    assert backoff.delay_s(1, retry_after_s=7.0) == 7.0
    assert backoff.delay_s(9, retry_after_s=3600.0) == 30.0
    assert backoff.delay_s(1, retry_after_s=-1.0) == 0.0


def test_retry_after_headers_in_every_form() -> None:
    assert retry_after_s(None) is None
    assert retry_after_s({}) is None
    assert retry_after_s({"retry-after-ms": "250"}) == 0.25
    assert retry_after_s({"retry-after-ms": "soon", "retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after": "garbage"}) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    waited = retry_after_s({"retry-after": later})
    assert waited is not None
    assert 55.0 <= waited <= 60.0
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=60), usegmt=True)
    assert retry_after_s({"retry-after": past}) == 0.0
