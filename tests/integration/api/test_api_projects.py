"""Keys, scopes and projects on every API route: 401, 403 naming the scope, 404 across projects."""

from __future__ import annotations

import httpx
import pytest

from testfleet.artifacts import open_store
from testfleet.settings import Settings
from tests.integration.api.helpers import (
    Keys,
    case,
    client_for,
    error_of,
    submit,
    suite,
)

pytestmark = pytest.mark.redis

RUN_ROUTES = (
    ("GET", "", "test:read"),
    ("POST", "/cancel", "test:write"),
    ("GET", "/report.html", "test:read"),
    ("GET", "/junit.xml", "test:read"),
    ("GET", "/artifacts/shot.png", "test:read"),
    ("POST", "/baselines/approve", "test:write"),
    ("GET", "/traces/case-1", "test:read"),
)
"""Every route about one run: (method, path after /runs/{id}, scope it needs)."""
PROJECT_ROUTES = (
    ("GET", "/api/v1/runs", "test:read"),
    ("POST", "/api/v1/runs", "test:write"),
    ("GET", "/api/v1/fleet", "dashboard:read"),
    ("GET", "/api/v1/baselines", "test:read"),
    ("GET", "/api/v1/baselines/some-id", "test:read"),
    ("GET", "/api/v1/baselines/some-id/image", "test:read"),
    ("GET", "/api/v1/notify/targets", "notify:write"),
    ("POST", "/api/v1/notify/targets", "notify:write"),
    ("DELETE", "/api/v1/notify/targets/nt_x", "notify:write"),
    ("POST", "/api/v1/notify/targets/nt_x/test", "notify:write"),
    ("GET", "/api/v1/notify/deliveries", "notify:write"),
)

HISTORY_ROUTES = {
    ("GET", "/api/v1/quarantine"),
    ("POST", "/api/v1/quarantine"),
    ("DELETE", "/api/v1/quarantine"),
    ("GET", "/api/v1/runs/{run_id}/quarantine"),
    ("GET", "/api/v1/history/tests"),
    ("GET", "/api/v1/history/flaky"),
    ("GET", "/api/v1/history/last-failed"),
    ("GET", "/api/v1/history/runs/{run_id}/clusters"),
    ("GET", "/api/v1/runs/{run_id}/labels"),
}


def all_routes(run_id: str) -> list[tuple[str, str, str]]:
    return [*PROJECT_ROUTES, *((m, f"/api/v1/runs/{run_id}{p}", s) for m, p, s in RUN_ROUTES)]


def test_every_documented_route_is_covered_here(api_url: str) -> None:
    """A route added to the API without being added to these tests fails this test."""
    paths = httpx.get(f"{api_url}/openapi.json").json()["paths"]
    documented = {
        (method.upper(), path) for path, ops in paths.items() for method in ops if "/api/" in path
    }
    covered = {(m, p) for m, p, _ in all_routes("{run_id}")}
    covered = {
        (m, p.replace("shot.png", "{name}").replace("some-id", "{baseline_id}")) for m, p in covered
    }
    covered = {(m, p.replace("/traces/case-1", "/traces/{case_id}")) for m, p in covered}
    covered = {(m, p.replace("/targets/nt_x", "/targets/{target_id}")) for m, p in covered}
    # /generate (issue 4) is checked by its own tests; history and quarantine, which need a
    # history database, by tests/integration/history/test_api_history.py.
    assert documented - {("POST", "/api/v1/generate")} - HISTORY_ROUTES == covered


def test_no_key_or_an_unknown_key_is_401_on_every_route(api_url: str) -> None:
    for key in (None, "tfk_nope_nope"):
        with client_for(api_url, key) as anonymous:
            for method, path, _ in all_routes("20990101-000000-000000"):
                answer = anonymous.request(method, path, json={"suites": []})
                assert answer.status_code == 401, (key, method, path, answer.text)
                assert answer.headers["www-authenticate"] == "Bearer"
                message = error_of(answer)["message"]
                assert "X-API-Key" in message or "testfleet keys create" in message


def test_a_key_without_the_scope_is_403_naming_it_on_every_route(
    api_url: str, api_keys: Keys
) -> None:
    run_id = "20990101-000000-000000"
    only = {
        "test:read": api_keys.alpha_dashboard,
        "test:write": api_keys.alpha_read,
        "dashboard:read": api_keys.alpha,
        "notify:write": api_keys.alpha,
    }
    for method, path, scope in all_routes(run_id):
        with client_for(api_url, only[scope]) as client:
            answer = client.request(method, path, json={"suites": []})
        assert answer.status_code == 403, (method, path, answer.text)
        error = error_of(answer)
        assert error["code"] == "forbidden"
        assert f"lacks the {scope} scope" in error["message"]
        assert f"--scopes {scope}" in error["message"]


def test_an_admin_key_passes_every_scope(api_url: str, api_keys: Keys) -> None:
    with client_for(api_url, api_keys.alpha_admin) as admin:
        run_id = submit(admin, suite("A", case("a")))["runId"]
        for method, path, _ in all_routes(run_id):
            if path.endswith("/api/v1/runs") and method == "POST":
                continue  # submitted above
            answer = admin.request(method, path)
            assert answer.status_code not in (401, 403), (method, path, answer.text)


def test_another_projects_run_is_a_404_on_every_route_and_never_listed(
    alpha: httpx.Client, beta: httpx.Client, settings: Settings, api_url: str, api_keys: Keys
) -> None:
    run_id = submit(alpha, suite("A", case("a", tags=["smoke"])))["runId"]
    open_store(settings).save(run_id, "shot.png", b"\x89PNG alpha only")
    for method, path, _ in RUN_ROUTES:
        own = alpha.request(method, f"/api/v1/runs/{run_id}{path}")
        if path.startswith("/traces/"):
            # The run is alpha's, the case is not one of it (test_api_traces has real ones).
            assert "has no test case" in error_of(own)["message"], own.text
            continue
        assert own.status_code in (200, 202)
    # alpha's own cancel above finished the first run; the second is queued, untouched, so
    # a cancel that beta got through would show on it.
    untouched = submit(alpha, suite("B", case("b")))["runId"]
    for method, path, _ in RUN_ROUTES:
        for target in (run_id, untouched):
            theirs = beta.request(method, f"/api/v1/runs/{target}{path}")
            missing = beta.request(method, f"/api/v1/runs/20990101-000000-000000{path}")
            assert theirs.status_code == missing.status_code == 404, (path, theirs.text)
            assert error_of(theirs)["code"] == error_of(missing)["code"] == "not_found"
            assert "alpha" not in theirs.text
            assert "GET /api/v1/runs" in error_of(theirs)["message"]
    after = alpha.get(f"/api/v1/runs/{untouched}").json()
    assert (after["status"], after["counts"]) == ("queued", {"queued": 1}), (
        "beta's cancel did nothing"
    )
    for query in (
        "",
        "?status=cancelled",
        "?status=queued",
        "?tag=smoke",
        "?limit=500",
        "?since=2000-01-01T00:00:00Z",
    ):
        assert beta.get(f"/api/v1/runs{query}").json()["runs"] == [], query
        assert alpha.get(f"/api/v1/runs{query}").json()["runs"], query
    # An admin key is still a key of one project.
    with client_for(api_url, api_keys.alpha_admin) as admin:
        assert len(admin.get("/api/v1/runs").json()["runs"]) == 2
    with client_for(api_url, None) as anonymous:
        key = anonymous.post("/api/v1/runs", headers={"X-API-Key": api_keys.beta}, json={})
        assert key.status_code == 422
