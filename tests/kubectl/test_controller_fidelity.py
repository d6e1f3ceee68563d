"""The controllers' side of what a learner meets through the real kubectl, compared with a real v1.36
control plane (tests/fixtures/real-k8s-v1.36): Endpoints deleted with their Service, port order in
slices and Endpoints, zone and region labels on bound pods, scale-down victims, slice packing."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pytest
import yaml

from tests.k8sapi.fixtures import load
from tests.k8sapi.harness import LiveCluster, live_cluster, wait_for

pytestmark = pytest.mark.kubectl

WARNING = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"


def _rows(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()[1:] if line.strip()]


def _settle(lc: LiveCluster, seconds: float = 0.0) -> None:
    """Let the manual clock's controllers act (simulated time moves only here)."""
    lc.advance(seconds)


def _captured_session(name: str) -> list[tuple[str, list[str]]]:
    """A capture of `$ command` lines, each followed by what kubectl printed."""
    out: list[tuple[str, list[str]]] = []
    for line in load(name).splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return out


def test_deleting_a_selectorless_service_deletes_its_endpoints(tmp_path: Path) -> None:
    manifest = load("manifest-selectorless.yaml")
    (tmp_path / "selectorless.yaml").write_text(manifest)
    session = dict(_captured_session("kubectl-selectorless-delete.txt"))
    with live_cluster(tmp_path, speed=None) as lc:
        proc = lc.kubectl("apply", "-f", "selectorless.yaml", cwd=tmp_path)
        printed = (proc.stdout + proc.stderr).splitlines()
        assert sorted(printed) == sorted(session["kubectl apply -f selectorless.yaml"])
        _settle(lc, 1)
        got = lc.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=external-db").stdout
        [row] = _rows(got)
        listed = session["kubectl get endpointslices -l kubernetes.io/service-name=external-db"]
        [want] = _rows("\n".join(listed))
        assert re.fullmatch(r"external-db-[a-z0-9]{5}", row[0])
        # (the capture's ENDPOINTS and AGE cells are one space apart)
        assert row[1:3] == want[1:3] and row[3] == want[3].split()[0] == "10.10.0.5,10.10.0.6"

        proc = lc.kubectl("delete", "svc", "external-db")
        assert proc.stdout.splitlines() == session["kubectl delete svc external-db"]
        _settle(lc, 6)
        proc = lc.kubectl("get", "endpoints", "external-db", check=False)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr.splitlines() == session["kubectl get endpoints external-db   (6 s later)"]
        # the mirrored slice goes with the Endpoints that own it
        gone = lc.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=external-db")
        assert gone.stdout == "" and "No resources found" in gone.stderr

        proc = lc.kubectl("delete", "-f", "selectorless.yaml", check=False, cwd=tmp_path)
        expected = session["kubectl delete -f selectorless.yaml"]
        assert expected[-1] == "exit 1"
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr.splitlines() == expected[:-1]


def _ports_block(described: str) -> list[str]:
    """The Ports table of `kubectl describe endpoints` (header, rule, one line a port)."""
    lines = described.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == "Ports:")
    block = []
    for ln in lines[start + 1 :]:
        if not ln.strip():
            break
        block.append(ln)
    return block


def _reversed_ports(manifest: str, name: str) -> str:
    """The capture's manifest under another name, its Service's ports listed the other way round."""
    docs = list(yaml.safe_load_all(manifest.replace("shop", name)))
    for doc in docs:
        if doc["kind"] == "Service":
            doc["spec"]["ports"].reverse()
    return yaml.safe_dump_all(docs)


METRICS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: mon}
spec:
  replicas: 2
  selector: {matchLabels: {app: mon}}
  template:
    metadata: {labels: {app: mon}}
    spec:
      containers:
      - name: mon
        image: nginx
        ports:
        - {name: http, containerPort: 8080}
        - {name: metrics, containerPort: 9090}
---
apiVersion: v1
kind: Service
metadata: {name: mon}
spec:
  selector: {app: mon}
  ports:
  - {name: metrics, port: 9090, targetPort: metrics}
  - {name: http, port: 80, targetPort: http}
