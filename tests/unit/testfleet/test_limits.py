"""Bounded work per submission: the stall inputs are refused before they cost anything,
and what is accepted is planned in linear work (counted, not timed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.dispatch import plan_run
from testfleet.errors import LimitError, SuiteError
from testfleet.suites import loader
from testfleet.suites.limits import LimitSettings, RunLimits
from testfleet.suites.loader import load_document, load_text
from testfleet.suites.model import CaseSpec, Suite
from testfleet.suites.yamltext import parse_yaml
from tests.work_count import lines_run


def _one_step_tests(n: int, secret: Callable[[int], str] | None = None) -> dict[str, Any]:
    def steps(i: int) -> list[dict[str, Any]]:
        if secret is None:
            return [{"navigate": f"/p{i}"}]
        return [{"type": {"selector": "#p", "text": secret(i), "secret": True}}]

    return {
        "name": "S",
        "base_url": "http://app.test",
        "tests": [{"name": f"t{i}", "steps": steps(i)} for i in range(n)],
    }


@pytest.fixture
def never_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the loader starts substituting (copying out) or validating."""

    def boom(*_: Any, **__: Any) -> Any:
        raise AssertionError("the document was walked in full before it was refused")

    monkeypatch.setattr(loader, "_substitute", boom)
    monkeypatch.setattr(Suite, "model_validate", boom)


@pytest.mark.usefixtures("never_expanded")
def test_twenty_thousand_tests_are_refused_before_validation() -> None:
    document = _one_step_tests(20_000)
    assert len(json.dumps(document)) > 800_000
    with pytest.raises(LimitError) as refused:
        load_document(document, {})
    assert "more than 2000 tests" in str(refused.value)
    assert "TESTFLEET_LIMITS__MAX_TESTS_PER_RUN" in str(refused.value)


@pytest.mark.usefixtures("never_expanded")
def test_a_yaml_alias_bomb_is_measured_in_bytes_and_refused() -> None:
    lines = ['a0: &a0 "' + "x" * 1000 + '"']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    text = "\n".join(lines) + "\nname: Bomb\ntests:\n  - name: t\n    steps: [*a6]\n"
    assert len(text) < 2_000  # a few hundred bytes that expand to 1 GB
    with pytest.raises(LimitError) as refused:
        load_text(text, {})
    assert "TESTFLEET_LIMITS__MAX_EXPANDED_BYTES" in str(refused.value)


def test_too_many_yaml_aliases_are_refused_by_the_cli_loader_too() -> None:
    text = "name: A\ntests:\n  - name: t\n    steps: [{wait: &x 1}]\n" + "".join(
        f"  - name: t{i}\n    steps: [{{wait: *x}}]\n" for i in range(20)
    )
    with pytest.raises(SuiteError) as refused:
        load_text(text, {}, limits=RunLimits(LimitSettings(max_yaml_aliases=10)))
    assert "more than 10 YAML aliases" in refused.value.problems[0]
    assert "TESTFLEET_LIMITS__MAX_YAML_ALIASES" in refused.value.problems[0]
    assert load_text(text, {}).tests[19].steps[0].input_data == "1"


@pytest.mark.usefixtures("never_expanded")
def test_variables_are_counted_as_substituted() -> None:
    document = {
        "name": "V",
        "tests": [
            {"name": f"t{i}", "steps": [{"type": {"selector": "#a", "text": "${BIG}"}}]}
            for i in range(200)
        ],
    }
    with pytest.raises(LimitError):
        load_document(document, {"BIG": "y" * 100_000})


def test_long_fields_and_too_many_steps_name_the_field_and_the_setting() -> None:
    document = {
        "name": "L",
        "tests": [
            {"name": "long", "steps": [{"custom": "x" * 30_000}]},
            {"name": "many", "steps": [{"wait": 0}] * 501},
        ],
    }
    with pytest.raises(SuiteError) as refused:
        load_document(document, {}, "l.yaml")
    assert refused.value.problems == [
        "l.yaml: tests[0].steps[0].custom: 30000 characters is longer than the 20000 a text may "
        "have (variables substituted); shorten it or raise TESTFLEET_LIMITS__MAX_FIELD_CHARS",
        "l.yaml: tests[1].steps: 501 steps is more than the 500 a test may have; split the test "
        "or raise TESTFLEET_LIMITS__MAX_STEPS_PER_TEST",
    ]


