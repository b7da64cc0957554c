"""Suite composition: flows, includes, data rows, before/after each, the three kinds of names."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from testfleet.errors import LimitError, SuiteError
from testfleet.suites import compose
from testfleet.suites.limits import LimitSettings
from testfleet.suites.loader import dump_canonical, load_paths, load_text
from testfleet.suites.model import CaseSpec
from testfleet.suites.steps.model import Step, walk


def _load(text: str, env: dict[str, str] | None = None, base: Path | None = None):  # type: ignore[no-untyped-def]
    return load_text(textwrap.dedent(text), env or {}, source="s.yaml", base_dir=base)


def problems(text: str, env: dict[str, str] | None = None, base: Path | None = None) -> list[str]:
    with pytest.raises(SuiteError) as caught:
        _load(text, env, base)
    return caught.value.problems


def shape(steps: list[Step]) -> list[object]:
    """(kind, label) of each step, blocks as nested lists."""
    out: list[object] = []
    for step in steps:
        out.append((step.kind, step.label))
        if step.children:
            out.append(shape(step.children))
    return out


FLOWS = """
name: Todos
base_url: http://app.test
flows:
  add:
    params: [title]
    steps:
      - fill: {selector: .new-todo, value: "{{ title }}"}
      - press: {selector: .new-todo, keys: Enter}
  sign_in:
    params: {user: alice, password: null}
    steps:
      - fill: {selector: "label=User", value: "{{ user }}"}
      - fill: {selector: "label=Password", value: "{{ password }}"}
        secret: true
      - use: {flow: add, with: {title: "hello {{ user }}"}}
before_each:
  - navigate: /todos
after_each:
  - screenshot: end
tests:
  - name: t
    steps:
      - use: {flow: sign_in, with: {password: "${PW}"}}
      - use: add
        name: add milk
        when: {visible: .new-todo}