"""


def _go_md5_order(ports: list[dict[str, object]]) -> list[str]:
    """Names of core/v1 EndpointPorts in portsByHash order, from the text dump.ForHash writes."""

    def text(p: dict[str, object]) -> bytes:
        app = f"(*string){p['appProtocol']}" if "appProtocol" in p else "(*string)<nil>"
        return (
            f"(v1.EndpointPort){{Name:(string){p['name']} Port:(int32){p['port']} "
            f"Protocol:(v1.Protocol){p['protocol']} AppProtocol:{app}}}"
        ).encode()

    return [str(p["name"]) for p in sorted(ports, key=lambda p: hashlib.md5(text(p)).digest())]


def test_ports_of_a_service_with_two_named_ports_are_in_kubernetes_order(tmp_path: Path) -> None:
    want_slice = load("list-endpointslices-two-named-ports.json")["items"][0]["ports"]
    want_subset = load("get-endpoints-two-named-ports.json")["subsets"][0]["ports"]
    want_described = load("describe-endpoints-two-named-ports.txt")
    # the captures disagree on purpose: two hashes, two orders
    assert [p["name"] for p in want_slice] == ["web", "alt"]
    assert [p["name"] for p in want_subset] == ["alt", "web"]
    manifest = load("manifest-two-named-ports.yaml")
    with live_cluster(tmp_path, speed=None) as lc:
        lc.kubectl("apply", "-f", "-", stdin=manifest)
        # the order is the hashes', not the Service's: the same ports listed the other way round
        lc.kubectl("apply", "-f", "-", stdin=_reversed_ports(manifest, "shop2"))
        lc.kubectl("apply", "-f", "-", stdin=METRICS)

        def ready(name: str) -> bool:
            got = json.loads(lc.kubectl("get", "endpoints", name, "-o", "json").stdout)
            return len((got.get("subsets") or [{}])[0].get("addresses") or ()) == 2

        def all_ready() -> bool:
            _settle(lc, 1)
            return all(ready(name) for name in ("shop", "shop2", "mon"))

        wait_for(all_ready, timeout=60, what="two ready addresses a Service")

        def slice_ports(name: str) -> list[list[dict[str, object]]]:
            selector = f"kubernetes.io/service-name={name}"
            got = json.loads(lc.kubectl("get", "endpointslices", "-l", selector, "-o", "json").stdout)
            return [s["ports"] for s in got["items"]]

        def subset_ports(name: str) -> list[list[dict[str, object]]]:
            got = json.loads(lc.kubectl("get", "endpoints", name, "-o", "json").stdout)
            return [ss["ports"] for ss in got["subsets"]]

        for name in ("shop", "shop2"):
            assert slice_ports(name) == [want_slice], name
            assert subset_ports(name) == [want_subset], name
        proc = lc.kubectl("describe", "endpoints", "shop")
        assert proc.stderr == WARNING + "\n"
        assert _ports_block(proc.stdout) == _ports_block(want_described)

        # the rest of the page has the capture's shape (addresses and times are this cluster's)
        def shape(text: str) -> str:
            text = re.sub(r"\d+\.\d+\.\d+\.\d+", "IP", text)
            return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)

        assert shape(proc.stdout) == shape(want_described.split("\n", 1)[1])

        # ports whose Endpoints order is neither the Service's nor by name
        [[p1, p2]] = subset_ports("mon")
        assert [p1["name"], p2["name"]] == _go_md5_order([p1, p2]) == ["metrics", "http"]
        [[s1, s2]] = slice_ports("mon")
        assert [s1["name"], s2["name"]] == ["http", "metrics"]
        described = lc.kubectl("describe", "endpoints", "mon").stdout
        assert [ln.split()[0] for ln in _ports_block(described)[2:]] == ["metrics", "http"]


ZONED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: zoned}
spec:
  replicas: 3
  selector: {matchLabels: {app: zoned}}
  template:
    metadata: {labels: {app: zoned}}
    spec:
      containers:
      - {name: c, image: nginx, ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: zoned}
spec:
  selector: {app: zoned}
  ports: [{port: 80}]
"""


def test_bound_pods_carry_their_nodes_zone_and_region(tmp_path: Path) -> None:
    # the real capture: a pod bound to a node in zone-a is labelled with it (nobody asked for it)
    captured = load("list-pods.json")["items"][0]["metadata"]["labels"]
    assert captured["topology.kubernetes.io/zone"] == "zone-a"
    shown = load("kubectl-outputs.txt")
    assert "pod-template-hash=8465d5b4d7,topology.kubernetes.io/zone=zone-a" in shown
    with live_cluster(tmp_path, speed=None) as lc:
        nodes = _rows(
            lc.kubectl(
                "get", "nodes", "-L", "topology.kubernetes.io/zone", "-L", "topology.kubernetes.io/region"
            ).stdout
        )
        zone_of = {r[0]: (r[-2], r[-1]) for r in nodes}
        assert {z for z, _ in zone_of.values()} == {"zone-a", "zone-b", "zone-c"}
        assert {r for _, r in zone_of.values()} == {"region-1"}

        lc.kubectl("apply", "-f", "-", stdin=ZONED)
        # created already bound: admitted with the node's labels too
        lc.kubectl(
            "run",
            "pinned",
            "--image=nginx",
            "--labels=app=pinned",
            "--overrides",
            json.dumps({"spec": {"nodeName": "node-2"}}),
        )
        _settle(lc, 5)
        pods = json.loads(lc.kubectl("get", "pods", "-o", "json").stdout)["items"]
        assert len(pods) == 4
        for pod in pods:
            node = pod["spec"]["nodeName"]
            labels = pod["metadata"]["labels"]
            assert (
                labels["topology.kubernetes.io/zone"],
                labels["topology.kubernetes.io/region"],
            ) == zone_of[node]
        listed = _rows(lc.kubectl("get", "pods", "-l", "app=zoned", "--show-labels").stdout)
        for row in listed:
            assert re.fullmatch(
                r"app=zoned,pod-template-hash=[a-z0-9]+,topology\.kubernetes\.io/region=region-1,"
                r"topology\.kubernetes\.io/zone=zone-[abc]",
                row[-1],
            ), row
        # the template was not touched: the labels are the pods' own
        template = json.loads(lc.kubectl("get", "deployment", "zoned", "-o", "json").stdout)["spec"][
            "template"
        ]
        assert template["metadata"]["labels"] == {"app": "zoned"}
        # and the EndpointSlice's zones agree with the pods'
        slices = json.loads(
            lc.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=zoned", "-o", "json").stdout
        )["items"]
        by_pod = {p["metadata"]["name"]: p["metadata"]["labels"]["topology.kubernetes.io/zone"] for p in pods}
        zones = {e["targetRef"]["name"]: e["zone"] for s in slices for e in s["endpoints"]}
        assert zones == {n: z for n, z in by_pod.items() if n.startswith("zoned-")}


