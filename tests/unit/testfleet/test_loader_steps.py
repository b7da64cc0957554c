"""The loader on the registry's step kinds: precise problems, uploads, secrets, old forms."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from testfleet.errors import SuiteError
from testfleet.suites.loader import dump_canonical, load_paths, load_text
from testfleet.suites.model import CaseSpec, Masker
from testfleet.suites.steps.forms import MAX_UPLOAD_FILE_BYTES, MAX_UPLOAD_TOTAL_BYTES


def _suite(steps: str, **extra: str) -> str:
    head = "".join(f"{k}: {v}\n" for k, v in extra.items())
    body = "\n".join(f"      {line}" for line in steps.strip().splitlines())
    return f"name: s\nbase_url: http://app.test\n{head}tests:\n  - name: t\n    steps:\n{body}\n"


def problems(steps: str, **extra: str) -> list[str]:
    with pytest.raises(SuiteError) as caught:
        load_text(_suite(steps, **extra), {}, source="s.yaml")
    return caught.value.problems


def test_every_problem_of_every_new_kind_at_once_in_the_users_words() -> None:
    found = problems("""
- dialog: maybe
- wait_for: {url: /x, load: load}
- click: {}
- click: "#a"
  secret: true
- navigate: /
  not: true
- assert_text: {selector: h1}
- assert_text: {selector: h1, matches: "(["}
- type: {selector: "#u"}
- frame: {}
- drag: {from: "#a"}
- click: "li >> nth=x"
- click: "role=buton"
- focus: "#c"
  force: true
- set_viewport: {width: 100, height: 300}
- switch_tab: {title: Help, index: 2}
- assert_class: {selector: li, class: "a b"}
- scroll: {to: middle}
- navigate: {url: /x, allow_status: 200}
- fill: {selector: "#x", value: y}
  soft: true
""")
    assert found == [
        "s.yaml: tests[0].steps[0].dialog: needs accept or dismiss, or a mapping with action, "
        "answer, text, not 'maybe'",
        "s.yaml: tests[0].steps[1].wait_for: takes only one of url, load",
        "s.yaml: tests[0].steps[2].click: selector is required",
        "s.yaml: tests[0].steps[3].click: secret has no effect on this click step (no value "
        "to hide); remove it",
        "s.yaml: tests[0].steps[4].navigate: not: only applies to assertions, not to navigate",
        "s.yaml: tests[0].steps[5].assert_text: equals, contains or matches is required",
        "s.yaml: tests[0].steps[6].assert_text: matches is not a valid regular expression: "
        "unterminated character set at position 1",
        "s.yaml: tests[0].steps[7].type: text is required",
        "s.yaml: tests[0].steps[8].frame: needs the iframe's selector, or top or parent to "
        "leave frames",
        "s.yaml: tests[0].steps[9].drag: to is required",
        "s.yaml: tests[0].steps[10].click: selector is not valid: nth= takes a whole number "
        "(0 is the first, -1 the last), not 'x' (in 'li >> nth=x')",
        "s.yaml: tests[0].steps[11].click: selector is not valid: 'buton' is not an ARIA role "
        "(e.g. button, link, checkbox, textbox, heading) (in 'role=buton')",
        "s.yaml: tests[0].steps[12].focus: force has no effect on focus: it waits for no checks",
        "s.yaml: tests[0].steps[13].set_viewport: width must be 200-7680 px, not 100",
        "s.yaml: tests[0].steps[14].switch_tab: takes an index, or a url or title to look "
        "for, not both",
        "s.yaml: tests[0].steps[15].assert_class: class must be one class name, not 'a b'",
        "s.yaml: tests[0].steps[16].scroll: to must be top, bottom or a number of pixels, "
        "not 'middle'",
        "s.yaml: tests[0].steps[17].navigate: allow_status: lists HTTP error statuses "
        "(400-599), not [200]",
        "s.yaml: tests[0].steps[18].fill: soft: only applies to assertions, not to fill "
        "(see continue_on_failure)",
    ]


def test_canonical_steps_are_told_in_canonical_names() -> None:
    text = json.dumps({"name": "s", "tests": [{"name": "t", "steps": [
        {"order_index": 1, "step_type": "click"},
        {"order_index": 2, "step_type": "assert", "assertion": "value", "selector": "#x"},
        {"order_index": 3, "step_type": "click", "selector": "#x", "negate": True},
    ]}]})  # fmt: skip
    with pytest.raises(SuiteError) as caught:
        load_text(text, {}, source="c.json")
    assert caught.value.problems == [
        "c.json: tests[0].steps[0]: selector is required for a click step",
        "c.json: tests[0].steps[1]: expected_result is required for an assert step",
        "c.json: tests[0].steps[2]: negate: only applies to assertions, not to click",
    ]


def test_earlier_canonical_suites_load_unchanged_and_dump_in_the_new_shape() -> None:
    generated = {"name": "g", "tests": [{"name": "t", "steps": [
        {"order_index": 1, "step_type": "navigate", "input_data": "http://a.test/",
         "selector": None, "expected_result": "the home page", "assertion": None},
        {"order_index": 2, "step_type": "assert", "assertion": "text_equals", "selector": "h1",
         "expected_result": "Home"},
        {"order_index": 3, "step_type": "assert", "assertion": "url", "expected_result": "/"},
        {"order_index": 4, "step_type": "assert", "selector": "h1", "expected_result": "Ho"},
    ]}]}  # fmt: skip
    suite = load_text(json.dumps(generated), {})
    steps = suite.tests[0].steps
    assert [(s.assertion, s.match) for s in steps[1:]] == [
        ("text", "equals"), ("url", "contains"), (None, "contains")
    ]  # fmt: skip
    assert steps[1].label == "assert text h1"
    assert load_text(dump_canonical(suite), {}) == suite


def test_uploads_are_read_relative_to_the_suite_file_and_embedded(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_bytes(b"hello\n")
    suite_file = tmp_path / "s.yaml"
    suite_file.write_text(_suite('- upload: {selector: "#f", files: [files/a.txt]}'))
    [suite] = load_paths([suite_file], {})
    [file] = suite.tests[0].steps[0].files or []
    assert (file.name, base64.b64decode(file.content_b64)) == ("a.txt", b"hello\n")
    # The canonical form carries the bytes, so the API (and a worker elsewhere) has them.
    again = load_text(dump_canonical(suite), {})
    assert again == suite


def test_upload_problems(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * (MAX_UPLOAD_FILE_BYTES + 1))
    for n in range(2):
        (tmp_path / f"part{n}.bin").write_bytes(b"x" * (MAX_UPLOAD_TOTAL_BYTES // 2 + 1))
    suite_file = tmp_path / "s.yaml"
    suite_file.write_text(
        _suite("""
