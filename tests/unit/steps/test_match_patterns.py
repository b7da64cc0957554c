"""``matches`` patterns: bounded in time, checked as the suite loads, never blocking threads.

A suite's pattern meets the tested page's text on the worker: a pattern that
backtracks exponentially (``^(a+)+$`` on 40 ``a`` and a ``!``) held the worker in
Python's ``re`` for longer than anything but the hard time limit.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from testfleet.errors import SuiteError
from testfleet.suites.loader import load_text
from testfleet.suites.steps.compare import (
    MATCH_TIMEOUT_S,
    MAX_PATTERN_UNITS,
    PatternTooSlow,
    compare,
    regex_problem,
)
from tests.waiting import wait_until

ISSUE_PATTERN = r"^(a+)+$"
"""The pattern of the report: nested quantifiers, exponential for a backtracking engine."""
ISSUE_TEXT = "a" * 40 + "!"
SLOW_PATTERN = r"^(a|aa)+$"
"""Overlapping alternatives: exponential even for ``regex``, which sees through (a+)+."""
SLOW_TEXT = "a" * 60 + "!"

HANG_PROBE_S = 5.0
"""How long the old path is given to prove it hangs: 2**40 backtracking steps take hours;
a pass in 5 s would mean the engine does not backtrack at all."""


def test_the_old_re_search_hangs_on_the_reported_pattern() -> None:
    # Reproduces the report in a child process we can kill: Python's re, as compare used.
    code = f"import re; re.compile({ISSUE_PATTERN!r}).search({ISSUE_TEXT!r})"
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", code], timeout=HANG_PROBE_S, check=True)


def test_the_reported_pattern_now_answers() -> None:
    assert compare(ISSUE_TEXT, ISSUE_PATTERN, "matches") is False
    assert compare("a" * 40, ISSUE_PATTERN, "matches") is True


def test_a_pattern_past_the_time_bound_fails_with_how_to_fix_it() -> None:
    with pytest.raises(PatternTooSlow) as caught:
        compare(SLOW_TEXT, SLOW_PATTERN, "matches")
    message = str(caught.value)
    assert f"/{SLOW_PATTERN}/ took longer than {MATCH_TIMEOUT_S:g} s" in message
    assert "anchor it" in message
    assert "nested or overlapping quantifiers" in message


def test_a_slow_search_leaves_the_other_threads_running() -> None:
    # The worker's heartbeat and lease renewal are threads of the same process: a search
    # must not hold the interpreter lock while it backtracks.
    searching = threading.Event()
    done = threading.Event()
    raised: list[BaseException] = []

    def search() -> None:
        searching.set()
        try:
            compare(SLOW_TEXT, SLOW_PATTERN, "matches")
        except PatternTooSlow as exc:
            raised.append(exc)
        finally:
            done.set()

    searcher = threading.Thread(target=search)
    searcher.start()
    searching.wait()
    # Python code runs here again and again while the search goes on; were the lock held,
    # it would run only once the search had ended.
    ticks = [0]

    def ticked_or_over() -> bool:
        if not done.is_set():
            ticks[0] += 1
        return ticks[0] >= 20 or done.is_set()

    wait_until("the search to end", ticked_or_over, MATCH_TIMEOUT_S * 10, interval_s=0.01)
    assert ticks[0] >= 20, "this thread was held up while the search ran"
    searcher.join()
    assert raised, "the search ended on its time bound"


def test_python_syntax_keeps_working() -> None:
    assert compare("order 42 of 42", r"(?P<n>\d+) of (?P=n)$", "matches")
    assert compare("price: 10 EUR", r"(?<=price: )\d+(?= EUR)", "matches")
    assert compare("Welcome", r"(?i)^welcome$", "matches")
    assert not compare("Welcome back", r"^Welcome$", "matches")


def test_patterns_are_checked_as_the_suite_loads() -> None:
    assert regex_problem(r"^\d{4}-\d{2}$") is None
    assert "not a valid regular expression" in (regex_problem("([") or "")
    # Counted repeats are written out when compiled: refused before anything compiles.
    bomb = "(?:(?:a{65535}){65535}){65535}"
    problem = regex_problem(bomb) or ""
    assert f"more than {MAX_PATTERN_UNITS:,} elements" in problem
    assert compare("x" * 5, r"^(?:x{1000}){0,1}x{5}$", "matches")


def _problems(steps: str) -> list[str]:
    body = "\n".join(f"      {line}" for line in steps.strip().splitlines())
    suite = f"name: s\nbase_url: http://app.test\ntests:\n  - name: t\n    steps:\n{body}\n"
    with pytest.raises(SuiteError) as caught:
        load_text(suite, {}, source="s.yaml")
    return caught.value.problems


def test_a_bad_pattern_is_a_load_error_naming_the_step_and_field() -> None:
    assert _problems('- assert_text: {selector: h1, matches: "(["}') == [
        "s.yaml: tests[0].steps[0].assert_text: matches is not a valid regular expression: "
        "unterminated character set at position 1"
    ]
    # Conditions compare too (when:, if:, repeat until/while).
    assert _problems('- click: {selector: "#a", when: {url: {matches: "(["}}}') == [
        "s.yaml: tests[0].steps[0].click: when: matches is not a valid regular expression: "
        "unterminated character set at position 1"
    ]
    bomb = '- if: {text: {selector: h1, matches: "(?:a{65535}){65535}"}}\n  then: [{click: "#a"}]'
    found = _problems(bomb)
    assert len(found) == 1
    assert found[0].startswith("s.yaml: tests[0].steps[0].if: condition: matches ")