"""


def test_flows_expand_into_groups_with_their_parameters() -> None:
    text = FLOWS.replace("      - use: add\n", "      - use: {flow: add, with: {title: milk}}\n")
    suite = _load(text, {"PW": "hunter2"})
    steps = suite.tests[0].steps
    assert shape(steps) == [
        ("group", "before each"), [("navigate", "navigate /todos")],
        ("group", "use sign_in (password=hunter2)"), [
            ("fill", "fill label=User"), ("fill", "fill label=Password"),
            ("group", "use add (title=hello alice)"), [
                ("fill", "fill .new-todo"), ("press", "press .new-todo")]],
        ("group", "add milk"), [("fill", "fill .new-todo"), ("press", "press .new-todo")],
        ("group", "after each"), [("screenshot", "end")],
    ]  # fmt: skip
    values = [s.input_data for s in walk(steps) if s.kind == "fill"]
    assert values == ["alice", "hunter2", "hello alice", "milk"]
    assert steps[-1].always
    assert not steps[0].always
    assert steps[2].when is not None
    assert steps[2].when.selector == ".new-todo"
    # The password (a secret step's value inside a flow) is masked in every case spec.
    assert CaseSpec.of(suite, suite.tests[0]).secrets == ["hunter2"]
    # The canonical form carries the expansion: what the API and the worker get.
    assert load_text(dump_canonical(suite), {}) == suite


def test_problems_in_flows_name_where_they_are_written() -> None:
    text = FLOWS.replace('value: "{{ title }}"', 'value: "{{ titel }}"').replace(
        "press: {selector: .new-todo, keys: Enter}", "press: {selector: .new-todo}"
    )
    assert problems(text, {"PW": "x"}) == [
        "s.yaml: flows.add.steps[0].fill.value: {{ titel }} is not one of flow 'add''s "
        "parameters (title)",
        "s.yaml: flows.add.steps[1].press: keys is required",
        "s.yaml: tests[0].steps[1].use: flow 'add' needs title (use: {flow: add, with: "
        "{title: ...}})",
    ]


@pytest.mark.parametrize(
    ("use", "problem"),
    [
        ("use: nope", "tests[0].steps[0].use: there is no flow 'nope' (flows: a, b)"),
        ("use: {flow: a, with: {x: 1}}",
         "tests[0].steps[0].use: flow 'a' has no parameter 'x' (its params: none)"),
        ("use: {flo: a}", "tests[0].steps[0].use: names a flow, or is {flow: NAME, with: {...}}"),
        ("use: b", "flows.a.steps[0].use: flow 'b' uses itself (b -> a -> b)"),
    ],
)  # fmt: skip
def test_flow_calls_that_cannot_work(use: str, problem: str) -> None:
    text = f"""
    name: s
    flows:
      a: {{steps: [{{use: b}}]}}
      b: {{steps: [{{use: a}}]}}
    tests: [{{name: t, steps: [{{{use}}}]}}]
    """
    assert f"s.yaml: {problem}" in problems(text)


def test_include_reads_flows_from_files_beside_the_suite(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "auth.yaml").write_text(
        "include: [more.yaml]\nflows:\n  login: {steps: [{navigate: /login}, {use: wave}]}\n"
    )
    (tmp_path / "flows" / "more.yaml").write_text("flows:\n  wave: {steps: [{click: '#wave'}]}\n")
    suite_file = tmp_path / "s.yaml"
    suite_file.write_text(
        "name: s\ninclude: flows/auth.yaml\ntests: [{name: t, steps: [{use: login}]}]\n"
    )
    [suite] = load_paths([suite_file], {})
    assert shape(suite.tests[0].steps) == [
        ("group", "use login"), [("navigate", "navigate /login"), ("group", "use wave"),
                                 [("click", "click #wave")]],
    ]  # fmt: skip
    suite_file.write_text("name: s\ninclude: [nope.yaml]\ntests: [{name: t, steps: [back]}]\n")
    with pytest.raises(SuiteError) as caught:
        load_paths([suite_file], {})
    assert "include[0]: cannot read nope.yaml" in caught.value.problems[0]


def test_data_rows_make_one_test_each_named_by_the_row(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("name,user,greeting\nadmin,alice,Hi\nguest,bob,Yo\n")
    (tmp_path / "items.json").write_text(json.dumps([{"item": "tea"}, {"item": "jam"}]))
    suite_file = tmp_path / "s.yaml"
    suite_file.write_text(
        textwrap.dedent("""
        name: s
        before_each: [{navigate: /}]
        tests:
          - name: greets
            data: users.csv
            steps:
              - navigate: "/as/{{ user }}"
              - assert_text: {selector: h1, contains: "{{ greeting }}, {{ user }}"}
          - name: buys {{ item }}
            data: items.json
            steps: [{click: "text={{ item }}"}]
          - name: inline
            data: [{n: 1, ok: true}, {n: 2, ok: false}]
            steps: [{assert_text: {selector: "#n", equals: "{{ n }} {{ ok }}"}}]
    """)
    )
    [suite] = load_paths([suite_file], {})
    assert [t.name for t in suite.tests] == [
        "greets [admin]", "greets [guest]", "buys tea", "buys jam",
        "inline [n=1, ok=true]", "inline [n=2, ok=false]",
    ]  # fmt: skip
    assert suite.tests[1].steps[1].input_data == "/as/bob"
    assert suite.tests[1].steps[2].expected_result == "Yo, bob"
    assert suite.tests[5].steps[1].expected_result == "2 false"


def test_data_row_problems(tmp_path: Path) -> None:
    found = problems("""
    name: s
    tests:
      - name: a
        data: rows.csv
        steps: [back]
      - name: b
        data: [{x: 1}]
        steps: [{click: "{{ y }}"}]
      - name: c
        data: []
        steps: [back]
    """)
    assert found == [
        "s.yaml: tests[0].data: data files are read relative to the suite file, and this "
        "suite has none: run it from a file (testfleet run), or give the rows inline",
        "s.yaml: tests[1].steps[0].click: {{ y }} is not one of this test's data columns (x)",
        "s.yaml: tests[2].data: has no rows",
    ]


def test_captured_values_must_be_captured_before_they_are_used() -> None:
    found = problems("""
    name: s
    tests:
      - name: t
        steps:
          - assert_text: {selector: h1, equals: "@{total}"}
          - capture: {as: total, text: "#total"}
          - assert_text: {selector: h1, equals: "@{total} @@{literal}"}
          - if: {value: "@{other}", equals: "1"}
            then: [{click: "#a"}]
    """)
    assert found == [
        "s.yaml: tests[0].steps[0].assert_text: @{total} is used before any step captures "
        "it (add capture: {as: total, ...} before it)",
        "s.yaml: tests[0].steps[3].if: @{other} is used before any step captures it (add "
        "capture: {as: other, ...} before it)",
    ]


def test_blocks_in_both_forms() -> None:
    suite = _load("""
    name: s
    tests:
      - name: t
        steps:
          - if: {visible: "#banner", wait: 1}
            then: [{click: "#accept"}]
            else: [{assert_hidden: "#banner"}]
          - repeat: {until: {text: {selector: "#n", equals: "3"}}, max: 5}
            steps: [{click: "#more"}]
          - repeat: 2
            steps: [{click: "#more"}]
          - click: "#close"
            when: {url: {matches: "/cart$"}, not: true}
          - capture: {as: n, attribute: data-n, selector: "#n"}
          - group: tidy up
            steps: [{click: "#x"}]
    """)
    steps = suite.tests[0].steps
    assert [s.kind for s in steps] == ["if", "repeat", "repeat", "click", "capture", "group"]
    assert steps[0].condition is not None
    assert steps[0].condition.wait_s == 1
    assert (steps[1].mode, steps[1].times, steps[2].times) == ("until", 5, 2)
    assert steps[3].when is not None
    assert steps[3].when.negate
    assert (steps[4].mode, steps[4].attribute) == ("attribute", "data-n")
    assert load_text(dump_canonical(suite), {}) == suite
    assert problems("""
    name: s
    tests:
      - name: t
        steps:
          - if: {visible: "#a", url: /x}
            then: [back]
          - repeat: {times: 101}
            steps: [back]
          - click: "#a"
            then: [back]
    """) == [
        "s.yaml: tests[0].steps[0].if: a condition asks exactly one of visible, hidden, exists"
        " (a selector), url, title, text, value or script",
        "s.yaml: tests[0].steps[1].repeat: times: Input should be less than or equal to 100",
        "s.yaml: tests[0].steps[2]: unknown step key 'then'; a step has one action "
        + problems("name: s\ntests: [{name: t, steps: [{click: a, then: []}]}]")[0].split(
            "one action ", 1
        )[1],
    ]


def test_the_docs_reuse_example_loads(tmp_path: Path) -> None:
    page = Path(__file__).resolve().parents[3] / "docs" / "suites.md"
    section = page.read_text(encoding="utf-8").split("## Reuse and data", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "common.yaml").write_text("flows:\n  noop: {steps: [reload]}\n")
    suite = _load(example, {"DEMO_URL": "http://app.test"}, tmp_path)
    assert [t.name for t in suite.tests] == ["add Milk", "add Tea"]


def test_expansion_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compose, "MAX_STEPS_PER_SUITE", 500)  # the real one is 50,000
    rows = ", ".join(f"{{n: {i}}}" for i in range(40))
    flow_steps = ", ".join(["back"] * 20)
    found = problems(f"""
    name: s
    flows:
      many: {{steps: [{flow_steps}]}}
    tests:
      - name: t
        data: [{rows}]
        steps: [{{use: many}}]
    """)
    assert found == [
        "s.yaml: tests[0]: the suite expands to more than 500 steps in all (data rows "
        "times steps); split it"
    ]


def test_the_run_limits_apply_to_the_expanded_suite(tmp_path: Path) -> None:
    suite_file = tmp_path / "s.yaml"
    suite_file.write_text(
        textwrap.dedent("""
        name: s
        flows:
          three: {steps: [back, forward, reload]}
        tests:
          - name: t
            data: [{n: 1}, {n: 2}, {n: 3}]
            steps: [{use: three}, {use: three}]
    """)
    )
    few_steps = LimitSettings(max_steps_per_test=7)  # 2 groups + 6 steps inside them = 8
    with pytest.raises(SuiteError) as caught:
        load_paths([suite_file], {}, few_steps)
    assert "tests[0].steps: 8 steps is more than the 7 a test may have" in caught.value.problems[0]
    with pytest.raises(LimitError, match="the run has more than 2 tests"):
        load_paths([suite_file], {}, LimitSettings(max_tests_per_run=2))  # 3 data rows


def test_navigate_targets_inside_flows_and_before_each_are_refused_where_written() -> None:
    text = """
    name: S
    flows:
      peek:
        steps:
          - navigate: file:///etc/passwd
    before_each:
      - navigate: view-source:http://x/
    tests:
      - name: t
        steps:
          - use: peek
          - capture: {as: somewhere, from: url}
          - navigate: "@{somewhere}"
    """
    found = problems(text)
    assert any(p.startswith("s.yaml: before_each[0].navigate: view-source:") for p in found), found
    assert any(p.startswith("s.yaml: flows.peek.steps[0].navigate: file:///") for p in found), found
