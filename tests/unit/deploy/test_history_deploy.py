"""The history database in the deployments: compose runs PostgreSQL, migrates it before
the API and the archiver start; Kubernetes runs the archiver on a Secret of its own."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.unit.deploy.test_kubernetes import TREES, objects
from tests.unit.deploy.test_kubernetes_security import may_connect

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DATABASE_SECRET = "testfleet-database"


def test_compose_migrates_before_the_api_and_the_archiver_start() -> None:
    services = COMPOSE["services"]
    assert services["postgres"]["healthcheck"]
    assert services["db-migrate"]["command"] == ["db", "upgrade"]
    for name in ("api", "archiver"):
        after = services[name]["depends_on"]
        assert after["db-migrate"]["condition"] == "service_completed_successfully", name
        assert "postgres:5432" in services[name]["environment"]["TESTFLEET_DATABASE__URL"]
    assert "TESTFLEET_DATABASE__URL" not in services["worker"]["environment"]
    assert services["archiver"]["command"] == ["archiver"]


@pytest.mark.parametrize("tree", TREES)
def test_kubernetes_runs_the_archiver_migrated_on_the_database_secret(tree: str) -> None:
    pod = objects(tree, "Deployment")["archiver"]["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["args"] == ["db", "upgrade"]
    for container in (init, pod["containers"][0]):
        refs = [r["name"] for e in container["envFrom"] if (r := e.get("secretRef"))]
        assert any(r.startswith(DATABASE_SECRET) for r in refs), container["name"]
    assert may_connect(tree, "archiver", "redis", 6379)


def test_the_local_overlay_brings_a_database_only_the_api_and_archiver_reach() -> None:
    tree = "overlays/local"
    assert "postgres" in objects(tree, "StatefulSet")
    assert may_connect(tree, "archiver", "postgres", 5432)
    assert may_connect(tree, "api", "postgres", 5432)
    assert not may_connect(tree, "chrome-node", "postgres", 5432)
    assert not may_connect(tree, "worker", "postgres", 5432)
