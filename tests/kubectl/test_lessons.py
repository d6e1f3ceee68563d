"""Every kubectl command of the lessons (seeds 000, 002, 003), run with the real kubectl binary
against the simulated cluster's API on a real uvicorn."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.k8sapi.harness import live_cluster, wait_for
from tests.kubectl.watcher import KubectlWatch

pytestmark = pytest.mark.kubectl

M = Path(__file__).parent / "manifests"
WARNING = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
WIDE_HEADER = [
    "NAME",
    "READY",
    "STATUS",
    "RESTARTS",
    "AGE",
    "IP",
    "NODE",
    "NOMINATED NODE",
    "READINESS GATES",
]


def _rows(text: str) -> list[list[str]]:
    """Table rows split on runs of 2+ spaces (cells never contain those)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()[1:] if line.strip()]


def _header(text: str) -> list[str]:
    return re.split(r"\s{2,}", text.splitlines()[0].strip())


def _ready_pods(lc, selector: str, count: int) -> list[list[str]]:  # type: ignore[no-untyped-def]
    def check() -> list[list[str]] | None:
        rows = _rows(lc.kubectl("get", "pods", "-l", selector, "-o", "wide").stdout)
        ok = len(rows) == count and all(r[1] == "1/1" and r[2] == "Running" for r in rows)
        return rows if ok else None

    return wait_for(check, timeout=60, what=f"{count} ready pods {selector}")


def _describe_field(text: str, field: str) -> str:
    for line in text.splitlines():
        if line.strip().startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{field} not in:\n{text}")


