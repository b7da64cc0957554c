"""Failure signatures: what varies between two occurrences of one failure never changes
its signature; a different step kind or selector always does."""

from __future__ import annotations

import string
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from testfleet.history.signature import DIGEST_HEX_CHARS, normalise, signature

TEMPLATE = (
    "Timed out after {duration} waiting for {quoted} in {url} "
    "(element {uuid}, session {hex}, row {n} of {m}, at {timestamp})\n\t  retried"
)
"""An error with one of each kind of variable part, between fixed words."""

_QUOTE_SAFE = string.ascii_letters + string.digits + " ,.:;!?-_/#()[]=<>"
_UNITS = ("ms", "s", " ms", " seconds", "sec", "m", " minutes", "h")


@st.composite
def variable_parts(draw: st.DrawFn) -> dict[str, str]:
    """One occurrence's values of the variable parts of ``TEMPLATE``."""
    quote = draw(st.sampled_from(['"{}"', "'{}'", "`{}`", "“{}”"]))
    path_id = draw(st.integers(min_value=0, max_value=10**9))
    query = draw(st.text(alphabet=string.ascii_letters + string.digits + "=&%-", max_size=30))
    fragment = draw(st.text(alphabet=string.ascii_letters + string.digits, max_size=10))
    port = draw(st.integers(min_value=1, max_value=65535))
    moment = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(
        seconds=draw(st.integers(min_value=0, max_value=10**9))
    )
    number = draw(st.integers(min_value=0, max_value=10**12))
    seconds = draw(st.floats(min_value=0, max_value=10**6, allow_nan=False))
    seconds_text = draw(st.sampled_from([f"{seconds:.3f}", str(int(seconds))]))
    return {
        "duration": seconds_text + draw(st.sampled_from(_UNITS)),
        "quoted": quote.format(draw(st.text(alphabet=_QUOTE_SAFE, max_size=40))),
        "url": f"http://127.0.0.1:{port}/orders/{path_id}/items"
        + (f"?{query}" if query else "")
        + (f"#{fragment}" if fragment else ""),
        "uuid": str(uuid.UUID(int=draw(st.integers(min_value=0, max_value=2**128 - 1)))),
        "hex": draw(st.text(alphabet="0123456789abcdefABCDEF", min_size=8, max_size=40)),
        "n": str(number),
        "m": str(draw(st.integers(min_value=0, max_value=999))),
        "timestamp": draw(
            st.sampled_from(
                [
                    moment.isoformat(),
                    moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    moment.strftime("%Y-%m-%d %H:%M:%S"),
                    moment.strftime("%H:%M:%S"),
                ]
            )
        ),
    }


@settings(max_examples=300, deadline=None)
@given(first=variable_parts(), second=variable_parts())
def test_variable_parts_never_change_the_signature(
    first: dict[str, str], second: dict[str, str]
) -> None:
    one = signature(TEMPLATE.format(**first), "click", "#checkout")
    two = signature(TEMPLATE.format(**second), "click", "#checkout")
    assert one == two
    assert one.text == (
        'click #checkout: Timed out after <duration> waiting for "…" in '
        "http://<n>.<n>:<n>/orders/<n>/items (element <id>, session <n>, row <n> of <n>, "
        "at <time>) retried"
    )


_WORDS = st.text(alphabet=string.ascii_letters + "#.[]=-_> ", min_size=1, max_size=30).map(
    str.strip
)


@settings(max_examples=200, deadline=None)
@given(
    kinds=st.lists(
        st.sampled_from(["click", "fill", "assert_text", "navigate", "wait_for"]),
        min_size=2,
        max_size=2,
        unique=True,
    ),
    selector=_WORDS,
    parts=variable_parts(),
)
def test_a_different_step_kind_is_a_different_signature(
    kinds: list[str], selector: str, parts: dict[str, str]
) -> None:
    error = TEMPLATE.format(**parts)
    assert (
        signature(error, kinds[0], selector).digest != signature(error, kinds[1], selector).digest
    )


@settings(max_examples=200, deadline=None)
@given(
    selectors=st.lists(_WORDS.filter(bool), min_size=2, max_size=2, unique=True),
    parts=variable_parts(),
)
def test_a_different_selector_is_a_different_signature(
    selectors: list[str], parts: dict[str, str]
) -> None:
    error = TEMPLATE.format(**parts)
    one, two = (signature(error, "click", s) for s in selectors)
    assert one.digest != two.digest


def test_a_different_message_is_a_different_signature() -> None:
    assert (
        signature("element not visible", "click", "#go").digest
        != signature("element not enabled", "click", "#go").digest
    )


def test_the_digest_is_short_hex_and_stable_across_processes() -> None:
    found = signature("expected 3 rows, found 5", "assert_count", "tr.row")
    assert len(found.digest) == DIGEST_HEX_CHARS
    int(found.digest, 16)
    # SHA-256, not hash(): the same on every machine and every run.
    assert found.digest == signature("expected 12 rows, found 0", "assert_count", "tr.row").digest
    assert found.text == "assert_count tr.row: expected <n> rows, found <n>"


def test_without_a_step_or_message() -> None:
    assert signature(None, None, None).text == ""
    assert signature("worker lost", None, None).text == "worker lost"
    assert signature("boom", "click", None).text == "click: boom"


def test_apostrophes_are_not_quotes_and_words_keep_their_digits() -> None:
    assert normalise("can't click h1 'Save 2' on   page\n  2") == 'can\'t click h1 "…" on page <n>'