- upload: {selector: "#f", file: missing.txt}
- upload: {selector: "#f", file: big.bin}
- upload: {selector: "#f", files: [part0.bin, part1.bin]}
- upload: {selector: "#f", files: []}
""")
    )
    with pytest.raises(SuiteError) as caught:
        load_paths([suite_file], {})
    where = f"{suite_file}: tests[0].steps"
    assert caught.value.problems == [
        f"{where}[0].upload.file: cannot read missing.txt (No such file or directory)",
        f"{where}[1].upload.file: big.bin is {MAX_UPLOAD_FILE_BYTES + 1:,} bytes; an upload "
        f"may be at most {MAX_UPLOAD_FILE_BYTES:,}",
        f"{where}[2].upload.files: the suite's uploads come to more than "
        f"{MAX_UPLOAD_TOTAL_BYTES:,} bytes; use smaller files",
        f"{where}[3].upload: files must list at least one file",
    ]
    # A suite that is no file (sent to the API as text) has nowhere to read files from.
    [problem] = problems('- upload: {selector: "#f", file: a.txt}')
    assert "files are read relative to the suite file, and this suite has none" in problem


def test_secrets_of_every_kind_are_collected_and_masked() -> None:
    suite = load_text(
        _suite("""
- fill: {selector: "#pass", value: "${PASS}"}
  secret: true
- set_cookie: {name: session, value: tok-123}
  secret: true
- dialog: {answer: sesame}
  secret: true
- script: "return 'key-42'"
  secret: true
- set_storage: {key: token, value: abc-9}
  secret: true
- press: {keys: F5}
"""),
        {"PASS": "hunter2"},
    )
    spec = CaseSpec.of(suite, suite.tests[0])
    assert spec.secrets == sorted(["hunter2", "tok-123", "sesame", "return 'key-42'", "abc-9"])
    mask = Masker(spec.secrets)
    assert "hunter2" not in " ".join(mask(s.label) for s in suite.tests[0].steps)
    assert suite.tests[0].steps[0].label == "fill #pass"


def test_selector_and_suite_options() -> None:
    suite = load_text(_suite('- click: "testid=save"', testid_attribute="data-qa"), {})
    assert CaseSpec.of(suite, suite.tests[0]).testid_attribute == "data-qa"
    assert any(
        "testid_attribute" in p for p in problems('- click: "#a"', testid_attribute='"1 bad"')
    )


def test_short_forms_of_the_new_kinds() -> None:
    steps = (
        load_text(
            _suite("""
- back
- switch_tab
- switch_tab: -1
- frame: top
- frame: "#pay"
- dialog: dismiss
- wait: 2
- wait_for: {url: {matches: "/done$"}}
- clear_storage: session
- assert_url: /x
- navigate: {url: /x, allow_status: any}
- navigate: {url: /y, allow_status: 404}
"""),
            {},
        )
        .tests[0]
        .steps
    )
    got = [(s.kind, s.selector, s.input_data, s.mode, s.index, s.match, s.expected_result)
           for s in steps]  # fmt: skip
    assert got == [
        ("back", None, None, None, None, None, None),
        ("switch_tab", None, None, None, None, "contains", None),
        ("switch_tab", None, None, None, -1, "contains", None),
        ("frame", None, None, "top", None, None, None),
        ("frame", "#pay", None, None, None, None, None),
        ("dialog", None, None, "dismiss", None, "contains", None),
        ("wait", None, "2", None, None, None, None),
        ("wait_for", None, None, "url", None, "matches", "/done$"),
        ("clear_storage", None, None, "session", None, None, None),
        ("assert_url", None, None, None, None, "contains", "/x"),
        ("navigate", None, "/x", None, None, None, None),
        ("navigate", None, "/y", None, None, None, None),
    ]
    assert (steps[10].allow_status, steps[11].allow_status) == ("any", [404])
