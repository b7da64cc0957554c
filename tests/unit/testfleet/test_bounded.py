"""Planning in a bounded child (``testfleet.suites.bounded``): what it returns or raises comes
back as it is; past its CPU or memory bound it is stopped by the kernel and the caller
gets a ``LimitError`` naming the limit and its setting."""

from __future__ import annotations

import pytest

from testfleet.errors import LimitError, SuiteError, UsageError
from testfleet.suites.bounded import Bounds, run_bounded

_MIB = 1024 * 1024


def _add(a: int, b: int) -> int:
    return a + b


def _spin() -> None:
    while True:  # what a submission that asks for endless work does
        pass


def _hoard() -> list[bytes]:
    kept = []
    while True:
        kept.append(b"x" * (16 * _MIB))


def _refuse_suite() -> None:
    raise SuiteError(["s.yaml: tests[0].steps[0].click: selector is required", "second"])


def _refuse_usage() -> None:
    raise UsageError("tags ['x'] match no test")


def test_what_the_child_returns_or_raises_comes_back() -> None:
    bounds = Bounds(cpu_s=5, memory_bytes=256 * _MIB)
    assert run_bounded(bounds, "adding", _add, 2, 3) == 5
    with pytest.raises(SuiteError) as refused:
        run_bounded(bounds, "loading", _refuse_suite)
    assert refused.value.problems == [
        "s.yaml: tests[0].steps[0].click: selector is required",
        "second",
    ]
    with pytest.raises(UsageError, match=r"tags \['x'\] match no test"):
        run_bounded(bounds, "planning", _refuse_usage)


def test_a_child_past_its_cpu_bound_is_stopped_and_the_limit_named() -> None:
    with pytest.raises(LimitError) as refused:
        run_bounded(Bounds(cpu_s=1, memory_bytes=256 * _MIB), "planning the submission", _spin)
    assert str(refused.value).startswith("planning the submission took more than 1 s of CPU")
    assert "TESTFLEET_LIMITS__MAX_PLAN_CPU_S" in str(refused.value)


def test_a_child_past_its_memory_bound_is_stopped_and_the_limit_named() -> None:
    with pytest.raises(LimitError) as refused:
        run_bounded(Bounds(cpu_s=30, memory_bytes=64 * _MIB), "planning the submission", _hoard)
    assert str(refused.value) == (
        "planning the submission needed more than 64 MiB of memory and was stopped: send less "
        "(fewer tests, flows used fewer times, smaller recordings) or raise "
        "TESTFLEET_LIMITS__MAX_PLAN_MEMORY_BYTES"
    )
