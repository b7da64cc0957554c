"""Visual baselines over the API and ``testfleet baselines``: a real API on a real Redis,
baselines in the API's artifact store (a directory).

- a project lists, shows and reads only its own baselines (another's answer 404);
- approving a run's changed screenshots needs ``test:write`` and promotes them;
- ``require_baselines`` (``testfleet run --ci``) reaches the run's record;
- the CLI lists, shows and approves, printing what it did.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from cli.main import main
from testfleet.artifacts import open_store
from testfleet.events import Event
from testfleet.results import StepResult, VisualResult
from testfleet.settings import Settings
from testfleet.store import RunStore
from testfleet.visual import BaselineIdentity, BaselineStore
from tests.contract_baselines import png
from tests.integration.api.helpers import (
    Keys,
    case,
    client_for,
    error_of,
    submit,
    suite,
)

pytestmark = pytest.mark.redis

HERO = BaselineIdentity("Shop", "home", "hero", "1280x800", "chrome")


@pytest.fixture(autouse=True)
def no_baselines(settings: Settings) -> None:
    """The module's API keeps one artifact store: each test starts without baselines."""
    open_store(settings).delete_prefix("baselines/")


def seed_baseline(settings: Settings, project: str, color: str = "red") -> str:
    """Version 1 of ``HERO`` in ``project``; its id."""
    store = BaselineStore(open_store(settings), project)
    version = store.add(HERO, png(color), (8, 6), "created")
    return version.id


def mismatched_run(alpha: httpx.Client, store: RunStore, settings: Settings) -> str:
    """A finished alpha run whose one test's hero screenshot differed from its baseline."""
    run_id = str(submit(alpha, suite("Shop", case("home")))["runId"])
    run = store.get_run(run_id)
    assert run is not None
    [queued] = run.tests
    open_store(settings).save(run_id, "hero-actual.png", png("green"))
    visual = VisualResult(
        outcome="mismatch",
        baseline_id=HERO.id,
        baseline_version=1,
        suite="Shop",
        test="home",
        name="hero",
        viewport="1280x800",
        browser="chrome",
        threshold=0.1,
        max_diff_ratio=0.0,
        actual="hero-actual.png",
        diff_ratio=1.0,
    )
    step = StepResult(
        index=2,
        label="hero",
        step_type="assert",
        status="failed",
        screenshot="hero-actual.png",
        visual=visual,
    )
    store.begin_case(run_id, queued.case_id)
    done = queued.model_copy(update={"status": "failed", "attempts": 1, "steps": [step]})
    assert store.finish_case(done, Event("test_failed", run_id, "alpha", {}))
    return run_id


def test_a_project_sees_only_its_own_baselines(
    alpha: httpx.Client, beta: httpx.Client, settings: Settings
) -> None:
    baseline_id = seed_baseline(settings, "alpha")
    listed = alpha.get("/api/v1/baselines").json()["baselines"]
    assert [(b["id"], b["version"], b["source"]) for b in listed] == [(baseline_id, 1, "created")]
    versions = alpha.get(f"/api/v1/baselines/{baseline_id}").json()["versions"]
    assert [v["version"] for v in versions] == [1]
    image = alpha.get(f"/api/v1/baselines/{baseline_id}/image")
    assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
    assert image.content == png("red")

    assert beta.get("/api/v1/baselines").json()["baselines"] == []
    for path in (
        f"/api/v1/baselines/{baseline_id}",
        f"/api/v1/baselines/{baseline_id}/image",
        "/api/v1/baselines/no-such-baseline",
    ):
        answer = beta.get(path)
        assert answer.status_code == 404, (path, answer.text)
        assert error_of(answer)["code"] == "not_found"
        assert "alpha" not in answer.text
    # The same identity in beta is beta's own baseline, not alpha's.
    assert seed_baseline(settings, "beta", "blue") == baseline_id
    assert beta.get(f"/api/v1/baselines/{baseline_id}/image").content == png("blue")
    assert alpha.get(f"/api/v1/baselines/{baseline_id}/image").content == png("red")
    wrong = alpha.get(f"/api/v1/baselines/{baseline_id}/image", params={"version": 7})
    assert wrong.status_code == 404
    assert "no version 7" in error_of(wrong)["message"]


