"""Suites: both forms load to one model; every bad suite is rejected with a precise line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testfleet.errors import SuiteError
from testfleet.suites.environment import Environment
from testfleet.suites.loader import load_paths, load_text
from testfleet.suites.model import CaseSpec, Masker
from testfleet.suites.steps import STEP_TYPES

SHORT = """
name: Login
base_url: http://localhost:8000
tests:
  - name: valid login
    tags: [smoke]
    steps:
      - navigate: /login
      - type: {selector: "#user", text: alice}
      - type: {selector: "#pass", text: "${LOGIN_PASSWORD}", secret: true}
      - click: "button[type=submit]"
      - assert_text: {selector: h1, contains: Welcome}
      - screenshot: {name: dashboard, analyze: ui_validation}
"""

CANONICAL = {
    "name": "Login",
    "base_url": "http://localhost:8000",
    "tests": [
        {
            "name": "valid login",
            "tags": ["smoke"],
            "steps": [
                {"order_index": 1, "step_type": "navigate", "input_data": "/login"},
                {"order_index": 2, "step_type": "type", "selector": "#user", "input_data": "alice"},
                {
                    "order_index": 3,
                    "step_type": "type",
                    "selector": "#pass",
                    "input_data": "s3cret",
                    "secret": True,
                },
                {"order_index": 4, "step_type": "click", "selector": "button[type=submit]"},
                {
                    "order_index": 5,
                    "step_type": "assert",
                    "selector": "h1",
                    "expected_result": "Welcome",
                    "assertion": "text",
                },
                {
                    "order_index": 6,
                    "step_type": "screenshot",
                    "name": "dashboard",
                    "analyze": "ui_validation",
                },
            ],
        }
    ],
}

ENV = {"LOGIN_PASSWORD": "s3cret"}


def problems(text: str, env: dict[str, str] | None = None, source: str = "login.yaml") -> list[str]:
    with pytest.raises(SuiteError) as caught:
        load_text(text, ENV if env is None else env, source=source)
    return caught.value.problems


def test_short_and_canonical_forms_load_to_the_same_model() -> None:
    short = load_text(SHORT, ENV)
    canonical = load_text(json.dumps(CANONICAL), ENV)
    assert short == canonical


def test_the_specs_canonical_seed_is_accepted_as_is() -> None:
    seed = {
        "name": "Login",
        "base_url": "http://localhost:8000",
        "tests": [
            {
                "name": "valid login",
                "description": "...",
                "category": "authentication",
                "priority": "critical",
                "tags": ["smoke"],
                "retry_count": 1,
                "steps": [
                    {
                        "order_index": 1,
                        "name": "open",
                        "step_type": "navigate",
                        "input_data": "/login",
                    },
                    {
                        "order_index": 2,
                        "step_type": "type",
                        "selector": "#user",
                        "input_data": "alice",
                    },
                    {
                        "order_index": 3,
                        "step_type": "click",
                        "selector": "button[type=submit]",
                        "timeout_seconds": 10,
                        "is_optional": False,
                        "continue_on_failure": False,
                    },
                    {
                        "order_index": 4,
                        "step_type": "assert",
                        "selector": "h1",
                        "expected_result": "Welcome",
                    },
                    {"order_index": 5, "step_type": "screenshot", "name": "dashboard"},
                ],
            }
        ],
    }
    suite = load_text(json.dumps(seed), {})
    test = suite.tests[0]
    assert test.priority == "critical"
    assert test.retry_count == 1
    assert [s.step_type for s in test.steps] == [
        "navigate",
        "type",
        "click",
        "assert",
        "screenshot",
    ]
    assert test.steps[3].assert_kind == "text"


def test_missing_selector_names_file_test_step_and_field() -> None:
    text = SHORT.replace('- click: "button[type=submit]"', "- click: {}")
    assert problems(text) == ["login.yaml: tests[0].steps[3].click: selector is required"]


def test_every_problem_is_reported_at_once() -> None:
    text = """
name: Broken
tests:
  - name: one
    steps:
      - click: {}
      - frobnicate: x
      - assert_count: {selector: li, count: many}
      - {step_type: teleport}
  - name: two
    steps: []
