"""Baselines on the memory and directory stores (S3: tests/integration), identities, and
what approving a run promotes."""

from __future__ import annotations

from pathlib import Path

import pytest

from testfleet.artifacts import FileStore, MemoryStore
from testfleet.errors import NotFoundError
from testfleet.results import CaseResult, RunResult, StepResult, VisualResult
from testfleet.visual import BaselineIdentity, BaselineStore
from testfleet.visual.approve import approvable, approve
from tests.contract_baselines import HOME, BaselineStoreContract, png


class TestMemoryBaselines(BaselineStoreContract):
    @pytest.fixture
    def artifacts(self) -> MemoryStore:
        return MemoryStore()


class TestFileBaselines(BaselineStoreContract):
    @pytest.fixture
    def artifacts(self, tmp_path: Path) -> FileStore:
        return FileStore(tmp_path)

    def test_baselines_sit_outside_the_runs_so_retention_never_sees_them(
        self, artifacts: FileStore, tmp_path: Path
    ) -> None:
        BaselineStore(artifacts, "alpha").add(HOME, png("red"), (8, 6), "created")
        assert (tmp_path / "baselines" / "p-alpha" / HOME.id / "v000001.png").is_file()
        assert list(artifacts.runs()) == []


def test_identities_are_stable_readable_and_never_shared_by_lookalikes() -> None:
    assert HOME.id == BaselineIdentity("Shop", "home page", "hero", "1280x800", "chrome").id
    assert HOME.id.startswith("home-page-hero-")
    lookalikes = {
        BaselineIdentity("Shop", "home-page", "hero", "1280x800", "chrome").id,
        BaselineIdentity("Shop", "home page", "hero", "390x844", "chrome").id,
        BaselineIdentity("Other", "home page", "hero", "1280x800", "chrome").id,
        BaselineIdentity("Shop", "home page", "hero", "1280x800", "firefox").id,
    }
    assert HOME.id not in lookalikes
    assert len(lookalikes) == 4
    long = BaselineIdentity("s", "t" * 500, "é / ü " * 50, "1x1", "chrome").id
    assert len(long) <= 100


RUN = "20260101-000000-abcdef"


def visual_step(index: int, status: str, outcome: str, actual: str | None) -> StepResult:
    visual = VisualResult(
        outcome=outcome,  # type: ignore[arg-type]
        baseline_id=HOME.id if index == 2 else f"other-{index}",
        baseline_version=1 if outcome != "missing" else None,
        suite="Shop",
        test="home page",
        name="hero" if index == 2 else f"n{index}",
        viewport="1280x800",
        browser="chrome",
        threshold=0.1,
        max_diff_ratio=0.0,
        actual=actual,
    )
    return StepResult(
        index=index,
        label=f"s{index}",
        step_type="assert",
        status=status,  # type: ignore[arg-type]
        screenshot=actual,
        visual=visual,
    )


def run_with(*cases: CaseResult) -> RunResult:
    return RunResult(
        runId=RUN,
        projectId="alpha",
        name="r",
        status="failed",
        createdMs=1,
        counts={},
        tests=list(cases),
    )


def case_of(name: str, *steps: StepResult) -> CaseResult:
    return CaseResult(
        case_id=f"{RUN}-{name}",
        run_id=RUN,
        suite="Shop",
        name=name,
        status="failed",
        steps=list(steps),
    )


def test_approving_promotes_changed_and_missing_screenshots_only() -> None:
    artifacts = MemoryStore()
    for name in ("a2.png", "a3.png", "a4.png", "a5.png", "a6.png"):
        artifacts.save(RUN, name, png("green", (10, 4)))
    home = case_of(
        "home page",
        visual_step(2, "failed", "mismatch", "a2.png"),  # changed: promoted
        visual_step(3, "passed", "match", "a3.png"),  # matched: left alone
        visual_step(4, "passed", "created", "a4.png"),  # created by this run: already it
        visual_step(5, "failed", "missing", "a5.png"),  # none under --ci: promoted
        visual_step(6, "passed", "mismatch", "a6.png"),  # not: true that passed: left alone
    )
    other = case_of("other", visual_step(7, "warning", "mismatch", "a2.png"))
    run = run_with(home, other)
    assert [(c.name, s.index) for c, s in approvable(run)] == [
        ("home page", 2),
        ("home page", 5),
        ("other", 7),
    ]
    assert [s.index for _, s in approvable(run, "home page")] == [2, 5]
    with pytest.raises(NotFoundError, match="no test named 'nope'; its tests: home page, other"):
        approvable(run, "nope")

    done = approve(run, artifacts, "key-1", "home page")
    assert [(a.step, a.version, a.screenshot) for a in done] == [(2, 1, "a2.png"), (5, 1, "a5.png")]
    store = BaselineStore(artifacts, "alpha")
    latest = store.latest(HOME.id)
    assert latest is not None
    assert (latest.source, latest.approved_by, latest.run_id, latest.step) == (
        "approved",
        "key-1",
        RUN,
        2,
    )
    assert (latest.width_px, latest.height_px) == (10, 4)
    assert store.image(HOME.id, 1) == png("green", (10, 4))
    assert BaselineStore(artifacts, "beta").all() == []  # the run's project only
