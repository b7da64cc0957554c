"""The CLI's history commands against a real API (real Redis, real PostgreSQL):
``quarantine add / list / remove``, ``history --json``, ``flaky --json``, and the exit
code of a finished run whose only failure is quarantined."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from cli import runner
from testfleet.fleet.auth import KeyStore
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.conftest import ROOT, cli
from tests.fixtures_postgres import emptied_history
from tests.integration.history.runs import finish_run
from tests.integration.history.seed import SeedRun, Try, seed

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The module's history database, emptied for each test."""
    with emptied_history(settings.database.url) as bound:
        yield bound


@pytest.fixture
def key(r: redis.Redis) -> str:
    return KeyStore(r).create("alpha", ["test:read", "quarantine:write"])[1]


def tf(api_url: str, key: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TESTFLEET_SERVER": api_url,
        "TESTFLEET_API_KEY": key,
        "TESTFLEET_PATHS__STATE_DIR": str(tmp_path),
    }
    done = cli(*args, env=env, timeout_s=120)
    return done.returncode, done.stdout, done.stderr


def test_quarantine_history_and_flaky_commands(
    api_url: str, engine: Engine, key: str, tmp_path: Path
) -> None:
    card = ("Checkout", "pays by card")
    seed(
        engine,
        "alpha",
        [
            SeedRun(
                "r1",
                0,
                commit="c1",
                tests={card: [Try("failed", 400, "boom", "s"), Try("passed", 100)]},
            ),
            SeedRun("r2", 1, commit="c2", tests={card: [Try("passed", 100)]}),
        ],
    )
    code, out, err = tf(
        api_url,
        key,
        tmp_path,
        "quarantine",
        "add",
        "Checkout/pays by card",
        "--reason",
        "payment stub flakes",
        "--owner",
        "dana",
        "--expires",
        "7d",
    )
    assert code == 0, err
    assert "quarantined Checkout/pays by card until" in out
    code, out, _ = tf(api_url, key, tmp_path, "quarantine", "list", "--json")
    listed = json.loads(out)
    assert [(q["test"], q["owner"], q["reason"]) for q in listed] == [
        ("Checkout/pays by card", "dana", "payment stub flakes")
    ]
    code, out, _ = tf(api_url, key, tmp_path, "quarantine", "list")
    assert "Checkout/pays by card" in out
    assert "dana" in out

    code, out, err = tf(api_url, key, tmp_path, "history", "Checkout/pays by card", "--json")
    assert code == 0, err
    history = json.loads(out)
    # r1 failed then passed on its retry (a flake), r2 passed: 2 runs, both passed.
    assert (history["runs"], history["passRate"], history["flakeRate"]) == (2, 1.0, 0.5)
    assert [a["runId"] for a in history["attempts"]] == ["r2", "r1", "r1"]
    code, out, _ = tf(api_url, key, tmp_path, "history", "Checkout/pays by card")
    assert "flake rate 50%" in out
    assert "pass rate 100%" in out

    code, out, _ = tf(api_url, key, tmp_path, "flaky", "--json")
    flaky = json.loads(out)["tests"]
    assert [(t["test"], t["lostMs"], t["flakyRuns"]) for t in flaky] == [
        ("Checkout/pays by card", 400, 1)
    ]
    code, out, _ = tf(api_url, key, tmp_path, "flaky")
    assert "Checkout/pays by card" in out

    code, out, _ = tf(api_url, key, tmp_path, "quarantine", "remove", "Checkout/pays by card")
    assert code == 0
    assert "out of quarantine" in out
    code, _, err = tf(api_url, key, tmp_path, "quarantine", "remove", "Checkout/pays by card")
    assert code == 2
    assert "not in project alpha's quarantine" in err
    code, _, err = tf(api_url, key, tmp_path, "history", "Checkout/never ran")
    assert code == 2
    assert "no archived run" in err


def test_a_run_failed_only_by_quarantined_tests_exits_0(
    api_url: str, engine: Engine, key: str, store: RunStore, tmp_path: Path
) -> None:
    target = runner.Target(api_url, key)
    # checkout/test 0 passed, test 1 passed on a retry, test 2 failed.
    finish_run(store, "run-1", project="alpha")
    assert runner.follow_and_report(target, "run-1", runner.Outputs()) == 1

    code, _, err = tf(
        api_url,
        key,
        tmp_path,
        "quarantine",
        "add",
        "checkout/test 2",
        "--reason",
        "known",
        "--owner",
        "dana",
    )
    assert code == 0, err
    result = tmp_path / "result.json"
    assert runner.follow_and_report(target, "run-1", runner.Outputs(json=str(result))) == 0
    written = json.loads(result.read_text())
    assert [t["quarantined"] for t in written["tests"]] == [False, False, True]
    assert written["quarantinedFailures"] == 1

    # A quarantined test that passed forgives nothing: another failure still fails the run.
    finish_run(store, "run-2", project="alpha", statuses=("failed", "passed", "passed"))
    tf(
        api_url,
        key,
        tmp_path,
        "quarantine",
        "add",
        "checkout/test 1",
        "--reason",
        "known",
        "--owner",
        "dana",
    )
    assert runner.follow_and_report(target, "run-2", runner.Outputs()) == 1