"""
    found = problems(text, source="broken.yaml")
    assert found == [
        "broken.yaml: tests[0].steps[0].click: selector is required",
        "broken.yaml: tests[0].steps[1]: unknown step key 'frobnicate'; a step has one action "
        + found[1].split("one action ", 1)[1],
        "broken.yaml: tests[0].steps[2].assert_count: count must be a whole number "
        "for a count assertion, not 'many'",
        "broken.yaml: tests[0].steps[3].step_type: must be one of " + ", ".join(STEP_TYPES),
        "broken.yaml: tests[1].steps: must not be empty",
    ]


def test_unset_variable_is_an_error_naming_where_it_is_used() -> None:
    assert problems(SHORT, env={}) == [
        "login.yaml: tests[0].steps[2].type.text: environment variable LOGIN_PASSWORD is not set "
        "(set it, or write ${LOGIN_PASSWORD:-default})"
    ]


def test_variables_defaults_and_escapes() -> None:
    text = SHORT.replace("${LOGIN_PASSWORD}", "${NOPE:-fallback}").replace(
        "/login", "/login?q=$${raw}"
    )
    suite = load_text(text, {})
    assert suite.tests[0].steps[2].input_data == "fallback"
    assert suite.tests[0].steps[0].input_data == "/login?q=${raw}"


def test_from_the_environment_a_suite_reads_only_what_it_declares(tmp_path: Path) -> None:
    environ = {"LOGIN_PASSWORD": "s3cret", "AWS_SECRET_ACCESS_KEY": "stolen"}
    with pytest.raises(SuiteError) as caught:
        load_text(SHORT, Environment(environ), source="login.yaml")
    assert caught.value.problems == [
        "login.yaml: tests[0].steps[2].type.text: ${LOGIN_PASSWORD} reads the environment "
        "variable LOGIN_PASSWORD, which this suite does not declare: declare it in the "
        "suite's env: list (env: [LOGIN_PASSWORD])"
    ]
    # An included file reads through the including suite's declaration.
    (tmp_path / "flows.yaml").write_text(
        "flows:\n  f:\n    steps: [{navigate: '/x?k=${AWS_SECRET_ACCESS_KEY:-none}'}]\n"
    )
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "env: [LOGIN_PASSWORD]\n"
        + SHORT.replace("- navigate: /login", "- use: f")
        + "include: [flows.yaml]\n"
    )
    environment = Environment(environ)
    with pytest.raises(SuiteError) as caught:
        load_paths([suite], environment)
    assert caught.value.problems == [
        f"{suite}: flows.yaml: flows.f.steps[0].navigate: ${{AWS_SECRET_ACCESS_KEY}} reads the "
        "environment variable AWS_SECRET_ACCESS_KEY, which this suite does not declare: "
        "declare it in the suite's env: list (env: [AWS_SECRET_ACCESS_KEY])"
    ]
    suite.write_text(suite.read_text().replace("[LOGIN_PASSWORD]", "[LOGIN_PASSWORD, DEMO]"))
    flows = tmp_path / "flows.yaml"
    flows.write_text(flows.read_text().replace("AWS_SECRET_ACCESS_KEY", "DEMO"))
    environment = Environment(environ)
    [loaded] = load_paths([suite], environment)
    assert loaded.env == ["LOGIN_PASSWORD", "DEMO"]
    assert loaded.secret_values() == ["s3cret"]
    assert list(environment.read) == ["LOGIN_PASSWORD"]
    assert list(environment.defaulted) == ["DEMO"]


def test_request_variables_need_no_declaration() -> None:
    """The API's request variables are what the submitter chose to send (a plain mapping)."""
    assert load_text(SHORT, ENV).secret_values() == ["s3cret"]


def test_secret_values_are_collected_and_masked() -> None:
    suite = load_text(SHORT, ENV)
    spec = CaseSpec.of(suite, suite.tests[0])
    assert spec.secrets == ["s3cret"]
    mask = Masker(spec.secrets)
    assert mask("typed s3cret into #pass") == "typed *** into #pass"
    assert "s3cret" not in suite.tests[0].steps[2].label


