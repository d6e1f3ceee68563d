"""What a learner meets through the real kubectl, compared with a real v1.36 control plane
(tests/fixtures/real-k8s-v1.36): strict field validation, validation messages, `kubectl explain`,
`kubectl rollout status` during a scale-up, and admission errors from the simulated cluster."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.sim.api.fielderr import invalid, invalid_error
from app.sim.cluster import SimCluster
from app.sim.errors import ApiError
from tests.k8sapi.fixtures import load
from tests.k8sapi.harness import live_cluster, wait_for
from tests.kubectl.watcher import KubectlWatch

pytestmark = pytest.mark.kubectl

SVC_UNKNOWN = """\
apiVersion: v1
kind: Service
metadata:
  name: web-svc
spec:
  selector:
    app: web
  portz:
  - port: 80
"""
SVC_INVALID = """\
apiVersion: v1
kind: Service
metadata:
  name: Bad_Name
spec:
  selector:
    app: web
  ports:
  - port: 99999
"""


def _captured_stderr() -> dict[str, str]:
    """kubectl-validation.txt: what kubectl printed for each manifest, by manifest file name."""
    out: dict[str, str] = {}
    for block in load("kubectl-validation.txt").split("$ kubectl apply -f ")[1:]:
        head, *lines = block.splitlines()
        printed = lines[: lines.index("exit 1")]
        out[head.split()[0]] = "\n".join(printed) + "\n"
    return out


def test_apply_refuses_unknown_fields_and_words_validation_like_kubernetes(tmp_path: Path) -> None:
    expected = _captured_stderr()
    with live_cluster(tmp_path) as lc:
        proc = lc.kubectl("apply", "-f", "-", stdin=SVC_UNKNOWN, check=False)
        assert (proc.returncode, proc.stderr, proc.stdout) == (1, expected["svc-unknown.yaml"], "")
        proc = lc.kubectl("apply", "-f", "-", stdin=SVC_INVALID, check=False)
        assert (proc.returncode, proc.stderr, proc.stdout) == (1, expected["svc-invalid.yaml"], "")
        assert "No resources found" in lc.kubectl("get", "services", "-n", "default", "-l", "app").stderr

        # --validate=warn (fieldValidation=Warn): created without the field, a warning printed.
        warned = SVC_UNKNOWN.replace("  portz:", "  ports:\n  - port: 80\n  portz:")
        proc = lc.kubectl("apply", "--validate=warn", "-f", "-", stdin=warned)
        assert proc.stdout == "service/web-svc created\n"
        assert proc.stderr == 'Warning: unknown field "spec.portz"\n'
        spec = lc.call(lambda: lc.cluster.store.require("Service", "default", "web-svc"))["spec"]
        assert "portz" not in spec and spec["ports"][0]["targetPort"] == 80


def test_explain_reads_the_served_schemas(tmp_path: Path) -> None:
    with live_cluster(tmp_path) as lc:
        text = lc.kubectl("explain", "endpointslice.endpoints.conditions").stdout
        assert text.startswith("GROUP:      discovery.k8s.io\nKIND:       EndpointSlice\nVERSION:    v1\n")
        assert "FIELD: conditions <EndpointConditions>" in text
        fields = re.findall(r"^  (\w+)\t<(\w+)>", text, re.M)
        assert fields == [("ready", "boolean"), ("serving", "boolean"), ("terminating", "boolean")]
        assert "ready indicates that this endpoint is ready to receive traffic" in text

        ports = lc.kubectl("explain", "svc.spec.ports").stdout
        assert "FIELD: ports <[]ServicePort>" in ports
        assert re.search(r"^  port\t<integer> -required-$", ports, re.M)
        assert re.search(r"^  targetPort\t<string>$", ports, re.M)

        deploy = lc.kubectl("explain", "deployments").stdout
        assert "KIND:       Deployment" in deploy and "GROUP:      apps" in deploy
        for field in ("apiVersion", "kind", "metadata", "spec", "status"):
            assert re.search(rf"^  {field}\t<", deploy, re.M), field
        probe = lc.kubectl("explain", "pod.spec.containers.readinessProbe.httpGet").stdout
        assert re.search(r"^  port\t<string> -required-$", probe, re.M)

        missing = lc.kubectl("explain", "endpointslice.endpoints.condition", check=False)
        assert missing.returncode == 1 and 'error: field "condition" does not exist' in missing.stderr


WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - {name: http, containerPort: 80}
        - {name: admin, containerPort: 9000}
        env:
        - {name: MODE, value: blue}
      - name: sidecar
        image: busybox
"""


