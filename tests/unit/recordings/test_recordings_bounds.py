"""Converting a recording is bounded: ``run`` is a flow reference (converted once, not
inlined at every call), every step is counted under the run's limits as it is made, and
a recording that asks for too much is refused naming the limit and its setting.

The nested-``run`` project of ``side_bomb`` (a few KB) used to convert into
``5 ** depth`` steps: at depths 2, 3, 4 the converted suite grew about five-fold per
level (measured: 0.02 s, 0.08 s, 0.46 s of CPU, then 7.5 s at depth 5 and 52 s at 6),
and the loader refused it only once it was all built.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli.main import main
from testfleet.errors import LimitError, SuiteError
from testfleet.suites.limits import LimitSettings, RunLimits
from testfleet.suites.loader import load_document
from testfleet.suites.model import Suite
from testfleet.suites.recordings import recognise, suite_yaml
from testfleet.suites.recordings.budget import Budget
from testfleet.suites.steps.model import walk
from tests.unit.recordings.side_bomb import side_bomb, side_bomb_text
from tests.unit.recordings.test_recordings_side import command, project, side_test
from tests.work_count import lines_run


def _converted_bytes(depth: int) -> int:
    recording = recognise(side_bomb(depth), "bomb.side")
    assert recording is not None
    return len(json.dumps(recording.suite))


def test_nested_run_converts_into_a_suite_linear_in_the_recording() -> None:
    sizes = [_converted_bytes(depth) for depth in (2, 3, 4, 5)]
    # One flow more per level: the same few bytes each time (inlined, it was x5 a level).
    assert sizes[3] - sizes[2] == sizes[2] - sizes[1] == sizes[1] - sizes[0]
    work = [lines_run(lambda d=depth: recognise(side_bomb(d), "bomb.side")) for depth in (4, 8)]
    assert work[1] < 3 * work[0]  # twice the depth, about twice the work (inlined: 625x)


def test_the_nested_run_bomb_is_refused_naming_the_limit_before_it_is_built() -> None:
    assert len(side_bomb_text(9)) < 4_000
    caught: list[SuiteError] = []

    def load(depth: int) -> None:
        with pytest.raises(SuiteError) as refused:
            load_document(side_bomb(depth), {}, "bomb.side")
        caught.append(refused.value)

    # Refused when the first step past the limit is made: deeper costs no more.
    shallow, deep = lines_run(lambda: load(6)), lines_run(lambda: load(9))
    assert deep < 2 * shallow
    assert caught[-1].problems == [
        "bomb.side: tests[0].steps: 501 steps is more than the 500 a test may have (counted as "
        "its flows are expanded, each use of a flow with all of the flow's steps; expanding "
        "stopped there); split the test or raise TESTFLEET_LIMITS__MAX_STEPS_PER_TEST"
    ]


def _each_loops(depth: int, items: int) -> dict[str, Any]:
    """A test storing a list of ``items`` and looping over it ``depth`` deep."""
    commands = [command("storeJson", json.dumps(list(range(items))), "xs")]
    commands += [command("forEach", "xs", f"x{i}") for i in range(depth)]
    commands += [command("click", "id=go"), *[command("end") for _ in range(depth)]]
    return project(side_test("loops", *commands))


def test_nested_for_each_is_counted_as_it_expands() -> None:
    # 100 ** 4 rounds: stopped at the first step past the limit, not after 10^8 steps.
    with pytest.raises(LimitError) as refused:
        recognise(_each_loops(4, 100), "loops.side")
    assert str(refused.value) == (
        "loops.side: test 'loops' comes to more than 500 steps as it converts (loops over "
        "literal lists, and do blocks, count their steps once per round); split it or raise "
        "TESTFLEET_LIMITS__MAX_STEPS_PER_TEST"
    )
    assert recognise(_each_loops(2, 5), "loops.side") is not None  # 5 x 5 rounds: fine


def test_the_bytes_a_conversion_makes_count_against_the_runs_size_limit() -> None:
    big = "x" * 1_000
    document = project(side_test("t", *[command("type", "id=q", big) for _ in range(50)]))
    recognise(document, "t.side", RunLimits(LimitSettings(max_expanded_bytes=100_000)))
    with pytest.raises(LimitError) as refused:
        recognise(document, "t.side", RunLimits(LimitSettings(max_expanded_bytes=20_000)))
    assert str(refused.value) == (
        "t.side: the recording converts to more than 20000 bytes of steps (with the run's "
        "other suites); split it or raise TESTFLEET_LIMITS__MAX_EXPANDED_BYTES"
    )


def test_a_budget_counts_each_step_once_with_those_inside_it() -> None:
    budget = Budget(RunLimits(LimitSettings(max_steps_per_test=4)), "s")
    inner = {"click": "#a"}
    block = {"if": {"script": "return 1"}, "then": [inner], "else": [{"click": "#b"}]}
    with budget.unit("test 't'"):
        budget.count([inner])
        budget.count([block])  # inner is counted already: 3 steps so far
        budget.count([{"click": "#c"}])
        with pytest.raises(LimitError, match="test 't' comes to more than 4 steps"):
            budget.count([{"click": "#d"}])


def _leaves(suite: Suite) -> list[tuple[str, str | None, str | None]]:
    """The steps that do something, in order (groups are only where they are shown)."""
    return [
        (s.step_type, s.selector, s.input_data)
        for s in walk(suite.tests[0].steps)
        if s.step_type != "group"
    ]


def test_a_project_with_run_runs_the_same_steps_as_with_the_tests_copied_in() -> None:
    login = [command("open", "/login"), command("type", "id=user", "${user}"),
             command("click", "id=go")]  # fmt: skip
    logout = [command("click", "id=menu"), command("click", "id=out")]
    again = [command("run", "login"), command("run", "logout")]
    called = project(
        side_test("main", command("store", "alice", "user"), command("run", "again"),
                  command("run", "again"), command("assertTitle", "Bye")),
        side_test("login", *login), side_test("logout", *logout), side_test("again", *again),
        suites=[{"id": "s", "name": "S", "tests": ["t-main"]}],
    )  # fmt: skip
    copied = project(side_test(
        "main", command("store", "alice", "user"), *login, *logout, *login, *logout,
        command("assertTitle", "Bye")))  # fmt: skip
    with_runs = load_document(called, {}, "p.side")
    assert _leaves(with_runs) == _leaves(load_document(copied, {}, "p.side"))
    assert ("type", "#user", "alice") in _leaves(with_runs)
    recording = recognise(called, "p.side")
    assert recording is not None
    assert sorted(recording.suite["flows"]) == ["again", "login", "logout"]  # each once
    assert [s.get("use") for s in recording.suite["tests"][0]["steps"]] == [
        None,
        "again",
        "again",
        None,
    ]
    # testfleet import writes the flows too: the suite it writes runs the same steps.
    written = yaml.safe_load(suite_yaml(recording, "p.side"))
    assert _leaves(load_document(written, {}, "p.yaml")) == _leaves(with_runs)


def test_a_run_reading_a_loop_item_gets_each_rounds_value() -> None:
    document = project(
        side_test("t", command("storeJson", '["tea", "cake"]', "dishes"),
                  command("forEach", "dishes", "dish"), command("run", "order"),
                  command("end")),
        side_test("order", command("type", "id=q", "${dish}")),
        suites=[{"id": "s", "name": "S", "tests": ["t-t"]}],
    )  # fmt: skip
    typed = [s[2] for s in _leaves(load_document(document, {}, "p.side")) if s[0] == "type"]
    assert typed == ["tea", "cake"]


def test_a_run_that_comes_back_to_its_caller_names_the_cycle() -> None:
    document = project(
        side_test("a", command("run", "b")),
        side_test("b", command("click", "id=x"), command("run", "c")),
        side_test("c", command("run", "a")),
        suites=[{"id": "s", "name": "S", "tests": ["t-a"]}],
    )  # fmt: skip
    with pytest.raises(SuiteError) as refused:
        load_document(document, {}, "p.side")
    assert refused.value.problems == [
        "p.side: tests[2].commands[0].run: test 'a' runs itself (a -> b -> c -> a); a run may "
        "not call back"
    ]


def test_testfleet_import_refuses_the_bomb_and_converts_within_the_plan_limits(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    bomb = tmp_path / "bomb.side"
    bomb.write_text(side_bomb_text(9), encoding="utf-8")
    done = runner.invoke(main, ["import", str(bomb)])
    assert done.exit_code == 2, done.output
    assert "501 steps is more than the 500 a test may have" in done.output
    assert "TESTFLEET_LIMITS__MAX_STEPS_PER_TEST" in done.output
    # Within every counted limit, but more than the plan may take: stopped by its bound.
    tests = [side_test(f"t{i}", *[command("click", f"id=b{j}") for j in range(100)])
             for i in range(100)]  # fmt: skip
    big = tmp_path / "big.side"
    big.write_text(json.dumps(project(*tests)), encoding="utf-8")
    small = {"TESTFLEET_LIMITS__MAX_PLAN_MEMORY_BYTES": str(16 * 1024 * 1024)}
    done = runner.invoke(main, ["import", str(big)], env=small)
    assert done.exit_code == 2, done.output
    assert f"converting {big} needed more than 16 MiB of memory" in done.output
    assert "TESTFLEET_LIMITS__MAX_PLAN_MEMORY_BYTES" in done.output
    assert runner.invoke(main, ["import", str(big)]).exit_code == 0
