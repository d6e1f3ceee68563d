"""SimCluster: the whole simulated control plane wired together (store + defaulting, nodes,
scheduler/kubelet, ReplicaSet, Deployment, garbage collector, EndpointSlice, Endpoints and
mirroring controllers) plus the user actions the dashboard and tests drive.

A pod's readiness probe result is visible and settable in the object itself, so kubectl can
flip it too: annotation `sim.slicescope.io/readiness: fail` makes every readiness probe of the
pod fail (after failureThreshold probes it turns not Ready); absent or "pass" lets them pass.
`kubectl annotate pod NAME sim.slicescope.io/readiness=fail --overwrite` is `set_probe(..., False)`.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any

from app.kinds import KINDS
from app.sim import defaults
from app.sim.clock import SimClock
from app.sim.controllers.common import READINESS_ANNOTATION, light_mutate, request_delete
from app.sim.controllers.deployment import DeploymentController
from app.sim.controllers.events import EventRecorder
from app.sim.controllers.garbagecollector import GarbageCollector
from app.sim.controllers.kubelet import Kubelet
from app.sim.controllers.replicaset import ReplicaSetController
from app.sim.controllers.scheduler import Scheduler
from app.sim.errors import not_found
from app.sim.limits import Limits
from app.sim.limits import install as install_limits
from app.sim.store import ObjectStore
from app.sim.topology import install as install_topology_labels

log = logging.getLogger(__name__)

Obj = dict[str, Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ZONES = ("zone-a", "zone-b", "zone-c")
CLUSTER_POD_CIDR = ipaddress.IPv4Network("10.244.0.0/16")
NODE_NETWORK = ipaddress.IPv4Address("10.0.0.0")
APISERVER_IP = "10.0.0.2"  # where the `kubernetes` Service's Endpoints point (port 6443)

__all__ = ["READINESS_ANNOTATION", "SimCluster", "SimConfig"]


@dataclass(frozen=True)
class SimConfig:
    # node-1..node-N, zones zone-a/b/c in turn. Like KWOK's fake nodes they are sized for a big
    # cluster: each has a /20 pod CIDR (node N gets 10.244.16N.0/20, pod IPs 10.244.16.2 ...) and
    # admits as many pods as it has pod IPs (4093), so the default three hold 12,279 pods.
    nodes: int = 3
    max_endpoints_per_slice: int = 100  # the EndpointSlice controller's --max-endpoints-per-slice
    seed: int = 0  # seeds names, uids and cluster IPs, so a run is reproducible
    pod_start_seconds: float = 2.0  # Pending/ContainerCreating -> Running with an IP
    # Prefix length of each node's pod CIDR carved from 10.244.0.0/16: 24 gives kubeadm's
    # familiar 10.244.N.x and 253 pods a node; 28 gives 13 (a small cluster that fills up).
    pod_cidr_prefix: int = 20
    # Event objects kept in the store (count); the oldest are deleted beyond it. 1000 is
    # enough for a lesson's history and bounds memory when thousands of pods churn.
    max_events: int = 1000
    # Admission limits on every path into the cluster (app/sim/limits.py): spec.replicas of a
    # Deployment, and Pod objects in the cluster (above the nodes' room, so a cluster can fill up
    # and show Pending pods the scheduler explains).
    max_replicas: int = 15_000
    max_pods: int = 15_000

    def __post_init__(self) -> None:
        if self.nodes < 0:
            raise ValueError("nodes must be >= 0")
        if not 16 < self.pod_cidr_prefix <= 28:
            raise ValueError("pod_cidr_prefix must be in 17..28")
        if self.nodes >= 2 ** (self.pod_cidr_prefix - 16):
            raise ValueError(
                f"{self.nodes} nodes do not fit 10.244.0.0/16 with /{self.pod_cidr_prefix} pod CIDRs"
            )
        if self.max_replicas < 0 or self.max_pods < 0:
            raise ValueError("max_replicas and max_pods must be >= 0")


def node_pod_cidr(index: int, prefix: int = 20) -> str:
    """Pod CIDR of node-<index> (1-based): block number <index> of 10.244.0.0/16."""
    size = 2 ** (32 - prefix)
    return f"{ipaddress.IPv4Address(int(CLUSTER_POD_CIDR.network_address) + index * size)}/{prefix}"


def node_object(index: int, prefix: int = 20) -> Obj:
    name = f"node-{index}"
    cidr = node_pod_cidr(index, prefix)
    pods = str(ipaddress.IPv4Network(cidr).num_addresses - 3)
    resources = {"cpu": "4", "memory": "8148320Ki", "ephemeral-storage": "61202244Ki", "pods": pods}
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "topology.kubernetes.io/region": "region-1",
                "topology.kubernetes.io/zone": ZONES[(index - 1) % len(ZONES)],
            },
        },
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": str(NODE_NETWORK + 9 + index)},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.36.2",
                "containerRuntimeVersion": "containerd://2.1.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "slicescope simulated node",
            },
        },
    }


def last_applied(obj: Obj) -> str:
    """What `kubectl apply` stores in kubectl.kubernetes.io/last-applied-configuration."""
    la = copy.deepcopy(obj)
    md = la.setdefault("metadata", {})
    md["annotations"] = {k: v for k, v in (md.get("annotations") or {}).items() if k != LAST_APPLIED}
    return json.dumps(la, sort_keys=True, separators=(",", ":")) + "\n"


def three_way(current: dict[str, Any], previous: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """Top-level merge like apply: keys the last apply set but the new one drops are removed,
    keys nobody applied (set by controllers, `kubectl scale`, defaulting) are kept."""
    out = {k: v for k, v in current.items() if k not in previous}
    out.update(copy.deepcopy(wanted))
    return out


class SimCluster:
    def __init__(self, clock: SimClock | None = None, config: SimConfig = SimConfig()) -> None:
        self.clock = clock or SimClock()
        self.config = config
        self.store = ObjectStore(self.clock, seed=config.seed)
        self.ips = defaults.install(self.store, seed=config.seed)
        install_topology_labels(self.store)  # mutating admission, before the limits' validation
        self.limits = Limits(max_replicas=config.max_replicas, max_pods=config.max_pods)
        install_limits(self.store, self.limits)
        self.events = EventRecorder(self.store, self.clock, limit=config.max_events)
        self.controllers: list[Any] = []
        self._started = False

    # ---- bootstrap -------------------------------------------------------------------------
    def start(self) -> None:
        """Namespaces, nodes, the `kubernetes` Service and every controller (idempotent)."""
        if self._started:
            return
        self._started = True
        for ns in ("default", "kube-system"):
            if self.store.get("Namespace", "", ns) is None:
                self.store.create({"kind": "Namespace", "metadata": {"name": ns}})
        for i in range(1, self.config.nodes + 1):
            if self.store.get("Node", "", f"node-{i}") is None:
                self.store.create(node_object(i, self.config.pod_cidr_prefix))
        self._kubernetes_service()
        ev = self.events
        self.controllers = [
            GarbageCollector(self.store, self.clock),
            Scheduler(self.store, self.clock, events=ev),
            Kubelet(self.store, self.clock, events=ev, start_seconds=self.config.pod_start_seconds),
            ReplicaSetController(self.store, self.clock, events=ev),
            DeploymentController(self.store, self.clock, events=ev),
            *self._endpoint_controllers(),
        ]
        for c in self.controllers:
            c.start()
        self.clock.advance(0)

    def _endpoint_controllers(self) -> list[Any]:
        out: list[Any] = []
        try:
            from app.sim.controllers.endpointslice import EndpointSliceController

            out.append(
                EndpointSliceController(
                    self.store, self.clock, max_endpoints_per_slice=self.config.max_endpoints_per_slice
                )
            )
        except ImportError:
            log.warning("EndpointSlice controller not available: no EndpointSlices will be made")
        try:
            from app.sim.controllers.endpoints import EndpointsController

            out.append(EndpointsController(self.store, self.clock))
        except ImportError:
            log.warning("Endpoints controller not available: no Endpoints will be made")
        try:
            from app.sim.controllers.mirroring import EndpointSliceMirroringController

            out.append(EndpointSliceMirroringController(self.store, self.clock))
        except ImportError:
            log.warning("EndpointSlice mirroring controller not available")
        return out

    def _kubernetes_service(self) -> None:
        """The API server's own Service, with the Endpoints and EndpointSlice it maintains itself."""
        if self.store.get("Service", "default", "kubernetes") is not None:
            return
        self.store.create(
            {
                "kind": "Service",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}],
                    "clusterIP": defaults.KUBERNETES_SERVICE_IP,
                    "type": "ClusterIP",
                },
            }
        )
        port = {"name": "https", "port": 6443, "protocol": "TCP"}
        self.store.create(
            {
                "kind": "Endpoints",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
                },
                "subsets": [{"addresses": [{"ip": APISERVER_IP}], "ports": [port]}],
            }
        )
        self.store.create(
            {
                "kind": "EndpointSlice",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"kubernetes.io/service-name": "kubernetes"},
                },
                "addressType": "IPv4",
                "endpoints": [{"addresses": [APISERVER_IP], "conditions": {"ready": True}}],
                "ports": [port],
            }
        )

    def load_lesson(self) -> None:
        """Apply the default lesson's Deployments and Services (app/sim/lesson.py)."""
        from app.sim.lesson import lesson_objects

        for obj in lesson_objects():
            self.apply(obj)
        self.clock.advance(0)

    @property
    def max_replicas(self) -> int:
        """The most replicas a Deployment may ask for here (the page's scale box allows as many)."""
        return self.limits.max_replicas

    # ---- user actions ----------------------------------------------------------------------
    def apply(self, obj: Obj) -> Obj:
        """Create, or update when it exists: what `kubectl apply` amounts to."""
        kind = obj["kind"]
        info = KINDS[kind]
        wanted = copy.deepcopy(obj)
        md = wanted.setdefault("metadata", {})
        if info.namespaced:
            md["namespace"] = md.get("namespace") or "default"
        else:
            md.pop("namespace", None)
        applied = last_applied(wanted)
        md.setdefault("annotations", {})[LAST_APPLIED] = applied
        current = self.store.get(kind, md.get("namespace", ""), md.get("name", ""))
        if current is None:
            return self.store.create(wanted)
        previous: Obj = {}
        old_text = (current["metadata"].get("annotations") or {}).get(LAST_APPLIED)
        if old_text:
            try:
                previous = json.loads(old_text)
            except ValueError:
                previous = {}
        merged = copy.deepcopy(current)
        mmd = merged["metadata"]
        pmd = previous.get("metadata") or {}
        for field in ("labels", "annotations"):
            value = three_way(mmd.get(field) or {}, pmd.get(field) or {}, md.get(field) or {})
            if value:
                mmd[field] = value
            else:
                mmd.pop(field, None)
        for top, value in wanted.items():
            if top in ("metadata", "status", "kind", "apiVersion"):
                continue
            if isinstance(value, dict) and isinstance(merged.get(top), dict):
                merged[top] = three_way(merged[top], previous.get(top) or {}, value)
            else:
                merged[top] = copy.deepcopy(value)
        for top in previous:
            if top not in wanted and top not in ("metadata", "status", "kind", "apiVersion"):
                merged.pop(top, None)
        mmd.pop("resourceVersion", None)
        return self.store.update(merged)

    def scale(self, namespace: str, name: str, replicas: int) -> Obj:
        """`kubectl scale deployment NAME --replicas=N` (a ReplicaSet when no Deployment has the name)."""
        kind = "Deployment" if self.store.get("Deployment", namespace, name) is not None else "ReplicaSet"
        if self.store.get(kind, namespace, name) is None:
            raise not_found("Deployment", name)

        def put(draft: Obj) -> None:
            draft["spec"]["replicas"] = int(replicas)

        return self.store.mutate(kind, namespace, name, put)

    def set_pod_labels(self, namespace: str, name: str, labels: dict[str, str | None]) -> Obj:
        """`kubectl label pod NAME k=v --overwrite` (a None value removes the label: `k-`)."""

        def put(draft: Obj) -> None:
            current = dict(draft["metadata"].get("labels") or {})
            for k, v in labels.items():
                if v is None:
                    current.pop(k, None)
                else:
                    current[k] = v
            draft["metadata"]["labels"] = current

        return light_mutate(self.store, "Pod", namespace, name, put)

    def set_probe(self, namespace: str, name: str, passing: bool) -> Obj:
        """Flip the pod's readiness switch (the `sim.slicescope.io/readiness` annotation)."""

        def put(draft: Obj) -> None:
            annotations = dict(draft["metadata"].get("annotations") or {})
            if passing:
                annotations.pop(READINESS_ANNOTATION, None)
            else:
                annotations[READINESS_ANNOTATION] = "fail"
            if annotations:
                draft["metadata"]["annotations"] = annotations
            else:
                draft["metadata"].pop("annotations", None)

        return light_mutate(self.store, "Pod", namespace, name, put)

    def delete_pod(self, namespace: str, name: str, grace_seconds: int | None = None) -> Obj:
        """Graceful: the pod is Terminating for its grace period (default terminationGracePeriodSeconds)."""
        return request_delete(self.store, "Pod", namespace, name, grace_seconds)

    def delete(self, kind: str, namespace: str, name: str, grace_seconds: int | None = None) -> Obj:
        """Delete any object; pods gracefully; dependents follow through the garbage collector."""
        if kind not in KINDS:
            raise not_found(kind, name)
        ns = namespace if KINDS[kind].namespaced else ""
        return request_delete(self.store, kind, ns, name, grace_seconds)

    def run_for(self, seconds: float) -> None:
        self.clock.advance(seconds)
