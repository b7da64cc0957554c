"""The history and quarantine routes on a real PostgreSQL and a real Redis: a test's
figures and flaky lists from seeded histories, checked against the rules as written
here; quarantine with its scope and its expiry; another project's key sees nothing;
a database that does not answer is a 503 saying what to set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from testfleet.fleet.auth import KeyStore
from testfleet.history.models import Quarantine
from testfleet.settings import Settings
from testfleet.store import RunStore
from tests.fixtures_postgres import PgServer, emptied_history
from tests.integration.history.runs import finish_run
from tests.integration.history.seed import T0, SeedRun, Try, seed

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

CARD = ("Checkout", "pays by card")
COUPON = ("Checkout", "applies coupon")
SIGN_IN = ("Login", "signs in")
LOCKED = ("Login", "locked out")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The module's history database, emptied for each test."""
    with emptied_history(settings.database.url) as bound:
        yield bound


class Keys:
    def __init__(self, r: redis.Redis) -> None:
        ks = KeyStore(r)
        self.alpha_read = ks.create("alpha", ["test:read"])[1]
        self.alpha_write = ks.create("alpha", ["test:read", "test:write"])[1]
        self.alpha_quarantine = ks.create("alpha", ["test:read", "quarantine:write"])[1]
        self.alpha_admin = ks.create("alpha", ["admin"])[1]
        self.beta = ks.create("beta", ["test:read", "quarantine:write"])[1]


