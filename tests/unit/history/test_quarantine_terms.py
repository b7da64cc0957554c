"""How a quarantine's expiry and a test's name are written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from testfleet.errors import UsageError
from testfleet.history import naming
from testfleet.history.quarantine import parse_expiry
from testfleet.history.rules import Identity


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("14d", timedelta(days=14)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
        (" 1d ", timedelta(days=1)),
        ("365d", timedelta(days=365)),
    ],
)
def test_expiries(text: str, span: timedelta) -> None:
    assert parse_expiry(text) == span


@pytest.mark.parametrize("text", ["14", "d", "0d", "366d", "1y", "-1d", "1.5d", ""])
def test_wrong_expiries_say_the_form(text: str) -> None:
    with pytest.raises(UsageError, match="expiry"):
        parse_expiry(text)


def test_a_test_is_named_suite_slash_test() -> None:
    assert naming.split("Checkout/pays by card") == Identity("Checkout", "pays by card")
    assert naming.split("A/b/c") == Identity("A", "b/c")
    assert naming.joined(Identity("Checkout", "pays by card")) == "Checkout/pays by card"
    for wrong in ("no slash", "/test", "Suite/", " / "):
        with pytest.raises(UsageError, match="SUITE/TEST NAME"):
            naming.split(wrong)