def test_lesson_000_endpoints_relabel_and_readiness(tmp_path: Path) -> None:
    with live_cluster(tmp_path) as lc:
        out = lc.kubectl("apply", "-f", str(M / "shipping-api-deployment.yaml")).stdout
        assert out.strip() == "deployment.apps/shipping-api created"
        wide = lc.kubectl("get", "pods", "-l", "app=shipping-api", "-o", "wide").stdout
        assert _header(wide) == WIDE_HEADER
        pods = _ready_pods(lc, "app=shipping-api", 4)
        ip_of = {r[0]: r[5] for r in pods}
        assert all(r[6].startswith("node-") and r[7] == "<none>" and r[8] == "<none>" for r in pods)

        out = lc.kubectl("apply", "-f", str(M / "shipping-api-service.yaml")).stdout
        assert out.strip() == "service/shipping-api-service created"

        def endpoints_line() -> str | None:
            proc = lc.kubectl("get", "endpoints", "shipping-api-service")
            assert WARNING in proc.stderr
            return proc.stdout if "+ 1 more..." in proc.stdout else None

        text = wait_for(endpoints_line, what="4 ready endpoints")
        assert _header(text) == ["NAME", "ENDPOINTS", "AGE"]
        shown = _rows(text)[0][1].removesuffix(" + 1 more...").split(",")
        assert len(shown) == 3 and {s.rsplit(":", 1)[1] for s in shown} == {"8080"}
        assert {s.rsplit(":", 1)[0] for s in shown} <= set(ip_of.values())

        described = lc.kubectl("describe", "endpoints", "shipping-api-service")
        assert WARNING in described.stderr
        assert set(_describe_field(described.stdout, "Addresses").split(",")) == set(ip_of.values())
        assert _describe_field(described.stdout, "NotReadyAddresses") == "<none>"
        lines = [ln.split() for ln in described.stdout.splitlines()]
        assert ["Name", "Port", "Protocol"] in lines and ["<unset>", "8080", "TCP"] in lines

        ep_watch = KubectlWatch(lc.kubeconfig, "get", "endpoints", "-w")
        pod_watch = KubectlWatch(lc.kubeconfig, "get", "pods", "-w")
        try:
            ep_watch.wait_line(lambda ln: ln.startswith("shipping-api-service"), what="initial endpoints row")
            pod_watch.wait_line(lambda ln: ln.startswith("shipping-api-"), what="initial pods rows")
            relabeled = sorted(ip_of)[0]
            mark = len(ep_watch.snapshot())
            out = lc.kubectl("label", "pod", relabeled, "app=debug", "--overwrite").stdout
            assert out.strip() == f"pod/{relabeled} labeled"
            # The relabelled pod's address leaves the Endpoints: a new line without it.
            ep_watch.wait_line(
                lambda ln: ln.startswith("shipping-api-service") and ip_of[relabeled] + ":" not in ln,
                after=mark,
                what="endpoints line without the relabelled pod",
            )
            # The ReplicaSet replaces it: a new pod appears in the pods watch.
            new_pod = pod_watch.wait_line(
                lambda ln: ln.startswith("shipping-api-") and ln.split()[0] not in ip_of,
                what="replacement pod",
            ).split()[0]
            rows = _ready_pods(lc, "app=shipping-api", 4)
            assert new_pod in {r[0] for r in rows} and relabeled not in {r[0] for r in rows}
            labels = {r[0]: r[5] for r in _rows(lc.kubectl("get", "pods", "--show-labels").stdout)}
            assert len(labels) == 5
            assert labels[relabeled].split(",")[0] == "app=debug"
            assert all("app=shipping-api" in v for k, v in labels.items() if k != relabeled)

            # A pod failing its readiness probe moves to notReadyAddresses: another watch line.
            ip_now = {r[0]: r[5] for r in rows}
            flaky = sorted(n for n in ip_now if n != new_pod)[0]
            mark = len(ep_watch.snapshot())
            out = lc.kubectl(
                "annotate", "pod", flaky, "sim.slicescope.io/readiness=fail", "--overwrite"
            ).stdout
            assert out.strip() == f"pod/{flaky} annotated"
            line = ep_watch.wait_line(
                lambda ln: ln.startswith("shipping-api-service") and ip_now[flaky] + ":" not in ln,
                after=mark,
                timeout=60,
                what="endpoints line without the not-ready pod",
            )
            assert "more..." not in line and len(line.split()[1].split(",")) == 3
        finally:
            ep_watch.stop()
            pod_watch.stop()
        assert WARNING in ep_watch.stderr

        described = lc.kubectl("describe", "endpoints", "shipping-api-service").stdout
        assert _describe_field(described, "NotReadyAddresses") == ip_now[flaky]
        ready = set(_describe_field(described, "Addresses").split(","))
        assert ready == {ip for n, ip in ip_now.items() if n != flaky}
        assert ip_of[relabeled] not in ready

        pod_text = lc.kubectl("describe", "pod", flaky).stdout
        assert _describe_field(pod_text, "Name") == flaky and _describe_field(pod_text, "IP") == ip_now[flaky]
        assert "Readiness probe failed" in pod_text  # the kubelet stand-in's Unhealthy event, found by uid
        deploy_text = lc.kubectl("describe", "deployment", "shipping-api").stdout
        assert _describe_field(deploy_text, "Selector") == "app=shipping-api"
        assert "ScalingReplicaSet" in deploy_text
        slice_text = lc.kubectl(
            "describe", "endpointslices", "-l", "kubernetes.io/service-name=shipping-api-service"
        )
        assert _describe_field(slice_text.stdout, "AddressType") == "IPv4"
        assert f"TargetRef:  Pod/{flaky}" in slice_text.stdout

        slices = lc.kubectl("get", "endpointslices").stdout
        assert _header(slices) == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
        ours = [r for r in _rows(slices) if r[0].startswith("shipping-api-service-")]
        assert len(ours) == 1 and ours[0][1:3] == ["IPv4", "8080"] and ours[0][3].endswith(" + 1 more...")

        out = lc.kubectl("delete", "-f", str(M / "shipping-api-deployment.yaml")).stdout
        assert out.strip() == 'deployment.apps "shipping-api" deleted from default namespace'
        out = lc.kubectl("delete", "-f", str(M / "shipping-api-service.yaml")).stdout
        assert out.strip() == 'service "shipping-api-service" deleted from default namespace'
        out = lc.kubectl("delete", "pod", relabeled).stdout
        assert out.strip() == f'pod "{relabeled}" deleted from default namespace'
        wait_for(
            lambda: "No resources found" in lc.kubectl("get", "pods").stderr, timeout=60, what="all pods gone"
        )
        assert lc.kubectl("get", "endpoints", "shipping-api-service", check=False).returncode == 1


