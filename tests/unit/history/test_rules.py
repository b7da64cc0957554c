"""The history rules (``testfleet.history.rules``) on seeded histories, checked against
the rules written again here, plainly, from the issue's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testfleet.history.rules import Attempt, Identity, labels, percentile, stats
from testfleet.settings import HistorySettings

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SHA = {name: name * 10 for name in ("a", "b", "c")}
RULES = HistorySettings(new_window_runs=3, flaky_rate_threshold=0.25)
LOGIN = Identity("Login", "valid login")


def run(
    index: int,
    statuses: list[str],
    branch: str | None = "main",
    commit: str | None = None,
    durations_ms: list[int] | None = None,
) -> list[Attempt]:
    """The attempts of run ``r<index>`` (started ``index`` minutes after T0)."""
    durations = durations_ms or [100] * len(statuses)
    return [
        Attempt(
            run_id=f"r{index:03d}",
            commit=commit,
            branch=branch,
            attempt=n,
            status=status,
            duration_ms=duration,
            started_at=T0 + timedelta(minutes=index),
        )
        for n, (status, duration) in enumerate(zip(statuses, durations, strict=True), start=1)
    ]


# --- the rules, written again --------------------------------------------------------


def by_run(attempts: list[Attempt]) -> dict[str, list[Attempt]]:
    runs: dict[str, list[Attempt]] = {}
    for a in sorted(attempts, key=lambda a: (a.started_at, a.run_id, a.attempt)):
        runs.setdefault(a.run_id, []).append(a)
    return runs


def last(tries: list[Attempt]) -> str:
    return max(tries, key=lambda a: a.attempt).status


def decided(tries: list[Attempt]) -> bool:
    return last(tries) in ("passed", "failed", "error")


def failed_then_passed(tries: list[Attempt]) -> bool:
    statuses = [a.status for a in sorted(tries, key=lambda a: a.attempt)]
    return any(
        statuses[i] in ("failed", "error") and "passed" in statuses[i + 1 :]
        for i in range(len(statuses))
    )


def flaky_runs(runs: dict[str, list[Attempt]]) -> set[str]:
    """Failed then passed on retry; or failed where another run of its commit passed."""
    flaky = set()
    for run_id, tries in runs.items():
        if not decided(tries):
            continue
        if failed_then_passed(tries):
            flaky.add(run_id)
        commit = tries[0].commit
        if commit and last(tries) in ("failed", "error"):
            for other_id, other in runs.items():
                if other_id != run_id and other[0].commit == commit and last(other) == "passed":
                    flaky.add(run_id)
    return flaky


def expected_labels(
    attempts: list[Attempt], run_id: str, quarantined: bool, rules: HistorySettings
) -> list[str]:
    runs = by_run(attempts)
    order = list(runs)
    before = order[: order.index(run_id)]
    main = [r for r in before if runs[r][0].branch == rules.default_branch]
    recent_main = main[max(0, len(main) - rules.new_window_runs) :]
    found = []
    if not any(a.status in ("failed", "error") for r in recent_main for a in runs[r]):
        found.append("new")
    upto = {r: runs[r] for r in order[: order.index(run_id) + 1] if decided(runs[r])}
    if upto and len(flaky_runs(upto)) / len(upto) > rules.flaky_rate_threshold:
        found.append("flaky")
    if main and last(runs[main[-1]]) in ("failed", "error"):
        found.append("failing-on-main")
    if quarantined:
        found.append("quarantined")
    return found


# --- seeded histories ----------------------------------------------------------------

STATUS = st.sampled_from(["passed", "passed", "failed", "error", "cancelled"])


@st.composite
def histories(draw: st.DrawFn) -> list[Attempt]:
    attempts: list[Attempt] = []
    for index in range(draw(st.integers(min_value=1, max_value=14))):
        statuses = draw(st.lists(STATUS, min_size=1, max_size=3))
        attempts += run(
            index,
            statuses,
            branch=draw(st.sampled_from(["main", "main", "feature", None])),
            commit=draw(st.sampled_from([SHA["a"], SHA["b"], SHA["c"], None])),
            durations_ms=draw(
                st.lists(
                    st.integers(min_value=1, max_value=5000),
                    min_size=len(statuses),
                    max_size=len(statuses),
                )
            ),
        )
    return attempts


@settings(max_examples=400, deadline=None)
@given(attempts=histories())
def test_rates_match_the_rules(attempts: list[Attempt]) -> None:
    runs = by_run(attempts)
    counted = {r: t for r, t in runs.items() if decided(t)}
    passed = sum(1 for t in counted.values() if last(t) == "passed")
    found = stats(attempts, RULES)
    assert found.runs == len(counted)
    assert found.passed_runs == passed
    assert found.flaky_runs == len(flaky_runs(counted))
    if counted:
        assert found.pass_rate == pytest.approx(passed / len(counted))
        assert found.flake_rate == pytest.approx(len(flaky_runs(counted)) / len(counted))
    else:
        assert found.pass_rate is None
        assert found.flake_rate is None
    assert found.first_seen == min(a.started_at for a in attempts)
    failures = [a for a in attempts if a.status in ("failed", "error")]
    latest = max(failures, key=lambda a: (a.started_at, a.run_id, a.attempt)) if failures else None
    assert found.last_failure == latest


@settings(max_examples=400, deadline=None)
@given(attempts=histories(), pick=st.integers(min_value=0), quarantined=st.booleans())
def test_labels_match_the_rules(attempts: list[Attempt], pick: int, quarantined: bool) -> None:
    run_ids = list(by_run(attempts))
    run_id = run_ids[pick % len(run_ids)]
    quarantine = {LOGIN} if quarantined else {Identity("Login", "other")}
    assert labels(attempts, run_id, RULES, LOGIN, quarantine) == expected_labels(
        attempts, run_id, quarantined, RULES
    )


# --- the rules, case by case ---------------------------------------------------------


def test_failed_then_passed_on_retry_is_a_flake() -> None:
    history = run(0, ["passed"]) + run(1, ["failed", "passed"]) + run(2, ["passed"])
    found = stats(history, RULES)
    assert (found.runs, found.passed_runs, found.flaky_runs) == (3, 3, 1)
    assert found.pass_rate == 1.0
    assert found.flake_rate == pytest.approx(1 / 3)


def test_passed_and_failed_on_one_commit_is_a_flake() -> None:
    history = (
        run(0, ["passed"], commit=SHA["a"])
        + run(1, ["failed"], commit=SHA["a"])
        + run(2, ["failed"], commit=SHA["b"])  # a real failure: b never passed
        + run(3, ["cancelled"], commit=SHA["b"])
    )
    found = stats(history, RULES)
    assert (found.runs, found.passed_runs, found.flaky_runs) == (3, 1, 1)
    assert found.flake_rate == pytest.approx(1 / 3)


def test_a_failure_is_new_unless_it_failed_in_the_last_k_runs_on_main() -> None:
    old_failure = run(0, ["failed"]) + run(1, ["passed"]) + run(2, ["passed"]) + run(3, ["passed"])
    on_pr = run(4, ["failed"], branch="feature/x")
    assert labels(old_failure + on_pr, "r004", RULES) == ["new"]
    recent_failure = run(0, ["passed"]) + run(1, ["failed", "passed"]) + run(2, ["passed"])
    assert "new" not in labels(recent_failure + on_pr, "r004", RULES)
    # Runs on other branches do not count, however recent.
    pr_failures = run(0, ["passed"]) + run(1, ["failed"], branch="feature/x")
    assert "new" in labels(pr_failures + on_pr, "r004", RULES)


def test_failing_on_main_reads_the_latest_main_run_before_the_failure() -> None:
    history = run(0, ["passed"]) + run(1, ["failed"]) + run(2, ["failed"], branch="feature/x")
    assert labels(history, "r002", RULES) == ["failing-on-main"]
    fixed = history + run(3, ["passed"]) + run(4, ["failed"], branch="feature/x")
    assert labels(fixed, "r004", RULES) == []
    # A later main run does not change the labels of an earlier failure.
    assert labels(fixed, "r002", RULES) == ["failing-on-main"]


def test_flaky_over_the_threshold_and_quarantined() -> None:
    history = run(0, ["failed", "passed"]) + run(1, ["passed"]) + run(2, ["passed"])
    history += run(3, ["failed"], branch="feature/x")
    # 1 flake in 4 runs is not over 0.25; a second one is.
    assert "flaky" not in labels(history, "r003", RULES)
    flakier = history + run(4, ["error", "passed"], branch="feature/x")
    flakier += run(5, ["failed"], branch="feature/x")
    assert "flaky" in labels(flakier, "r005", RULES, LOGIN, {LOGIN})
    assert labels(flakier, "r005", RULES, LOGIN, {LOGIN})[-1] == "quarantined"


def test_labels_of_a_run_the_test_was_not_in() -> None:
    with pytest.raises(ValueError, match="no attempt of run r009"):
        labels(run(0, ["failed"]), "r009", RULES)


def test_durations_percentiles_and_trend() -> None:
    assert percentile([400.0, 100.0, 300.0, 200.0], 0.5) == 250.0
    assert percentile([400.0, 100.0, 300.0, 200.0], 0.95) == pytest.approx(385.0)
    assert percentile([], 0.5) is None
    steady = [run(i, ["passed"], durations_ms=[1000]) for i in range(40)]
    slower = [run(40 + i, ["passed"], durations_ms=[1500]) for i in range(20)]
    history = [a for tries in steady + slower for a in tries]
    found = stats(history + run(99, ["cancelled"], durations_ms=[1]), RULES)
    assert found.trend is not None
    assert (found.trend.direction, found.trend.change_ratio) == ("slower", 0.5)
    assert found.trend.window_attempts == 20
    assert found.p50_ms == 1000.0
    flat = stats([a for tries in steady for a in tries], RULES)
    assert flat.trend is not None
    assert flat.trend.direction == "steady"
    assert stats(run(0, ["passed"]), RULES).trend is None
