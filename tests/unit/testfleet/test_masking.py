"""Every form a secret takes on its way out is masked; nothing else is touched."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from testfleet.masking import MASK, Masker
from testfleet.suites.model import CaseSpec, Suite, TestCase
from testfleet.suites.steps.model import Step

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


def _json(text: str) -> str:
    return json.dumps(text)[1:-1]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# The forms pages, APIs and headers show a secret in beyond the plain escapes above.
NEW_FORMS = [
    (_json(SECRET), 'JSON-escaped (\\" \\/ kept, \\u00e9)'),
    (json.dumps(SECRET, ensure_ascii=False)[1:-1], "JSON-escaped, non-ASCII as is"),
    (_json(SECRET).replace("/", "\\/"), "JSON-escaped with \\/"),
    (SECRET.upper(), "upper-cased (CSS text-transform)"),
    (SECRET.lower(), "lower-cased"),
    (SECRET.title(), "title-cased"),
    (quote(SECRET.upper(), safe=""), "upper-cased, then URL-encoded (%C3%89)"),
    (_b64(SECRET), "base64"),
    (base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="), "URL-safe base64, no pad"),
    (quote(quote(SECRET, safe=""), safe=""), "URL-encoded twice"),
    (quote(html.escape(SECRET), safe=""), "HTML-escaped, then URL-encoded"),
    (html.escape(html.escape(SECRET)), "HTML-escaped twice"),
    (_json(_json(SECRET)), "JSON-escaped twice"),
    (html.escape(_json(SECRET)), "JSON-escaped, then HTML-escaped"),
    (SECRET.encode("ascii", "xmlcharrefreplace").decode(), "non-ASCII as &#233;"),
    (quote(_b64(SECRET), safe=""), "base64, then URL-encoded"),
]


@pytest.mark.parametrize(("form", "how"), NEW_FORMS)
def test_each_new_form_of_a_secret_is_masked(form: str, how: str) -> None:
    text = f'{{"error": "expected {form}", "next": "/"}}'
    assert Masker([SECRET])(text) == f'{{"error": "expected {MASK}", "next": "/"}}', how


@pytest.mark.parametrize("user", ["u", "us", "user"])
def test_a_secret_in_a_basic_auth_header_is_masked_at_every_alignment(user: str) -> None:
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        header = "Authorization: Basic " + encode(f"{user}:{SECRET}".encode()).decode()
        masked = Masker([SECRET])(header)
        assert masked.endswith(MASK), masked
        kept = masked.removeprefix("Authorization: Basic ").removesuffix(MASK)
        # What is left holds the user's bits alone: nothing of the secret can be decoded.
        assert kept == header.removeprefix("Authorization: Basic ")[: 8 * len(user + ":") // 6]


def test_base64_of_other_text_and_a_short_secret_are_left_alone() -> None:
    other = _b64("an unrelated value of some length")
    assert Masker([SECRET, "ab"])(f"token {other} end") == f"token {other} end"


ENCODERS: dict[str, Callable[[str], str]] = {
    "quote": lambda s: quote(s, safe=""),
    "quote_slash": quote,
    "quote_plus": lambda s: quote_plus(s, safe=""),
    "html": html.escape,
    "html_noquote": lambda s: html.escape(s, quote=False),
    "html_numeric": lambda s: html.escape(s).encode("ascii", "xmlcharrefreplace").decode(),
    "json": _json,
    "json_unicode": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
}
CASES: dict[str, Callable[[str], str]] = {
    "same": str,
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
}
BASE64: dict[str, Callable[[bytes], bytes]] = {
    "standard": base64.b64encode,
    "url_safe": base64.urlsafe_b64encode,
    "url_safe_unpadded": lambda b: base64.urlsafe_b64encode(b).rstrip(b"="),
}
_COMMON_SPACES = " \t\n\r\xa0"
SECRET_CHARS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),  # printable ASCII, specials
    st.characters(blacklist_categories=("Cs",)),  # any character but a lone surrogate
).filter(lambda c: c != "*" and (not c.isspace() or c in _COMMON_SPACES))
"""``*`` is the mask's own character; spaces beyond the common ones are recognised
escaped once only (each costs pattern size), so they are left to the test above."""


def _own_base64(data: bytes, offset: int, encode: Callable[[bytes], bytes]) -> str:
    """The base64 characters ``data`` determines alone, placed ``offset`` bytes in."""
    first = (3 - offset) % 3
    whole = (len(data) - first) // 3 * 3
    return encode(data[first : first + whole]).decode()


@settings(max_examples=400, deadline=None)
@given(
    secret=st.text(SECRET_CHARS, min_size=1, max_size=16).filter(lambda s: s.strip()),
    before=st.text(SECRET_CHARS, max_size=8),
    after=st.text(SECRET_CHARS, max_size=8),
    case_before=st.sampled_from(sorted(CASES)),
    b64=st.sampled_from([None, *sorted(BASE64)]),
    prefix=st.sampled_from(["", "u:", "us:", "usr:"]),
    escapes=st.lists(st.sampled_from(sorted(ENCODERS)), max_size=2),
    case_after=st.sampled_from(sorted(CASES)),
)
def test_no_secret_survives_a_chain_of_encodings(
    secret: str,
    before: str,
    after: str,
    case_before: str,
    b64: str | None,
    prefix: str,
    escapes: list[str],
    case_after: str,
) -> None:
    """A secret, case-changed or base64-encoded (alone or after ``user:``), then escaped
    up to twice by any of the encoders, then case-changed: no form of it is left."""

    def escaped(text: str) -> str:
        for name in escapes:
            text = ENCODERS[name](text)
        return text

    if b64 is None:
        shown = CASES[case_after](escaped(CASES[case_before](secret)))
        own = shown
    else:
        data = secret.encode()
        assume(len(data) >= 6)  # fewer bytes determine too few characters to recognise
        encode = BASE64[b64]
        shown = CASES[case_after](escaped(encode(prefix.encode() + data).decode()))
        own = escaped(_own_base64(data, len(prefix.encode()) % 3, encode))
    masked = Masker([secret])(before + shown + after)
    for piece in masked.split(MASK):
        assert own.lower() not in piece.lower(), (shown, masked)