def test_lesson_002_service_endpoints_and_scaling(tmp_path: Path) -> None:
    with live_cluster(tmp_path) as lc:
        out = lc.kubectl("apply", "-f", str(M / "web.yaml"), "-f", str(M / "web-svc.yaml")).stdout
        assert out.split("\n")[:2] == ["deployment.apps/web created", "service/web-svc created"]
        pods = _ready_pods(lc, "app=web", 3)
        ips = {r[5] for r in pods}

        svc = lc.kubectl("get", "service", "web-svc").stdout
        assert _header(svc) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        row = _rows(svc)[0]
        assert row[:2] == ["web-svc", "ClusterIP"] and row[3:5] == ["<none>", "80/TCP"]
        assert row[2].startswith("10.96.") or row[2].count(".") == 3

        def endpoints() -> set[str] | None:
            cell = _rows(lc.kubectl("get", "endpoints", "web-svc").stdout)[0][1]
            got = set(cell.split(",")) if cell not in ("", "<none>") else set()
            return got if got == {f"{ip}:80" for ip in ips} else None

        wait_for(endpoints, what="3 endpoints")
        described = lc.kubectl("describe", "service", "web-svc").stdout
        assert _describe_field(described, "Selector") == "app=web"
        assert _describe_field(described, "TargetPort") == "80/TCP"
        assert set(_describe_field(described, "Endpoints").split(",")) == {f"{ip}:80" for ip in ips}

        labels = _rows(lc.kubectl("get", "pods", "--show-labels").stdout)
        assert len(labels) == 3 and all("app=web" in r[5].split(",") for r in labels)

        out = lc.kubectl("scale", "deployment", "web", "--replicas=250").stdout
        assert out.strip() == "deployment.apps/web scaled"

        def three_slices() -> list[dict] | None:
            raw = lc.kubectl(
                "get", "endpointslices", "-l", "kubernetes.io/service-name=web-svc", "-o", "json"
            )
            items = json.loads(raw.stdout)["items"]
            ready = sum(1 for s in items for e in s.get("endpoints") or [] if e["conditions"].get("ready"))
            return items if len(items) == 3 and ready == 250 else None

        items = wait_for(three_slices, timeout=120, what="250 ready endpoints in 3 slices")
        # How 250 split over 3 slices depends on how the pods' arrivals were batched (as in the
        # real reconciler); what always holds: none over the 100 limit, all 250 present.
        sizes = [len(s["endpoints"]) for s in items]
        assert max(sizes) <= 100 and sum(sizes) == 250
        table = lc.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=web-svc").stdout
        more = {r[0]: r[3].split(" + ")[1] for r in _rows(table)}
        assert more == {s["metadata"]["name"]: f"{len(s['endpoints']) - 3} more..." for s in items}
        assert "+ 247 more..." in lc.kubectl("get", "endpoints", "web-svc").stdout
        deploy = _rows(lc.kubectl("get", "deploy", "web").stdout)[0]
        assert deploy[1:4] == ["250/250", "250", "250"]

        refused = lc.kubectl("apply", "-f", str(M / "bad-selector.yaml"), check=False)
        assert refused.returncode == 1
        assert 'The Deployment "broken" is invalid' in refused.stderr
        assert "`selector` does not match template `labels`" in refused.stderr


def test_lesson_003_selectorless_service_with_manual_endpoints(tmp_path: Path) -> None:
    with live_cluster(tmp_path) as lc:
        proc = lc.kubectl("apply", "-f", str(M / "outside-web.yaml"))
        assert proc.stdout.split("\n")[:2] == ["service/outside-web created", "endpoints/outside-web created"]
        assert WARNING in proc.stderr
        row = _rows(lc.kubectl("get", "endpoints", "outside-web").stdout)[0]
        assert row[:2] == ["outside-web", "203.0.113.10:8080"]

        def mirrored() -> list[str] | None:
            rows = _rows(lc.kubectl("get", "endpointslices").stdout)
            return next((r for r in rows if r[0].startswith("outside-web-")), None)

        assert wait_for(mirrored, what="mirrored EndpointSlice")[1:4] == ["IPv4", "8080", "203.0.113.10"]
        raw = json.loads(
            lc.kubectl(
                "get", "endpointslices", "-l", "kubernetes.io/service-name=outside-web", "-o", "json"
            ).stdout
        )
        labels = raw["items"][0]["metadata"]["labels"]
        assert labels["endpointslice.kubernetes.io/managed-by"] == "endpointslicemirroring-controller.k8s.io"
        described = lc.kubectl("describe", "service", "outside-web").stdout
        assert _describe_field(described, "Selector") == "<none>"
        assert _describe_field(described, "Endpoints") == "203.0.113.10:8080"
        got = yaml.safe_load(lc.kubectl("get", "svc", "outside-web", "-o", "yaml").stdout)
        assert "selector" not in got["spec"] and got["spec"]["ports"][0]["targetPort"] == 8080

        # Deleting the Service deletes its hand-written Endpoints too (the endpoint controller),
        # and the mirrored slice goes with the Endpoints that own it.
        out = lc.kubectl("delete", "service", "outside-web").stdout
        assert out == 'service "outside-web" deleted from default namespace\n'

        def endpoints_gone() -> bool:
            proc = lc.kubectl("get", "endpoints", "outside-web", check=False)
            return proc.returncode == 1 and 'endpoints "outside-web" not found' in proc.stderr

        wait_for(endpoints_gone, what="Endpoints deleted with their Service")
        wait_for(lambda: mirrored() is None, what="mirrored slice removed")


def test_kubectl_without_the_token_is_unauthorized(tmp_path: Path) -> None:
    with live_cluster(tmp_path) as lc:
        config = yaml.safe_load(lc.kubeconfig.read_text())
        for server, name in ((lc.url, "no-token"), (f"{lc.url}/t/wrong-token", "wrong-token")):
            config["clusters"][0]["cluster"]["server"] = server
            config["users"][0]["user"] = {}
            path = tmp_path / name
            path.write_text(yaml.safe_dump(config))
            proc = lc.kubectl("get", "pods", check=False, kubeconfig=path)
            assert proc.returncode == 1
            assert "You must be logged in to the server" in proc.stderr
        assert lc.kubectl("get", "pods").returncode == 0