def test_the_run_total_counts_every_suite() -> None:
    limits = RunLimits(LimitSettings(max_tests_per_run=30))
    load_document(_one_step_tests(20), {}, "a.yaml", limits=limits)
    with pytest.raises(LimitError) as refused:
        load_document(_one_step_tests(20), {}, "b.yaml", limits=limits)
    assert "b.yaml: the run has more than 30 tests (40 so far)" in str(refused.value)


def test_planning_is_linear_and_stores_each_secret_once() -> None:
    def planned(n: int) -> tuple[int, int]:
        suite = load_document(_one_step_tests(n, lambda i: f"secret-{i:05d}-" + "k" * 1000), {})
        specs: dict[str, str] = {}

        def plan() -> None:
            specs.update(plan_run("r", "p", [suite], set(), "x")[2])

        return lines_run(plan), sum(len(s) for s in specs.values())

    # Sizes small enough that line tracing stays a few seconds (`make test-fast`), big
    # enough that the suite-wide overhead is noise next to the per-test work.
    small_lines, small_bytes = planned(50)
    big_lines, big_bytes = planned(200)
    # 4x the tests: 4x the work and storage (the quadratic planner did ~16x of both).
    assert big_lines < 4.5 * small_lines, (small_lines, big_lines)
    assert big_bytes < 4.5 * small_bytes
    assert big_bytes < 200 * 2_500, "each spec holds its own 1 KB secret, not the suite's"


_names = st.text(min_size=1, max_size=40)
_secrets = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40).filter(
    lambda s: s.strip()
)


@st.composite
def _documents(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    shared = [{"navigate": draw(st.from_regex(r"/[a-z0-9]{0,40}", fullmatch=True))}, {"wait": 0}]
    tests, secrets = [], []
    for i in range(draw(st.integers(1, 12))):
        secret = draw(_secrets)
        secrets.append(secret)
        steps: list[Any] = [{"type": {"selector": "#p", "text": secret, "secret": True}}]
        # Repeating the shared list makes safe_dump write anchors and aliases.
        steps += shared * draw(st.integers(0, 30))
        tests.append({"name": f"{i}-{draw(_names)}", "steps": steps})
    return {"name": draw(_names), "tests": tests}, secrets


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_documents(), budget=st.sampled_from([2_000, 20_000, 200_000]))
def test_generated_suites_stay_within_the_limits_or_are_refused(
    case: tuple[dict[str, Any], list[str]], budget: int
) -> None:
    document, secrets = case
    text = yaml.safe_dump(document, allow_unicode=True)
    limits = LimitSettings(
        max_tests_per_run=8,
        max_steps_per_test=40,
        max_field_chars=30,
        max_expanded_bytes=budget,
        max_yaml_aliases=200,
    )
    try:
        suite = load_text(text, {}, limits=RunLimits(limits))
    except (SuiteError, LimitError) as refused:
        said = str(refused)
    else:
        said = ""
    if said:
        assert "TESTFLEET_LIMITS__" in said or "not valid YAML" in said, said
        return
    assert len(suite.tests) <= limits.max_tests_per_run
    assert all(len(t.steps) <= limits.max_steps_per_test for t in suite.tests)
    assert len(json.dumps(parse_yaml(text, limits, "x"))) <= 3 * budget
    _, cases, specs = plan_run("r", "p", [suite], set(), "x")
    for test, case_result in zip(suite.tests, cases, strict=True):
        spec = CaseSpec.model_validate_json(specs[case_result.case_id])
        assert spec.secrets == test.secret_values(), "only its own test's secrets"
        own = set(spec.secrets)
        for other in set(secrets) - own:
            assert not any(other == s for s in spec.secrets)