def test_unknown_field_in_short_step_lists_the_allowed_ones() -> None:
    text = SHORT.replace("{selector: h1, contains: Welcome}", "{selector: h1, contain: Welcome}")
    [problem] = problems(text)
    assert problem.startswith("login.yaml: tests[0].steps[4].assert_text: unknown field 'contain'")
    assert "contains" in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed", "not valid YAML or JSON at line 1"),
        ("- just\n- a list", "a suite must be a mapping"),
        ("", "a suite must be a mapping with name and tests, got nothing"),
        ("name: x\ntests: 3", "tests: Input should be a valid list"),
        (
            "name: x\nbase_url: ftp://x\ntests: [{name: t, steps: [navigate: /]}]",
            "base_url: must start with http:// or https://",
        ),
        (
            "name: x\ntests: [{name: t, steps: [navigate: /]}, {name: t, steps: [navigate: /]}]",
            "test names must be unique within a suite: t",
        ),
        (
            "name: x\ntests: [{name: t, steps: [{click: a, timeout: -1}]}]",
            "tests[0].steps[0].click: timeout_seconds: Input should be greater than 0",
        ),
    ],
)
def test_bad_documents_say_what_is_wrong(text: str, expected: str) -> None:
    assert any(expected in p for p in problems(text)), problems(text)


def test_short_form_covers_every_step_type() -> None:
    text = """
name: All
base_url: http://x
tests:
  - name: every step
    steps:
      - navigate: /
      - click: "#a"
      - hover: "#b"
      - clear: "#c"
      - type: {selector: "#d", text: hi}
      - select: {selector: "#e", option: Two}
      - press: {selector: "#d", keys: Enter}
      - scroll: {to: bottom}
      - wait: 0.5
      - wait: "#f"
      - script: "return 1"
      - assert_url: /dash
      - assert_title: {equals: Home}
      - assert_visible: "#g"
      - assert_hidden: "#h"
      - assert_count: {selector: li, count: 3}
      - assert_attribute: {selector: a, attribute: href, contains: "/x"}
      - assert_text: {selector: h1, equals: Hi}
      - screenshot: end
"""
    steps = load_text(text, {}).tests[0].steps
    kinds = [(s.step_type, s.assertion) for s in steps]
    assert kinds[:11] == [
        ("navigate", None),
        ("click", None),
        ("hover", None),
        ("clear", None),
        ("type", None),
        ("select", None),
        ("press", None),
        ("scroll", None),
        ("wait", None),
        ("wait", None),
        ("custom", None),
    ]
    assert [(s.assertion, s.match) for s in steps[11:18]] == [
        ("url", "contains"),
        ("title", "equals"),
        ("visible", None),
        ("hidden", None),
        ("count", "equals"),
        ("attribute", "contains"),
        ("text", "equals"),
    ]
    assert steps[15].expected_result == "3"
    assert steps[8].input_data == "0.5"


def test_a_directory_is_one_run_and_names_must_not_clash(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SHORT)
    (tmp_path / "b.json").write_text(json.dumps({**CANONICAL, "name": "Other"}))
    (tmp_path / "notes.txt").write_text("ignored")
    assert [s.name for s in load_paths([tmp_path], ENV)] == ["Login", "Other"]
    (tmp_path / "c.yml").write_text(SHORT)
    with pytest.raises(SuiteError) as caught:
        load_paths([tmp_path], ENV)
    assert "suite name 'Login' is already used" in str(caught.value)


def test_missing_paths_and_empty_directories_are_reported(tmp_path: Path) -> None:
    with pytest.raises(SuiteError) as caught:
        load_paths([tmp_path / "nope.yaml", tmp_path], {})
    assert caught.value.problems == [
        f"{tmp_path / 'nope.yaml'}: no such file or directory",
        f"{tmp_path}: no suite files (*.yaml, *.yml, *.json, *.side) in this directory",
    ]


def test_case_spec_resolves_urls_against_the_base() -> None:
    suite = load_text(SHORT, ENV)
    spec = CaseSpec.of(suite, suite.tests[0])
    assert spec.url("/login") == "http://localhost:8000/login"
    assert spec.url("https://example.org/x") == "https://example.org/x"