def test_apply_still_computes_patches_for_changed_manifests(tmp_path: Path) -> None:
    """kubectl apply of a changed manifest: containers, ports and env merged by their keys."""
    first = WEB
    second = WEB.replace("        - {name: admin, containerPort: 9000}\n", "").replace("blue", "green")
    assert second.count("containerPort") == 1
    with live_cluster(tmp_path) as lc:
        assert lc.kubectl("apply", "-f", "-", stdin=first).stdout == "deployment.apps/web created\n"
        proc = lc.kubectl("apply", "-f", "-", stdin=second)
        assert (proc.stdout, proc.stderr) == ("deployment.apps/web configured\n", "")
        d = lc.call(lambda: lc.cluster.store.require("Deployment", "default", "web"))
        containers = d["spec"]["template"]["spec"]["containers"]
        assert [c["name"] for c in containers] == ["web", "sidecar"]
        assert containers[0]["ports"] == [{"name": "http", "containerPort": 80, "protocol": "TCP"}]
        assert containers[0]["env"] == [{"name": "MODE", "value": "green"}]
        assert lc.kubectl("apply", "-f", "-", stdin=second).stdout == "deployment.apps/web unchanged\n"


ROLL = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: roll
spec:
  replicas: 3
  selector:
    matchLabels: {app: roll}
  template:
    metadata:
      labels: {app: roll}
    spec:
      containers:
      - name: c
        image: nginx
"""


def test_rollout_status_after_a_scale_up_prints_what_kubernetes_prints(tmp_path: Path) -> None:
    captured = [
        ln for ln in load("kubectl-rollout-status-scale-up.txt").splitlines() if not ln.startswith("$")
    ]
    with live_cluster(tmp_path, speed=None) as lc:
        lc.kubectl("apply", "-f", "-", stdin=ROLL)

        def available() -> int:
            lc.advance(1)
            d = lc.call(lambda: lc.cluster.store.require("Deployment", "default", "roll"))
            return int((d.get("status") or {}).get("availableReplicas") or 0) == 3

        wait_for(available, timeout=60, what="3 available replicas")
        assert (
            lc.kubectl("scale", "deployment", "roll", "--replicas=30").stdout
            == "deployment.apps/roll scaled\n"
        )
        lc.advance(0)  # the controllers react to the scale, no simulated time passes
        watch = KubectlWatch(lc.kubeconfig, "rollout", "status", "deployment/roll")
        try:
            watch.wait_line(lambda ln: True, what="the first rollout status line")

            def finished() -> bool:
                lc.advance(0.25)
                return watch.proc.poll() is not None

            wait_for(finished, timeout=60, what="kubectl rollout status to finish")
            watch.stop()
        finally:
            watch.stop()
        lines = watch.snapshot()
        assert lines[0] == captured[0]
        assert lines[1] == captured[1]
        assert lines[-1] == captured[-1]
        progress = re.compile(
            r'Waiting for deployment "roll" rollout to finish: (\d+) of 30 updated replicas'
        )
        counts = [int(m.group(1)) for ln in lines[1:-1] if (m := progress.match(ln))]
        assert len(counts) == len(lines) - 2 and counts == sorted(counts), lines


class CappedCluster(SimCluster):
    """A cluster whose scale refuses big numbers the way an admission check does."""

    def scale(self, namespace: str, name: str, replicas: int):  # type: ignore[no-untyped-def]
        if replicas > 100:
            cause = invalid(
                "spec.replicas", replicas, "must be less than or equal to 100 in the simulated cluster"
            )
            raise invalid_error("Scale", name, [cause], group="autoscaling")
        return super().scale(namespace, name, replicas)

    def delete(self, kind: str, namespace: str, name: str, grace_seconds: int | None = None):  # type: ignore[no-untyped-def]
        if kind == "Deployment" and name == "keep":
            raise ApiError(
                403, "Forbidden", f'deployments.apps "{name}" is forbidden: protected in this lesson'
            )
        return super().delete(kind, namespace, name, grace_seconds=grace_seconds)


def test_errors_raised_by_the_cluster_are_statuses_kubectl_prints(tmp_path: Path) -> None:
    with live_cluster(tmp_path, cluster_type=CappedCluster) as lc:
        lc.kubectl("apply", "-f", "-", stdin=ROLL)
        proc = lc.kubectl("scale", "deployment", "roll", "--replicas=1000000000", check=False, timeout=30)
        assert proc.returncode == 1
        assert proc.stderr == (
            'The Scale "roll" is invalid: spec.replicas: Invalid value: 1000000000: '
            "must be less than or equal to 100 in the simulated cluster\n"
        )
        lc.kubectl("apply", "-f", "-", stdin=ROLL.replace("name: roll", "name: keep"))
        proc = lc.kubectl("delete", "deployment", "keep", check=False, timeout=30)
        assert proc.returncode == 1
        assert proc.stderr == (
            'Error from server (Forbidden): deployments.apps "keep" is forbidden: protected in this lesson\n'
        )
        assert lc.kubectl("get", "deployment", "roll", "-o", "jsonpath={.spec.replicas}").stdout == "3"