@pytest.fixture
def keys(r: redis.Redis) -> Keys:
    return Keys(r)


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def as_key(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def alpha_history(engine: Engine) -> None:
    """Project alpha's seeded runs (the expectations below are derived from them)."""
    not_found = "element #pay not found"
    seed(
        engine,
        "alpha",
        [
            SeedRun(
                "r1",
                0,
                commit="c1",
                tests={CARD: [Try("passed", 100)], SIGN_IN: [Try("passed", 50)]},
            ),
            SeedRun(
                "r2",
                1,
                commit="c2",
                tests={
                    CARD: [Try("failed", 300, "timeout", "sig-timeout"), Try("passed", 110)],
                    COUPON: [Try("failed", 1000, "no coupon", "sig-coupon"), Try("passed", 500)],
                    LOCKED: [Try("failed", 40, not_found, "sig-pay")],
                },
            ),
            SeedRun("r3", 2, commit="c3", tests={CARD: [Try("failed", 200, not_found, "sig-pay")]}),
            SeedRun("r4", 3, branch="feature", commit="c3", tests={CARD: [Try("passed", 120)]}),
            SeedRun("r5", 4, commit="c5", tests={CARD: [Try("passed", 130)]}),
            SeedRun("r6", 5, commit="c6", tests={CARD: [Try("cancelled", 50)]}),
        ],
    )


ROUTES = (
    ("GET", "/api/v1/quarantine", "test:read"),
    ("POST", "/api/v1/quarantine", "quarantine:write"),
    ("DELETE", "/api/v1/quarantine?test=A/b", "quarantine:write"),
    ("GET", "/api/v1/runs/r1/quarantine", "test:read"),
    ("GET", "/api/v1/history/tests?test=A/b", "test:read"),
    ("GET", "/api/v1/history/flaky", "test:read"),
    ("GET", "/api/v1/history/runs/r1/clusters", "test:read"),
)
"""Every history and quarantine route (tests/integration/api/test_api_projects.py lists
them as checked here) and the scope it needs."""


def test_every_route_needs_a_key_with_its_scope(
    api: TestClient, keys: Keys, r: redis.Redis
) -> None:
    dashboard = KeyStore(r).create("alpha", ["dashboard:read"])[1]
    documented = api.get("/openapi.json").json()["paths"]
    for method, path, scope in ROUTES:
        template = path.split("?")[0].replace("/r1/", "/{run_id}/")
        assert method.lower() in documented[template], path
        anonymous = api.request(method, path)
        assert anonymous.status_code == 401, (path, anonymous.text)
        refused = api.request(method, path, headers=as_key(dashboard))
        assert refused.status_code == 403, (path, refused.text)
        assert f"lacks the {scope} scope" in refused.json()["error"]["message"]


def test_a_tests_history_and_figures_follow_the_rules(
    api: TestClient, engine: Engine, keys: Keys
) -> None:
    alpha_history(engine)
    answer = api.get(
        "/api/v1/history/tests",
        params={"test": "Checkout/pays by card"},
        headers=as_key(keys.alpha_read),
    )
    assert answer.status_code == 200, answer.text
    h = answer.json()
    # Decided runs: r1..r5 (r6 ended cancelled). Passed: r1, r2 (on retry), r4, r5.
    assert (h["runs"], h["passedRuns"]) == (5, 4)
    assert h["passRate"] == pytest.approx(4 / 5)
    # Flakes: r2 (failed, then passed on its retry) and r3 (failed on c3, on which r4 passed).
    assert h["flakyRuns"] == 2
    assert h["flakeRate"] == pytest.approx(2 / 5)
    # Timed attempts: 100, 300, 110, 200, 120, 130 ms (the cancelled one does not count).
    # P50 = (120 + 130) / 2; P95 at rank 0.95 * 5 = 4.75: 200 + 0.75 * (300 - 200).
    assert (h["p50Ms"], h["p95Ms"]) == (pytest.approx(125), pytest.approx(275))
    # Trend: the last 3 timed (200, 120, 130; median 130) against the 3 before (100, 300,
    # 110; median 110): +18 %, within the 20 % tolerance.
    assert h["trend"]["direction"] == "steady"
    assert h["trend"]["changeRatio"] == pytest.approx(130 / 110 - 1)
    assert h["firstSeen"].startswith(T0.strftime("%Y-%m-%dT%H:%M:%S"))
    assert (h["lastFailure"]["runId"], h["lastFailure"]["error"]) == (
        "r3",
        "element #pay not found",
    )
    assert h["lastFailure"]["run"] == "/api/v1/runs/r3"
    # Newest first: r6, r5, r4, r3, then r2's two attempts (the later attempt first).
    listed = [(a["runId"], a["attempt"], a["status"]) for a in h["attempts"]]
    assert listed == [
        ("r6", 1, "cancelled"),
        ("r5", 1, "passed"),
        ("r4", 1, "passed"),
        ("r3", 1, "failed"),
        ("r2", 2, "passed"),
        ("r2", 1, "failed"),
        ("r1", 1, "passed"),
    ]
    r2_first = h["attempts"][5]
    assert (r2_first["commit"], r2_first["branch"], r2_first["runStatus"]) == (
        "c2",
        "main",
        "flaky",
    )
    assert h["nextCursor"] is None


def test_a_tests_attempts_come_in_pages(api: TestClient, engine: Engine, keys: Keys) -> None:
    alpha_history(engine)
    seen: list[tuple[str, int]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"test": "Checkout/pays by card", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.get(
            "/api/v1/history/tests", params=params, headers=as_key(keys.alpha_read)
        ).json()
        seen += [(a["runId"], a["attempt"]) for a in page["attempts"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [("r6", 1), ("r5", 1), ("r4", 1), ("r3", 1), ("r2", 2), ("r2", 1), ("r1", 1)]
    bad = api.get(
        "/api/v1/history/tests",
        params={"test": "Checkout/pays by card", "cursor": "x.y"},
        headers=as_key(keys.alpha_read),
    )
    assert bad.status_code == 400
    assert "nextCursor" in bad.json()["error"]["message"]


def test_flaky_tests_are_sorted_by_time_lost_and_paged(
    api: TestClient, engine: Engine, keys: Keys
) -> None:
    alpha_history(engine)
    first = api.get(
        "/api/v1/history/flaky", params={"limit": 1}, headers=as_key(keys.alpha_read)
    ).json()
    second = api.get(
        "/api/v1/history/flaky",
        params={"limit": 1, "cursor": first["nextCursor"]},
        headers=as_key(keys.alpha_read),
    ).json()
    assert second["nextCursor"] is None
    tests = first["tests"] + second["tests"]
    # Time lost = failed attempts' durations: coupon 1000 ms; card 300 + 200 ms. Signs in
    # never failed and locked out never passed: neither is flaky.
    assert [t["test"] for t in tests] == ["Checkout/applies coupon", "Checkout/pays by card"]
    coupon, card = tests
    assert (coupon["lostMs"], coupon["runs"], coupon["flakyRuns"], coupon["retries"]) == (
        1000,
        1,
        1,
        1,
    )
    assert coupon["flakeRate"] == 1.0
    assert (card["lostMs"], card["runs"], card["flakyRuns"], card["failedRuns"]) == (500, 5, 2, 1)
    assert card["flakeRate"] == pytest.approx(2 / 5)
    # The newest run with a failed attempt: coupon's r2 (hour 1); card's r3 (hour 2).
    assert datetime.fromisoformat(coupon["lastFailureAt"]) == T0 + timedelta(hours=1)
    assert datetime.fromisoformat(card["lastFailureAt"]) == T0 + timedelta(hours=2)


def test_a_runs_failures_are_clustered_by_signature(
    api: TestClient, engine: Engine, keys: Keys
) -> None:
    alpha_history(engine)
    seed(
        engine,
        "alpha",
        [
            SeedRun(
                "r7",
                6,
                commit="c7",
                tests={
                    CARD: [Try("failed", 10, "element #pay not found after 3 s", "sig-pay")],
                    LOCKED: [Try("failed", 10, "element #pay not found after 9 s", "sig-pay")],
                    SIGN_IN: [Try("error", 10, "session lost", "sig-session")],
                },
            )
        ],
    )
    answer = api.get("/api/v1/history/runs/r7/clusters", headers=as_key(keys.alpha_read)).json()
    assert answer["failures"] == 3
    pay, session = answer["clusters"]
    assert (pay["signature"], pay["failures"]) == ("sig-pay", 2)
    assert pay["tests"] == ["Checkout/pays by card", "Login/locked out"]
    # sig-pay before r7: r2 (locked out) and r3 (pays by card).
    assert (pay["seenFailures"], pay["seenRuns"]) == (4, 3)
    assert (session["signature"], session["failures"], session["seenRuns"]) == ("sig-session", 1, 1)


def test_another_projects_key_sees_nothing(api: TestClient, engine: Engine, keys: Keys) -> None:
    alpha_history(engine)
    seed(engine, "beta", [SeedRun("b1", 0, tests={CARD: [Try("passed", 999)]})])
    beta = as_key(keys.beta)
    only_alpha = api.get("/api/v1/history/tests", params={"test": "Login/signs in"}, headers=beta)
    assert only_alpha.status_code == 404
    assert "alpha" not in only_alpha.text
    # The same name in beta is beta's own test: one run, nothing of alpha's.
    card = api.get(
        "/api/v1/history/tests", params={"test": "Checkout/pays by card"}, headers=beta
    ).json()
    assert (card["runs"], card["p50Ms"], [a["runId"] for a in card["attempts"]]) == (1, 999, ["b1"])
    assert api.get("/api/v1/history/flaky", headers=beta).json()["tests"] == []
    theirs = api.get("/api/v1/history/runs/r2/clusters", headers=beta)
    missing = api.get("/api/v1/history/runs/nope/clusters", headers=beta)
    assert theirs.status_code == missing.status_code == 404
    added = api.post(
        "/api/v1/quarantine",
        json={"test": "Checkout/pays by card", "reason": "r", "owner": "o"},
        headers=as_key(keys.alpha_quarantine),
    )
    assert added.status_code == 201, added.text
    assert api.get("/api/v1/quarantine", headers=beta).json()["tests"] == []
    gone = api.delete("/api/v1/quarantine", params={"test": "Checkout/pays by card"}, headers=beta)
    assert gone.status_code == 404
    still = api.get("/api/v1/quarantine", headers=as_key(keys.alpha_read)).json()["tests"]
    assert [t["test"] for t in still] == ["Checkout/pays by card"]


def test_quarantine_needs_its_own_scope_to_change(
    api: TestClient, engine: Engine, keys: Keys
) -> None:
    body = {
        "test": "Checkout/pays by card",
        "reason": "flaky payment stub",
        "owner": "dana",
        "expires": "14d",
    }
    for key in (keys.alpha_read, keys.alpha_write):
        refused = api.post("/api/v1/quarantine", json=body, headers=as_key(key))
        assert refused.status_code == 403, refused.text
        assert "lacks the quarantine:write scope" in refused.json()["error"]["message"]
        assert "--scopes quarantine:write" in refused.json()["error"]["message"]
        removed = api.delete(
            "/api/v1/quarantine", params={"test": body["test"]}, headers=as_key(key)
        )
        assert removed.status_code == 403
    for key in (keys.alpha_quarantine, keys.alpha_admin):
        added = api.post("/api/v1/quarantine", json=body, headers=as_key(key))
        assert added.status_code == 201, added.text
    entry = added.json()
    assert (entry["suite"], entry["name"], entry["owner"], entry["reason"]) == (
        "Checkout",
        "pays by card",
        "dana",
        "flaky payment stub",
    )
    expires = datetime.fromisoformat(entry["expiresAt"])
    assert timedelta(days=13, hours=23) < expires - datetime.now(UTC) <= timedelta(days=14)
    listed = api.get("/api/v1/quarantine", headers=as_key(keys.alpha_read)).json()["tests"]
    assert [t["test"] for t in listed] == ["Checkout/pays by card"]  # added twice, kept once
    for bad in ("14", "0d", "2y", "400d"):
        wrong = api.post(
            "/api/v1/quarantine", json={**body, "expires": bad}, headers=as_key(keys.alpha_admin)
        )
        assert wrong.status_code == 400, (bad, wrong.text)
        assert "expiry" in wrong.json()["error"]["message"]
    no_slash = api.post(
        "/api/v1/quarantine",
        json={**body, "test": "pays by card"},
        headers=as_key(keys.alpha_admin),
    )
    assert no_slash.status_code == 400
    assert "SUITE/TEST NAME" in no_slash.json()["error"]["message"]
    gone = api.delete(
        "/api/v1/quarantine", params={"test": body["test"]}, headers=as_key(keys.alpha_quarantine)
    )
    assert gone.json() == {"test": "Checkout/pays by card", "removed": True}
    assert api.get("/api/v1/quarantine", headers=as_key(keys.alpha_read)).json()["tests"] == []


def test_an_expired_quarantine_is_lifted_by_itself(
    api: TestClient, engine: Engine, keys: Keys, store: RunStore
) -> None:
    finish_run(store, "run-q", project="alpha")  # checkout/test 0 passed, 1 flaky, 2 failed
    with engine.begin() as conn:
        conn.execute(
            Quarantine.__table__.insert(),
            [
                {
                    "project": "alpha",
                    "suite": "checkout",
                    "test": "test 2",
                    "data_row": "",
                    "reason": "old",
                    "owner": "o",
                    "expires_at": datetime.now(UTC) - timedelta(seconds=1),
                },
                {
                    "project": "alpha",
                    "suite": "checkout",
                    "test": "test 1",
                    "data_row": "",
                    "reason": "live",
                    "owner": "o",
                    "expires_at": datetime.now(UTC) + timedelta(hours=1),
                },
            ],
        )
    read = as_key(keys.alpha_read)
    assert [t["test"] for t in api.get("/api/v1/quarantine", headers=read).json()["tests"]] == [
        "checkout/test 1"
    ]
    state = api.get("/api/v1/runs/run-q/quarantine", headers=read).json()
    assert [(q["case_id"], q["reason"]) for q in state["quarantined"]] == [("run-q-1", "live")]
    expired = api.delete(
        "/api/v1/quarantine",
        params={"test": "checkout/test 2"},
        headers=as_key(keys.alpha_quarantine),
    )
    assert expired.status_code == 404
    # Added again, the expired entry is replaced and counts.
    again = api.post(
        "/api/v1/quarantine",
        json={"test": "checkout/test 2", "reason": "again", "owner": "o", "expires": "1h"},
        headers=as_key(keys.alpha_quarantine),
    )
    assert again.status_code == 201
    state = api.get("/api/v1/runs/run-q/quarantine", headers=read).json()
    assert sorted(q["case_id"] for q in state["quarantined"]) == ["run-q-1", "run-q-2"]
    # Another project's key: the run is not theirs.
    assert api.get("/api/v1/runs/run-q/quarantine", headers=as_key(keys.beta)).status_code == 404


def test_without_a_database_the_routes_answer_503_saying_what_to_set(
    settings: Settings, keys: Keys, postgres: PgServer, tmp_path: Path
) -> None:
    nowhere = settings.model_copy(
        update={
            "database": settings.database.model_copy(
                update={"url": f"postgresql+psycopg://nobody@/nothing?host={tmp_path}&port=1"}
            )
        }
    )
    empty = postgres.create_database()  # answers, but has no schema
    unmigrated = settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": empty})}
    )
    try:
        for case_settings, says in (
            (nowhere, "TESTFLEET_DATABASE__URL"),
            (unmigrated, "testfleet db upgrade"),
        ):
            with TestClient(create_app(case_settings)) as client:
                for path in ("/api/v1/quarantine", "/api/v1/history/flaky"):
                    answer = client.get(path, headers=as_key(keys.alpha_read))
                    assert answer.status_code == 503, (path, answer.text)
                    assert says in answer.json()["error"]["message"]
                # Runs do not need the history database.
                assert (
                    client.get("/api/v1/runs", headers=as_key(keys.alpha_read)).status_code == 200
                )
    finally:
        postgres.drop_database(empty)
