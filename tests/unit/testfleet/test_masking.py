"""Every form a secret takes on its way out is masked; nothing else is touched."""

from __future__ import annotations

import html
import re
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testfleet.masking import MASK, Masker
from testfleet.suite import CaseSpec, Step, Suite, TestCase

SECRET = "Pa55 w0rd&<'\"/é+%"


@pytest.mark.parametrize(
    ("form", "how"),
    [
        (SECRET, "as typed"),
        (" ".join(SECRET.split()), "whitespace collapsed"),
        ("Pa55\n\t w0rd&<'\"/é+%", "whitespace changed"),
        (quote(SECRET, safe=""), "URL-encoded with %20"),
        (quote_plus(SECRET, safe=""), "URL-encoded with +"),
        (re.sub("%..", lambda m: m[0].lower(), quote(SECRET)), "lower-case hex, / kept"),
        (html.escape(SECRET), "HTML-escaped"),
        (html.escape(SECRET, quote=False), "HTML-escaped without quotes"),
        (SECRET.replace("&", "&#38;").replace("'", "&#x27;"), "numeric entities"),
    ],
)
def test_each_form_of_a_secret_is_masked(form: str, how: str) -> None:
    text = f"expected URL to contain x, got http://app.test/login?p={form}&next=/"
    masked = Masker([SECRET])(text)
    assert masked == f"expected URL to contain x, got http://app.test/login?p={MASK}&next=/", how


def test_a_secret_containing_another_is_masked_whole_and_other_text_is_kept() -> None:
    mask = Masker(["abc", "abcdef", "   "])
    assert mask("xx abcdef yy abc zz") == f"xx {MASK} yy {MASK} zz"
    assert mask("nothing secret here") == "nothing secret here"
    assert not Masker(["", "  \n"])


def test_a_secret_without_letters_or_digits_is_still_masked() -> None:
    assert Masker(["#!%"])("a #!% b %23%21%25 c") == f"a {MASK} b {MASK} c"


def test_secrets_of_assertion_steps_are_secrets_too() -> None:
    step = Step(order_index=1, step_type="assert", assertion="url", expected_result="tok-123",
                secret=True)  # fmt: skip
    suite = Suite(name="s", tests=[TestCase(name="t", steps=[step])])
    spec = CaseSpec.of(suite, suite.tests[0])
    assert spec.secrets == ["tok-123"]


def test_a_case_spec_holds_only_its_own_tests_secrets_once() -> None:
    def typed(secret: str) -> Step:
        return Step(order_index=1, step_type="type", selector="#p", input_data=secret, secret=True)

    suite = Suite(name="s", tests=[TestCase(name=f"t{i}", steps=[typed(f"secret-{i}-" + "x" * 100)])
                                   for i in range(3)])  # fmt: skip
    for i, test in enumerate(suite.tests):
        spec = CaseSpec.of(suite, test)
        assert spec.secrets == [f"secret-{i}-" + "x" * 100]
        dumped = spec.model_dump_json()
        assert dumped.count("secret-") == 1, "stored once: in its step"
        assert CaseSpec.model_validate_json(dumped).secrets == spec.secrets


@settings(max_examples=300, deadline=None)
@given(
    secret=st.text(min_size=1, max_size=30).filter(lambda s: s.strip()),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
    encode=st.sampled_from(["raw", "quote", "quote_plus", "html", "collapse"]),
)
def test_no_generated_secret_survives_in_any_form(
    secret: str, before: str, after: str, encode: str
) -> None:
    shown = {
        "raw": secret,
        "quote": quote(secret, safe=""),
        "quote_plus": quote_plus(secret, safe=""),
        "html": html.escape(secret),
        "collapse": " ".join(secret.split()),
    }[encode]
    masked = Masker([secret])(before + shown + after)
    assert shown not in masked or shown in MASK
