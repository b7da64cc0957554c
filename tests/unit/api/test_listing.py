"""Cursors and times of ``GET /runs`` (no Redis needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.errors import ApiError
from api.listing import decode_cursor, encode_cursor, epoch_ms


def test_a_cursor_round_trips_and_is_url_safe() -> None:
    cursor = encode_cursor(1_795_312_800_123, "20261122-020000-a1b2c3")
    assert decode_cursor(cursor) == (1_795_312_800_123, "20261122-020000-a1b2c3")
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "bm90LWEtY3Vyc29y",
        encode_cursor(1, "../x"),
        encode_cursor(1, ""),
        "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA6YQ",
        "\x00",
        "8J+Ygg",
    ],
)
def test_a_cursor_this_api_did_not_give_is_a_400_saying_what_to_pass(cursor: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode_cursor(cursor)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_cursor"
    assert "nextCursor" in caught.value.message


def test_times_are_epoch_milliseconds_and_naive_times_are_utc() -> None:
    assert epoch_ms(None) is None
    assert epoch_ms(datetime(2026, 11, 22, 2, 0, tzinfo=UTC)) == 1_795_312_800_000
    assert epoch_ms(datetime(2026, 11, 22, 2, 0)) == 1_795_312_800_000
    plus_two = timezone(timedelta(hours=2))
    assert epoch_ms(datetime(2026, 11, 22, 4, 0, tzinfo=plus_two)) == 1_795_312_800_000
