"""deploy/kubernetes, checked offline: kustomize renders it, every core object passes the
Kubernetes schema (kubernetes-validate, strict), the KEDA ScaledObjects pass KEDA's schema
(vendored in deploy/kubernetes/schemas), and the manifests agree with the code."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import ValidationError

from testfleet.metrics.export import priority_lists
from testfleet.settings import Settings
from tests.conftest import ROOT

KUSTOMIZE = ROOT / "deploy" / "kubernetes"
KEDA_SCHEMA = KUSTOMIZE / "schemas" / "keda-scaledobject-v1alpha1.schema.json"
KEDA_AUTH_SCHEMA = KUSTOMIZE / "schemas" / "keda-triggerauthentication-v1alpha1.schema.json"
K8S_VERSION = "1.30.0"
"""The oldest Kubernetes the manifests must be valid for (sidecar-free, preStop sleep)."""
TREES = ["base", "overlays/local", "overlays/flower"]


@cache
def render(tree: str) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail(
            "kubectl is not installed, so the Kubernetes manifests cannot be rendered: "
            "install kubectl (it bundles kustomize) and run the tests again"
        )
    done = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZE / tree)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, f"kubectl kustomize {tree} failed:\n{done.stderr}"
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def objects(tree: str, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in render(tree) if d["kind"] == kind}


def keda_validator(path: Path = KEDA_SCHEMA) -> jsonschema.Draft202012Validator:
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("tree", TREES)
def test_every_core_object_passes_the_kubernetes_schema(tree: str) -> None:
    core = [d for d in render(tree) if not d["apiVersion"].startswith("keda.sh/")]
    assert {d["kind"] for d in core} >= {
        "Deployment",
        "StatefulSet",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
        "Namespace",
        "NetworkPolicy",
    }
    assert {d["kind"] for d in render(tree)} - {d["kind"] for d in core} == {
        "ScaledObject",
        "TriggerAuthentication",
    }, "every KEDA object has a schema here"
    for doc in core:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("tree", TREES)
def test_every_scaled_object_passes_kedas_schema(tree: str) -> None:
    validator = keda_validator()
    scaled = objects(tree, "ScaledObject")
    assert set(scaled) == {"worker", "chrome-node"}
    for name, doc in scaled.items():
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
        assert not errors, f"{name}: {errors}"
        modifiers = doc["spec"].get("advanced", {}).get("scalingModifiers")
        if modifiers:  # KEDA's admission rule: a formula names its triggers
            names = {t.get("name") for t in doc["spec"]["triggers"]}
            assert None not in names
            assert set(re.findall(r"[A-Za-z_]\w*", modifiers["formula"])) <= names


@pytest.mark.parametrize("tree", TREES)
def test_every_trigger_authentication_passes_kedas_schema(tree: str) -> None:
    validator = keda_validator(KEDA_AUTH_SCHEMA)
    auths = objects(tree, "TriggerAuthentication")
    assert set(auths) == {"selenium-grid"}
    for name, doc in auths.items():
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
        assert not errors, f"{name}: {errors}"
    refs = {
        t["authenticationRef"]["name"]
        for d in objects(tree, "ScaledObject").values()
        for t in d["spec"]["triggers"]
        if "authenticationRef" in t
    }
    assert refs <= set(auths), "every authenticationRef names a TriggerAuthentication here"


def test_the_validators_catch_mistakes() -> None:
    # Checks that cannot fail prove nothing: each validator rejects a broken object.
    deployment = copy.deepcopy(objects("base", "Deployment")["worker"])
    deployment["spec"]["template"]["spec"]["containers"][0]["lifecycel"] = {}
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    validator = keda_validator()
    worker = objects("base", "ScaledObject")["worker"]
    mistakes: list[tuple[tuple[str | int, ...], object]] = [
        (("spec", "pollingIntervall"), 5),
        (("spec", "triggers", 0, "metadata", "listLength"), 5),
        (("spec", "triggers", 0, "metadata", "listname"), "x"),
        (("spec", "advanced", "scalingModifiers", "metricType"), "Sum"),
    ]
    for path, value in mistakes:
        broken = copy.deepcopy(worker)
        node: Any = broken
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        assert list(validator.iter_errors(broken)), path
    chrome = copy.deepcopy(objects("base", "ScaledObject")["chrome-node"])
    chrome["spec"]["triggers"][0]["metadata"]["password"] = "in-clear"  # belongs in the auth
    assert list(validator.iter_errors(chrome))
    auth_validator = keda_validator(KEDA_AUTH_SCHEMA)
    auth = objects("base", "TriggerAuthentication")["selenium-grid"]
    missing_key = {"parameter": "password", "name": "s"}
    for broken_ref in (missing_key, {**auth["spec"]["secretTargetRef"][0], "keys": "x"}):
        broken = copy.deepcopy(auth)
        broken["spec"]["secretTargetRef"][0] = broken_ref
        assert list(auth_validator.iter_errors(broken)), broken_ref
    broken = copy.deepcopy(auth)
    broken["spec"]["secretTargetRefs"] = broken["spec"].pop("secretTargetRef")
    assert list(auth_validator.iter_errors(broken))


def test_workers_scale_on_the_sum_of_every_priority_list() -> None:
    scaled = objects("base", "ScaledObject")["worker"]
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"redis"}
    wanted = priority_lists(Settings())  # the broker's own names for the priority lists
    found = {t["name"]: t["metadata"]["listName"] for t in triggers}
    assert found == wanted, (
        f"deploy/kubernetes/base/keda-worker.yaml: set each trigger's listName to {wanted!r}"
    )
    formula = scaled["spec"]["advanced"]["scalingModifiers"]["formula"]
    assert sorted(re.split(r"\s*\+\s*", formula)) == sorted(wanted)
    redis_service = objects("base", "Service")["redis"]
    for trigger in triggers:
        host, port = trigger["metadata"]["address"].split(":")
        assert host == f"redis.{redis_service['metadata']['namespace']}.svc.cluster.local"
        assert int(port) == redis_service["spec"]["ports"][0]["port"]
    spec = scaled["spec"]
    assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
    assert spec["cooldownPeriod"] >= 60


def test_chrome_nodes_scale_on_the_grids_session_queue() -> None:
    scaled = objects("base", "ScaledObject")["chrome-node"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "selenium-grid"
    hub = objects("base", "Service")["selenium-hub"]
    assert trigger["metadata"]["url"] == (
        f"http://selenium-hub.{hub['metadata']['namespace']}.svc.cluster.local:4444/graphql"
    )
    node = objects("base", "Deployment")["chrome-node"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in node["containers"][0]["env"]}
    assert trigger["metadata"]["nodeMaxSessions"] == env["SE_NODE_MAX_SESSIONS"]
    worker_max = objects("base", "ScaledObject")["worker"]["spec"]["maxReplicaCount"]
    assert scaled["spec"]["maxReplicaCount"] >= worker_max, "a browser for every worker"


def test_a_worker_drains_within_its_grace_period() -> None:
    pod = objects("base", "Deployment")["worker"]["spec"]["template"]["spec"]
    case_timeout_s = Settings().worker.case_timeout_s
    assert pod["terminationGracePeriodSeconds"] >= case_timeout_s + 30
    pre_stop = " ".join(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"])
    assert "kill -TERM 1" in pre_stop, "the hook starts Celery's warm shutdown"
    assert "while kill -0 1" in pre_stop, "and waits for the worker to exit"


@pytest.mark.parametrize("name", ["api", "gateway"])
def test_api_and_gateway_are_probed_on_health_and_ready(name: str) -> None:
    container = objects("base", "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_redis_keeps_an_append_only_file_on_a_volume() -> None:
    redis = objects("base", "StatefulSet")["redis"]
    container = redis["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    data_dir = args[args.index("--dir") + 1]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert mounts[claim["metadata"]["name"]] == data_dir


@pytest.mark.parametrize("tree", TREES)
def test_budgets_and_services_select_pods_that_exist(tree: str) -> None:
    labels = [
        d["spec"]["template"]["metadata"]["labels"]
        for d in render(tree)
        if d["kind"] in ("Deployment", "StatefulSet")
    ]
    selectors = [
        d["spec"]["selector"]["matchLabels"]
        for d in render(tree)
        if d["kind"] == "PodDisruptionBudget"
    ]
    selectors += [d["spec"]["selector"] for d in render(tree) if d["kind"] == "Service"]
    for selector in selectors:
        assert any(selector.items() <= pod.items() for pod in labels), selector
    assert len([s for s in selectors if s]) >= 4


@pytest.mark.parametrize("tree", TREES)
def test_settings_and_secrets_are_real_settings(tree: str) -> None:
    config = objects(tree, "ConfigMap")["testfleet-config"]["data"]
    secrets = [d for d in render(tree) if d["kind"] == "Secret"]
    names = [*config, *(k for s in secrets for k in s.get("data", {}))]
    for key in names:
        section, _, field = key.removeprefix("TESTFLEET_").lower().partition("__")
        model = getattr(Settings(), section)
        assert field in type(model).model_fields, f"{key}: no setting {section}.{field}"
    assert config["TESTFLEET_ARTIFACTS__URL"].startswith("s3://"), "no shared volume"
    for workload in ("api", "gateway", "worker"):
        pod = objects(tree, "Deployment")[workload]["spec"]["template"]["spec"]
        assert "volumes" not in pod, f"{workload} mounts nothing: artifacts are in S3"
        refs = [r for e in pod["containers"][0]["envFrom"] for r in e.values()]
        assert any(r["name"].startswith("testfleet-secrets") for r in refs)


def test_the_local_overlay_brings_its_object_store() -> None:
    config = objects("overlays/local", "ConfigMap")["testfleet-config"]["data"]
    service = objects("overlays/local", "Service")["seaweedfs"]
    port = service["spec"]["ports"][0]["port"]
    assert config["TESTFLEET_ARTIFACTS__S3_ENDPOINT_URL"] == f"http://seaweedfs:{port}"
    (secret,) = [
        d
        for d in render("overlays/local")
        if d["kind"] == "Secret" and d["metadata"]["name"].startswith("testfleet-secrets")
    ]
    assert {
        "TESTFLEET_ARTIFACTS__S3_ACCESS_KEY_ID",
        "TESTFLEET_ARTIFACTS__S3_SECRET_ACCESS_KEY",
    } <= set(secret["data"])