def test_approving_needs_test_write_and_promotes_the_changed_screenshot(
    alpha: httpx.Client,
    beta: httpx.Client,
    store: RunStore,
    settings: Settings,
    api_url: str,
    api_keys: Keys,
) -> None:
    baseline_id = seed_baseline(settings, "alpha")
    run_id = mismatched_run(alpha, store, settings)
    approve = f"/api/v1/runs/{run_id}/baselines/approve"
    with client_for(api_url, api_keys.alpha_read) as reader:
        refused = reader.post(approve)
    assert refused.status_code == 403
    assert "lacks the test:write scope" in error_of(refused)["message"]
    assert beta.post(approve).status_code == 404  # not beta's run
    unknown = alpha.post(approve, json={"test": "nope"})
    assert unknown.status_code == 404
    assert "its tests: home" in error_of(unknown)["message"]

    answer = alpha.post(approve, json={"test": "home"})
    assert answer.status_code == 200, answer.text
    [approved] = answer.json()["approved"]
    assert (approved["baselineId"], approved["version"], approved["step"]) == (baseline_id, 2, 2)
    newest = alpha.get(f"/api/v1/baselines/{baseline_id}").json()["versions"][-1]
    assert (newest["source"], newest["run_id"]) == ("approved", run_id)
    assert newest["approved_by"]
    assert alpha.get(f"/api/v1/baselines/{baseline_id}/image").content == png("green")
    assert BaselineStore(open_store(settings), "beta").all() == []


def test_require_baselines_reaches_the_run_and_a_bad_flag_is_a_400(
    alpha: httpx.Client, store: RunStore
) -> None:
    strict = submit(alpha, suite("Shop", case("home")), require_baselines=True)["runId"]
    lenient = submit(alpha, suite("Shop", case("home")))["runId"]
    records = [store.get_record(run_id) for run_id in (strict, lenient)]
    assert [r.require_baselines if r else None for r in records] == [True, False]
    raw = "name: Shop\nbase_url: http://demo.test\ntests: [{name: a, steps: [{navigate: /}]}]\n"
    headers = {"Content-Type": "application/yaml"}
    answer = alpha.post("/api/v1/runs?require_baselines=true", content=raw, headers=headers)
    assert answer.status_code == 202, answer.text
    record = store.get_record(answer.json()["runId"])
    assert record is not None
    assert record.require_baselines
    bad = alpha.post("/api/v1/runs?require_baselines=maybe", content=raw, headers=headers)
    assert bad.status_code == 400
    assert "require_baselines must be true or false" in error_of(bad)["message"]


def test_the_cli_lists_shows_and_approves(
    alpha: httpx.Client,
    store: RunStore,
    settings: Settings,
    api_url: str,
    api_keys: Keys,
    tmp_path: Path,
) -> None:
    cli = CliRunner()
    server = ["--server", api_url, "--key", api_keys.alpha]
    empty = cli.invoke(main, ["baselines", "list", *server])
    assert empty.exit_code == 0, empty.output
    assert "no baselines yet" in empty.output

    baseline_id = seed_baseline(settings, "alpha")
    listed = cli.invoke(main, ["baselines", "list", *server])
    assert listed.exit_code == 0, listed.output
    assert f"{baseline_id}  v1  Shop › home › hero  1280x800 chrome" in listed.output

    run_id = mismatched_run(alpha, store, settings)
    read_only = ["--server", api_url, "--key", api_keys.alpha_read]
    refused = cli.invoke(main, ["baselines", "approve", run_id, *read_only])
    assert refused.exit_code != 0
    assert "test:write" in refused.output
    assert "Traceback" not in refused.output
    approved = cli.invoke(main, ["baselines", "approve", run_id, "--test", "home", *server])
    assert approved.exit_code == 0, approved.output
    assert f"baseline {baseline_id} is now v2" in approved.output
    again = cli.invoke(main, ["baselines", "approve", run_id, "--test", "home", *server])
    assert "is now v3" in again.output  # approving is explicit: each time a new version

    out = tmp_path / "hero.png"
    shown = cli.invoke(
        main, ["baselines", "show", baseline_id, "--version", "2", "-o", str(out), *server]
    )
    assert shown.exit_code == 0, shown.output
    assert "v1" in shown.output
    assert f"approved from run {run_id}" in shown.output
    assert out.read_bytes() == png("green")
    missing = cli.invoke(main, ["baselines", "show", "no-such-baseline", *server])
    assert missing.exit_code != 0
    assert "no baseline 'no-such-baseline'" in missing.output
