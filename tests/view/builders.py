"""Kubernetes-shaped dicts for view tests (as the API serves them), the real-cluster fixture replay,
and a model that applies ops the way the browser does."""

from __future__ import annotations

import json
from typing import Any

from app.sources.base import Change, ClusterInfo, Resync
from app.view.engine import ViewEngine
from tests.paths import FIXTURES

INFO = ClusterInfo(mode="replay", name="test")


class Clock:
    def __init__(self, t: float = 1_767_225_600.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def engine(limit: int = 200) -> tuple[ViewEngine, Clock]:
    clock = Clock()
    return ViewEngine(INFO, actions_enabled=True, timeline_limit=limit, now=clock), clock


def pod(
    name: str,
    labels: dict[str, str] | None = None,
    *,
    ns: str = "default",
    ip: str | None = "10.244.1.2",
    node: str | None = "node-1",
    phase: str = "Running",
    ready: bool = True,
    probe: bool = True,
    deleting: bool = False,
    owner: str | None = "web-rs",
    ports: list[tuple[str, int]] | None = None,
    waiting: str | None = None,
    started: str = "2026-11-22T03:07:30Z",
    ready_since: str = "2026-11-22T03:08:00Z",
    delay: int | None = None,
) -> dict[str, Any]:
    """A pod as the kubelet reports it. `started`: the container's state.running.startedAt;
    `ready_since`: the Ready condition's lastTransitionTime (by default 30 s after the start, so a pod
    that is not ready has been ready before: its probe is failing); `delay`: initialDelaySeconds."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": ns,
        "uid": f"uid-{name}",
        "resourceVersion": "1",
        "creationTimestamp": "2026-11-22T03:07:29Z",
        "labels": dict(labels if labels is not None else {"app": "web"}),
    }
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "controller": True}
        ]
    if deleting:
        meta["deletionTimestamp"] = "2026-11-22T03:08:40Z"
    container: dict[str, Any] = {
        "name": "app",
        "image": "nginx",
        "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in (ports or [("", 8080)])],
    }
    if probe:
        container["readinessProbe"] = {"httpGet": {"path": "/", "port": 8080}}
        if delay is not None:
            container["readinessProbe"]["initialDelaySeconds"] = delay
    spec: dict[str, Any] = {"containers": [container]}
    if node:
        spec["nodeName"] = node
    status: dict[str, Any] = {"phase": phase}
    if (node and phase != "Pending") or ip or waiting:
        cond = "True" if ready else "False"
        status["conditions"] = [
            {"type": "Ready", "status": cond, "lastTransitionTime": ready_since},
            {"type": "ContainersReady", "status": cond, "lastTransitionTime": ready_since},
        ]
        state = {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": started}}
        status["containerStatuses"] = [{"name": "app", "ready": ready and not waiting, "state": state}]
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def service(
    name: str,
    selector: dict[str, str] | None = None,
    *,
    ns: str = "default",
    ports: list[tuple[int, int | str]] | None = None,
    type_: str = "ClusterIP",
    cluster_ip: str | None = "10.96.0.10",
    external_name: str | None = None,
    publish: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": type_,
        "ports": [{"port": p, "targetPort": t, "protocol": "TCP"} for p, t in (ports or [(80, 8080)])],
    }
    if selector is not None:
        spec["selector"] = selector
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    if external_name:
        spec["externalName"] = external_name
    if publish:
        spec["publishNotReadyAddresses"] = True
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": "1"},
        "spec": spec,
    }


def slice_(
    name: str,
    svc: str,
    endpoints: list[tuple[str, str | None, bool, bool, bool]],
    *,
    ns: str = "default",
    port: int = 8080,
) -> dict[str, Any]:
    """endpoints: (ip, pod name, ready, serving, terminating)."""
    eps = []
    for ip, pod_name, ready, serving, terminating in endpoints:
        ep: dict[str, Any] = {
            "addresses": [ip],
            "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            "nodeName": "node-1",
            "zone": "zone-a",
        }
        if pod_name:
            ep["targetRef"] = {"kind": "Pod", "namespace": ns, "name": pod_name}
        eps.append(ep)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {
                "kubernetes.io/service-name": svc,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "addressType": "IPv4",
        "endpoints": eps,
        "ports": [{"name": "", "port": port, "protocol": "TCP"}],
    }


def deployment(
    name: str,
    replicas: int = 3,
    *,
    ns: str = "default",
    labels: dict[str, str] | None = None,
    ready: int | None = None,
    updated: int | None = None,
    available: int | None = None,
) -> dict[str, Any]:
    labels = dict(labels if labels is not None else {"app": name})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": "1", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            },
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": replicas if ready is None else ready,
            "updatedReplicas": replicas if updated is None else updated,
            "availableReplicas": replicas if available is None else available,
        },
    }


def replicaset(name: str, deployment_name: str | None, *, ns: str = "default") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "resourceVersion": "1"}
    if deployment_name:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment_name, "controller": True}
        ]
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta, "spec": {"replicas": 1}}


def endpoints(name: str, ready: list[str], not_ready: list[str], *, ns: str = "default") -> dict[str, Any]:
    subset: dict[str, Any] = {"ports": [{"port": 8080, "protocol": "TCP"}]}
    if ready:
        subset["addresses"] = [{"ip": ip} for ip in ready]
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": ip} for ip in not_ready]
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": ns},
        "subsets": [subset] if ready or not_ready else [],
    }


# ---------------------------------------------------------------- real-cluster fixtures

LISTS = (
    ("Service", "services"),
    ("Pod", "pods"),
    ("EndpointSlice", "endpointslices"),
    ("Endpoints", "endpoints"),
)


def list_items(plural: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / f"list-{plural}.json").read_text())["items"]


def watch_changes() -> list[Change]:
    """Every watch event of the three streams as a Change, in resourceVersion order; bookmarks skipped."""
    events = []
    for plural, kind in (("pods", "Pod"), ("endpointslices", "EndpointSlice"), ("endpoints", "Endpoints")):
        for line in (FIXTURES / f"watch-{plural}.jsonl").read_text().splitlines():
            ev = json.loads(line)
            if ev["type"] == "BOOKMARK":
                continue
            events.append(
                (int(ev["object"]["metadata"]["resourceVersion"]), Change(ev["type"], kind, ev["object"]))
            )
    events.sort(key=lambda e: e[0])
    return [c for _, c in events]


def load_lists(eng: ViewEngine) -> None:
    for kind, plural in LISTS:
        eng.apply(Resync(kind, list_items(plural)))


# ---------------------------------------------------------------- the browser's side of the contract


class Model:
    """Applies ops exactly as docs/view-model.md says; tests compare it with engine.state()."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.meta = snapshot["meta"]
        self.services = dict(snapshot["services"])
        self.pods = dict(snapshot["pods"])
        self.deployments = dict(snapshot["deployments"])
        self.timeline = list(snapshot["timeline"])

    def apply(self, ops: list[dict[str, Any]]) -> None:
        for op in ops:
            if op["op"] == "put":
                getattr(self, op["coll"])[op["key"]] = op["value"]
            elif op["op"] == "del":
                del getattr(self, op["coll"])[op["key"]]
            elif op["op"] == "timeline":
                self.timeline = [op["entry"], *self.timeline][: self.meta["timelineLimit"]]
            elif op["op"] == "timeline-clear":
                self.timeline = []
            elif op["op"] == "meta":
                self.meta = op["value"]
            else:
                raise AssertionError(f"unknown op {op}")

    def as_state(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "services": self.services,
            "pods": self.pods,
            "deployments": self.deployments,
            "timeline": self.timeline,
        }


def texts(ops: list[dict[str, Any]]) -> list[str]:
    return [op["entry"]["text"] for op in ops if op["op"] == "timeline"]