RANKED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: ranked}
spec:
  replicas: 3
  selector: {matchLabels: {app: ranked}}
  template:
    metadata: {labels: {app: ranked}}
    spec:
      containers:
      - name: c
        image: nginx
        readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 2}
"""


def _ranked_pods(lc: LiveCluster) -> dict[str, dict[str, object]]:
    """Active pods of the Deployment by name (Terminating ones left out)."""
    items = json.loads(lc.kubectl("get", "pods", "-l", "app=ranked", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get("deletionTimestamp")}


def _scale_and_settle(lc: LiveCluster, replicas: int) -> dict[str, dict[str, object]]:
    lc.kubectl("scale", "deployment", "ranked", f"--replicas={replicas}")
    _settle(lc, 10)
    pods = _ranked_pods(lc)
    assert len(pods) == replicas
    return pods


def test_scale_down_deletes_the_pods_kubernetes_ranks_first(tmp_path: Path) -> None:
    with live_cluster(tmp_path, speed=None) as lc:
        lc.kubectl("apply", "-f", "-", stdin=RANKED)
        _settle(lc, 5)
        first = _ranked_pods(lc)
        assert len(first) == 3
        _settle(lc, 1000)
        [n1] = set(_scale_and_settle(lc, 4)) - set(first)
        # a newer pod replaces the first one on node-2 (the scheduler places pods on the nodes in
        # turn: n1 went to node-1 and the replacement goes to node-2, where it is alone)
        replaced = next(name for name, p in first.items() if p["spec"]["nodeName"] == "node-2")  # type: ignore[index]
        lc.kubectl("delete", "pod", replaced, "--wait=false")
        _settle(lc, 60)
        pods = _ranked_pods(lc)
        [n2] = set(pods) - set(first) - {n1}
        node = {name: p["spec"]["nodeName"] for name, p in pods.items()}  # type: ignore[index]
        assert sorted(node.values()) == ["node-1", "node-1", "node-2", "node-3"]
        assert (node[n1], node[n2]) == ("node-1", "node-2")

        # 4 -> 3: not the newest pod, but the newer of the two on the node holding two
        pods = _scale_and_settle(lc, 3)
        assert n1 not in pods and n2 in pods

        # 3 -> 2: a negative pod-deletion-cost puts the oldest pod first
        oldest = sorted(set(pods) - {n2})[0]
        lc.kubectl("annotate", "pod", oldest, "controller.kubernetes.io/pod-deletion-cost=-1")
        pods = _scale_and_settle(lc, 2)
        assert oldest not in pods and n2 in pods

        # and a pod that is not ready goes before all of them
        keep, failing = sorted(pods, key=lambda name: name != n2)
        lc.kubectl("annotate", "pod", failing, "sim.slicescope.io/readiness=fail")
        _settle(lc, 60)
        assert _scale_and_settle(lc, 1).keys() == {keep}


def test_a_scale_up_on_a_busy_server_packs_slices_as_kubernetes_does(tmp_path: Path) -> None:
    """3 -> 150 replicas while the server's event loop is held up again and again (a busy
    machine): Kubernetes packed the slices [100, 50] every time, and so does the simulator."""
    manifest = ZONED.replace("zoned", "packed")
    with live_cluster(tmp_path, speed=20) as lc:
        lc.kubectl("apply", "-f", "-", stdin=manifest)
        selector = "kubernetes.io/service-name=packed"

        def sizes() -> list[int]:
            got = json.loads(lc.kubectl("get", "endpointslices", "-l", selector, "-o", "json").stdout)
            return sorted((len(s["endpoints"]) for s in got["items"]), reverse=True)

        wait_for(lambda: sizes() == [3], timeout=60, what="three endpoints")
        lc.kubectl("scale", "deployment", "packed", "--replicas=150")
        for _ in range(20):  # the loop stalls for 30 ms at a time while the pods come up
            lc.call(lambda: time.sleep(0.03))
        wait_for(lambda: sum(sizes()) == 150, timeout=60, what="150 endpoints")
        assert sizes() == [100, 50]
        rows = _rows(lc.kubectl("get", "endpointslices", "-l", selector).stdout)
        assert sorted(len(r[3].split(",")) + int(r[3].split("+ ")[1].split()[0]) for r in rows) == [50, 100]
