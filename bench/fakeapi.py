"""A generated Kubernetes API shaped like a real cluster, for benchmarks and tests: N pods cloned from
a real v1.36 capture (unique names, uids and IPs), M Services across K namespaces, EndpointSlices of
100 endpoints as the controller packs them, legacy Endpoints, Nodes, Deployments and ReplicaSets.

Served by a plain threaded HTTP server on 127.0.0.1:0 (in a thread, or in a process of its own so it
shares neither the event loop nor the GIL of the process under test): paged lists (limit/continue,
resourceVersion), watches (allowWatchBookmarks, timeoutSeconds, 410 for a compacted resourceVersion,
504 ResourceVersionTooLarge for one from the future), discovery, bearer-token auth. A churn driver
flips pods' readiness at R changes a second in the control plane's order (pod MODIFIED, then its
EndpointSlice, then its Endpoints), each pod stamped with an annotation holding the send time in
epoch milliseconds, and logged so a bench can match what a page shows with when it was sent.

Python API::

    from bench.fakeapi import fake_api

    with fake_api(pods=10_000, services=1_000, namespaces=10, process=True) as api:
        api.write_kubeconfig("kc.yaml")          # slicescope --kubeconfig kc.yaml watches it
        change = api.flip()                       # one readiness flip: {"seq", "sentMs", "pod", "ip", ...}
        api.churn(200)                            # 200 flips a second until churn(0)
        api.changes(since=0)                      # the flips sent so far
        api.burst(50_000)                         # that many pod MODIFIED events, as fast as possible
        api.restart()                             # a fresh store with lower resourceVersions

CLI::

    python -m bench.fakeapi --pods 10000 --services 1000 --namespaces 10 --kubeconfig out.yaml --churn 200
"""

from __future__ import annotations

import argparse
import base64
import bisect
import contextlib
import copy
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - orjson is a dependency; plain json keeps this usable without it

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "real-k8s-v1.36"
TOKEN = "fakeapi-token"
STAMP = "bench.slicescope.io/sent-ms"
PER_SLICE = 100  # endpoints per EndpointSlice (the controller's default maxEndpointsPerSlice)
MAX_ENDPOINTS = 1000  # addresses in a legacy Endpoints object before it is truncated
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
UNSCHEDULABLE = (
    "0/{nodes} nodes are available: {nodes} Too many pods. preemption: 0/{nodes} nodes are available: "
    "{nodes} No preemption victims found for incoming pod."
)

Obj = dict[str, Any]
Key = tuple[str, str]


def _fixture(name: str) -> Obj:
    return json.loads((FIXTURES / name).read_text())


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _uid(kind: int, i: int) -> str:
    return f"{kind:08x}-0000-4000-8000-{i:012x}"


def _suffix(i: int, n: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # the characters Kubernetes uses for generated names
    out = []
    for _ in range(n):
        i, r = divmod(i, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


# ---------------------------------------------------------------------------------------------------
# Kinds served


@dataclass(frozen=True)
class Kind:
    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ("get", "list", "watch")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


KINDS = {
    k.plural: k
    for k in (
        Kind("Pod", "", "v1", "pods", True, ("po",)),
        Kind("Service", "", "v1", "services", True, ("svc",)),
        Kind("Endpoints", "", "v1", "endpoints", True, ("ep",)),
        Kind("Node", "", "v1", "nodes", False, ("no",)),
        Kind("Namespace", "", "v1", "namespaces", False, ("ns",)),
        Kind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", True),
        Kind("Deployment", "apps", "v1", "deployments", True, ("deploy",)),
        Kind("ReplicaSet", "apps", "v1", "replicasets", True, ("rs",)),
    )
}
BY_KIND = {k.kind: k for k in KINDS.values()}


# ---------------------------------------------------------------------------------------------------
# The generated cluster


@dataclass
class PodState:
    """What varies between the cloned pods; the rest of each pod comes from the captured one."""

    namespace: str
    name: str
    index: int
    service: int  # index of the Service (and Deployment, ReplicaSet) it belongs to
    node: int | None  # None: Pending, unschedulable
    ip: str | None
    ready: bool
    rv: int
    stamp: int | None = None  # sent-ms annotation of the last flip


@dataclass
class Record:
    """Any other object: its rendered dict (no kind/apiVersion, as list items are) and version."""

    obj: Obj
    rv: int


@dataclass(frozen=True)
class Shape:
    pods: int = 1000
    services: int = 100
    namespaces: int = 1
    nodes: int = 0  # 0: one node per 100 pods (at least 3)
    pending: int = 0  # the last `pending` pods are Pending: the scheduler found no room for them
    seed: int = 1
    rv_start: int = 1000

    @property
    def node_count(self) -> int:
        return self.nodes or max(3, -(-self.pods // 100))


class Cluster:
    """The objects, their resourceVersions and the event history watches are served from.
    Thread-safe: every method takes the lock."""

    def __init__(self, shape: Shape, *, history: int = 20_000) -> None:
        self.shape = shape
        self.lock = threading.Condition(threading.RLock())
        self.history_max = history
        self.generation = 0  # bumped by restart(): open watches end as a dying server's would
        self.created = time.time() - 3600
        self._templates()
        self._build()

    # -- building --

    def _templates(self) -> None:
        pod = _fixture("list-pods.json")["items"][0]
        self.pod_meta_mf = pod["metadata"]["managedFields"]
        self.pod_spec = pod["spec"]
        status = pod["status"]
        self.status_base = {k: v for k, v in status.items() if k not in ("conditions", "containerStatuses")}
        created = _rfc3339(self.created)
        later = _rfc3339(self.created + 600)

        def conditions(ready: bool) -> list[Obj]:
            out = []
            for c in status["conditions"]:
                c = dict(c, lastTransitionTime=created)
                if c["type"] in ("Ready", "ContainersReady") and not ready:
                    c.update(status="False", reason="ContainersNotReady", lastTransitionTime=later)
                    c["message"] = "containers with unready status: [shipping]"
                out.append(c)
            return out

        cs = dict(status["containerStatuses"][0])
        cs["state"] = {"running": {"startedAt": created}}
        self.cond = {True: conditions(True), False: conditions(False)}
        self.cstatus = {True: [dict(cs, ready=True)], False: [dict(cs, ready=False)]}
        self.slice_mf = _fixture("list-endpointslices.json")["items"][0]["metadata"]["managedFields"]
        self.ep_mf = _fixture("list-endpoints.json")["items"][0]["metadata"]["managedFields"]
        self.svc_tpl = _fixture("list-services.json")["items"][-1]
        self.dep_tpl = _fixture("list-deployments.json")["items"][0]
        self.rs_tpl = _fixture("list-replicasets.json")["items"][0]

    def _build(self) -> None:
        s = self.shape
        self.rv = s.rv_start
        self.floor = self.rv  # watches from below this get 410 (the history is compacted)
        self.events: list[tuple[int, str, str, bytes]] = []  # (rv, plural, namespace, line)
        self.namespaces = [f"ns-{k:03d}" if s.namespaces > 1 else "default" for k in range(s.namespaces)]
        self.pods: dict[Key, PodState] = {}
        self.objects: dict[str, dict[Key, Record]] = {p: {} for p in KINDS if p != "pods"}
        self.order: dict[str, list[Key]] = {}
        self.by_service: list[list[PodState]] = [[] for _ in range(s.services)]
        self.slice_of: dict[Key, Key] = {}  # pod key -> the key of the slice listing it
        self.changes: list[Obj] = []  # the flips sent, for benches to match with what they see
        self.seq = 0
        self.rng = random.Random(s.seed)
        nodes = s.node_count
        schedulable = s.pods - s.pending
        for i in range(s.pods):
            svc = i % s.services if s.services else 0
            ns = self.namespaces[svc % len(self.namespaces)]
            app = f"app-{svc:05d}"
            name = f"{app}-{self._hash(svc)}-{_suffix(i)}"
            n = i + 257
            scheduled = i < schedulable
            pod = PodState(
                ns,
                name,
                i,
                svc,
                i % nodes if scheduled else None,
                f"10.{64 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}" if scheduled else None,
                scheduled,
                self._next_rv(),
            )
            self.pods[(ns, name)] = pod
            if s.services:
                self.by_service[svc].append(pod)
        for k in range(s.namespaces):
            self._put("namespaces", "", self.namespaces[k], self._namespace(self.namespaces[k]))
        for k in range(nodes):
            self._put("nodes", "", f"node-{k}", self._node(k))
        for j in range(s.services):
            ns = self.namespaces[j % len(self.namespaces)]
            app = f"app-{j:05d}"
            self._put("services", ns, app, self._service(j, ns))
            self._put("deployments", ns, app, self._deployment(j, ns))
            self._put("replicasets", ns, f"{app}-{self._hash(j)}", self._replicaset(j, ns))
            self._put("endpoints", ns, app, self._endpoints(j, ns))
            for c, chunk in enumerate(self._chunks(j)):
                name = f"{app}-{_suffix(j * 7 + c)}"
                self._put("endpointslices", ns, name, self._slice(j, ns, name, chunk))
                for p in chunk:
                    self.slice_of[(p.namespace, p.name)] = (ns, name)
        self.order["pods"] = sorted(self.pods)
        for plural, table in self.objects.items():
            self.order[plural] = sorted(table)
        self.floor = self.rv

    def _next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def _hash(self, j: int) -> str:
        return f"{(j * 2654435761 + self.shape.seed) & 0xFFFFFFFFFF:010x}"[:10]

    def _chunks(self, j: int) -> list[list[PodState]]:
        pods = [p for p in self.by_service[j] if p.ip]
        return [pods[i : i + PER_SLICE] for i in range(0, len(pods), PER_SLICE)]

    def _put(self, plural: str, ns: str, name: str, obj: Obj) -> Record:
        rv = self._next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        rec = Record(obj, rv)
        self.objects[plural][(ns, name)] = rec
        return rec

    def _meta(self, name: str, ns: str | None, uid: str, **extra: Any) -> Obj:
        meta: Obj = {"name": name}
        if ns is not None:
            meta["namespace"] = ns
        meta.update(uid=uid, resourceVersion="", creationTimestamp=_rfc3339(self.created), **extra)
        return meta

    def _namespace(self, ns: str) -> Obj:
        return {
            "metadata": self._meta(
                ns, None, _uid(9, self.namespaces.index(ns)), labels={"kubernetes.io/metadata.name": ns}
            ),
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    def _node(self, k: int) -> Obj:
        zone = f"zone-{'abc'[k % 3]}"
        labels = {"kubernetes.io/hostname": f"node-{k}", "topology.kubernetes.io/zone": zone}
        return {
            "metadata": self._meta(f"node-{k}", None, _uid(1, k), labels=labels),
            "spec": {"podCIDR": f"10.{64 + (k >> 8)}.{k & 255}.0/24"},
            "status": {
                "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": _rfc3339(self.created),
                        "lastTransitionTime": _rfc3339(self.created),
                    }
                ],
                "addresses": [
                    {"type": "InternalIP", "address": f"10.0.{k >> 8}.{k & 255}"},
                    {"type": "Hostname", "address": f"node-{k}"},
                ],
            },
        }

    def _service(self, j: int, ns: str) -> Obj:
        tpl = self.svc_tpl
        app = f"app-{j:05d}"
        ip = f"10.96.{(j >> 8) & 255}.{j & 255}"
        spec = dict(tpl["spec"], selector={"app": app}, clusterIP=ip, clusterIPs=[ip])
        meta = self._meta(app, ns, _uid(2, j), managedFields=tpl["metadata"]["managedFields"])
        return {"metadata": meta, "spec": spec, "status": tpl["status"]}

    def _deployment(self, j: int, ns: str) -> Obj:
        tpl = self.dep_tpl
        app = f"app-{j:05d}"
        n = len(self.by_service[j])
        ready = sum(1 for p in self.by_service[j] if p.ready)
        spec = copy.deepcopy(tpl["spec"])
        spec["replicas"] = n
        spec["selector"] = {"matchLabels": {"app": app}}
        spec["template"]["metadata"]["labels"] = {"app": app}
        status = dict(
            tpl["status"], replicas=n, updatedReplicas=n, readyReplicas=ready, availableReplicas=ready
        )
        meta = self._meta(app, ns, _uid(3, j), generation=1, labels={"app": app})
        meta["managedFields"] = tpl["metadata"].get("managedFields", [])
        return {"metadata": meta, "spec": spec, "status": status}

    def _replicaset(self, j: int, ns: str) -> Obj:
        tpl = self.rs_tpl
        app = f"app-{j:05d}"
        h = self._hash(j)
        n = len(self.by_service[j])
        ready = sum(1 for p in self.by_service[j] if p.ready)
        spec = copy.deepcopy(tpl["spec"])
        spec["replicas"] = n
        spec["selector"] = {"matchLabels": {"app": app, "pod-template-hash": h}}
        spec["template"]["metadata"]["labels"] = {"app": app, "pod-template-hash": h}
        owner = [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": app,
                "uid": _uid(3, j),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        meta = self._meta(
            f"{app}-{h}", ns, _uid(4, j), labels={"app": app, "pod-template-hash": h}, ownerReferences=owner
        )
        status = {
            "replicas": n,
            "fullyLabeledReplicas": n,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        return {"metadata": meta, "spec": spec, "status": status}

    def _slice_endpoint(self, p: PodState) -> Obj:
        node = p.node or 0
        return {
            "addresses": [p.ip],
            "conditions": {"ready": p.ready, "serving": p.ready, "terminating": False},
            "targetRef": {"kind": "Pod", "namespace": p.namespace, "name": p.name, "uid": _uid(5, p.index)},
            "nodeName": f"node-{node}",
            "zone": f"zone-{'abc'[node % 3]}",
        }

    def _slice(self, j: int, ns: str, name: str, pods: list[PodState]) -> Obj:
        app = f"app-{j:05d}"
        labels = {
            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            "kubernetes.io/service-name": app,
        }
        owner = [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "name": app,
                "uid": _uid(2, j),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        meta = self._meta(
            name,
            ns,
            _uid(6, sum(map(ord, name)) * 1_000_003 + j),
            generateName=f"{app}-",
            generation=1,
            labels=labels,
            annotations={"endpoints.kubernetes.io/last-change-trigger-time": _rfc3339(time.time())},
            ownerReferences=owner,
            managedFields=self.slice_mf,
        )
        return {
            "metadata": meta,
            "addressType": "IPv4",
            "endpoints": [self._slice_endpoint(p) for p in pods],
            "ports": [{"name": "", "protocol": "TCP", "port": 8080}],
        }

    def _endpoints(self, j: int, ns: str) -> Obj:
        app = f"app-{j:05d}"
        pods = [p for p in self.by_service[j] if p.ip]
        ready = [p for p in pods if p.ready]
        not_ready = [p for p in pods if not p.ready]
        annotations = {"endpoints.kubernetes.io/last-change-trigger-time": _rfc3339(time.time())}
        if len(pods) > MAX_ENDPOINTS:
            annotations[OVER_CAPACITY] = "truncated"
            ready = ready[:MAX_ENDPOINTS]
            not_ready = not_ready[: MAX_ENDPOINTS - len(ready)]

        def addr(p: PodState) -> Obj:
            return {
                "ip": p.ip,
                "nodeName": f"node-{p.node}",
                "targetRef": {
                    "kind": "Pod",
                    "namespace": p.namespace,
                    "name": p.name,
                    "uid": _uid(5, p.index),
                },
            }

        subset: Obj = {}
        if ready:
            subset["addresses"] = [addr(p) for p in ready]
        if not_ready:
            subset["notReadyAddresses"] = [addr(p) for p in not_ready]
        subset["ports"] = [{"port": 8080, "protocol": "TCP"}]
        meta = self._meta(
            app,
            ns,
            _uid(7, j),
            labels={"endpoints.kubernetes.io/managed-by": "endpoint-controller"},
            annotations=annotations,
            managedFields=self.ep_mf,
        )
        out: Obj = {"metadata": meta}
        if pods:
            out["subsets"] = [subset]
        return out

    def pod_obj(self, p: PodState) -> Obj:
        """The pod as the API serves it (a fresh dict sharing the unchanged parts of the template)."""
        j = p.service
        app = f"app-{j:05d}"
        h = self._hash(j)
        meta: Obj = {
            "name": p.name,
            "generateName": f"{app}-{h}-",
            "namespace": p.namespace,
            "uid": _uid(5, p.index),
            "resourceVersion": str(p.rv),
            "generation": 1,
            "creationTimestamp": _rfc3339(self.created),
            "labels": {"app": app, "pod-template-hash": h},
        }
        if p.stamp is not None:
            meta["annotations"] = {STAMP: str(p.stamp)}
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": f"{app}-{h}",
                "uid": _uid(4, j),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        meta["managedFields"] = self.pod_meta_mf
        spec = dict(self.pod_spec)
        if p.node is None:
            del spec["nodeName"]
            msg = UNSCHEDULABLE.format(nodes=self.shape.node_count)
            status: Obj = {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "lastProbeTime": None,
                        "lastTransitionTime": _rfc3339(self.created),
                        "reason": "Unschedulable",
                        "message": msg,
                    }
                ],
                "qosClass": "BestEffort",
            }
            return {"metadata": meta, "spec": spec, "status": status}
        spec["nodeName"] = f"node-{p.node}"
        host = f"10.0.{p.node >> 8}.{p.node & 255}"
        status = dict(self.status_base)
        status.update(
            conditions=self.cond[p.ready],
            hostIP=host,
            hostIPs=[{"ip": host}],
            podIP=p.ip,
            podIPs=[{"ip": p.ip}],
            containerStatuses=self.cstatus[p.ready],
        )
        return {"metadata": meta, "spec": spec, "status": status}

    # -- reading --

    def obj(self, plural: str, key: Key) -> Obj | None:
        if plural == "pods":
            p = self.pods.get(key)
            return self.pod_obj(p) if p is not None else None
        rec = self.objects[plural].get(key)
        return rec.obj if rec is not None else None

    def keys(self, plural: str, ns: str | None, after: Key | None) -> list[Key]:
        """Keys of a kind in order (namespace, name), in one namespace or all, after `after`."""
        order = self.order[plural]
        lo = 0
        hi = len(order)
        if ns is not None:
            lo = bisect.bisect_left(order, (ns, ""))
            hi = bisect.bisect_left(order, (ns + "\x00", ""))
        if after is not None:
            lo = max(lo, bisect.bisect_right(order, after))
        return order[lo:hi]

    # -- changing --

    def _event(self, type_: str, plural: str, ns: str, obj: Obj) -> None:
        kind = KINDS[plural]
        full = {"kind": kind.kind, "apiVersion": kind.api_version, **obj}
        line = b'{"type":"' + type_.encode() + b'","object":' + _dumps(full) + b"}\n"
        self.events.append((self.rv, plural, ns, line))
        if len(self.events) > self.history_max * 1.25:
            cut = len(self.events) - self.history_max
            self.floor = self.events[cut - 1][0]
            del self.events[:cut]

    def flip(self, key: Key | None = None, *, stamp: bool = True, endpoints: bool = True) -> Obj:
        """Flip one pod's readiness (a random running one unless `key`): pod MODIFIED, then its
        EndpointSlice and its Endpoints, as the kubelet and the two controllers would."""
        with self.lock:
            if key is None:
                while True:
                    p = self.pods[self.order["pods"][self.rng.randrange(len(self.order["pods"]))]]
                    if p.ip:
                        break
            else:
                p = self.pods[key]
                if not p.ip:
                    raise ValueError(f"pod {key[0]}/{key[1]} is Pending: it has no readiness to flip")
            sent = int(time.time() * 1000)
            p.ready = not p.ready
            p.stamp = sent if stamp else p.stamp
            p.rv = self._next_rv()
            self._event("MODIFIED", "pods", p.namespace, self.pod_obj(p))
            app = f"app-{p.service:05d}"
            if endpoints:
                skey = self.slice_of.get((p.namespace, p.name))
                if skey is not None:
                    rec = self.objects["endpointslices"][skey]
                    obj = dict(rec.obj)
                    eps = list(obj["endpoints"])
                    for i, ep in enumerate(eps):
                        if ep["targetRef"]["name"] == p.name:
                            eps[i] = self._slice_endpoint(p)
                    obj["endpoints"] = eps
                    obj["metadata"] = dict(obj["metadata"], generation=obj["metadata"]["generation"] + 1)
                    self._replace("endpointslices", skey, obj)
                self._replace("endpoints", (p.namespace, app), self._endpoints(p.service, p.namespace))
            self.seq += 1
            change = {
                "seq": self.seq,
                "sentMs": sent,
                "namespace": p.namespace,
                "pod": p.name,
                "ip": p.ip,
                "service": app,
                "ready": p.ready,
                "resourceVersion": str(p.rv),
            }
            self.changes.append(change)
            if len(self.changes) > 100_000:
                del self.changes[:50_000]
            self.lock.notify_all()
            return change

    def _replace(self, plural: str, key: Key, obj: Obj) -> None:
        obj["metadata"] = dict(obj["metadata"], resourceVersion=str(self._next_rv()))
        self.objects[plural][key] = Record(obj, self.rv)
        self._event("MODIFIED", plural, key[0], obj)

    def burst(self, n: int, *, endpoints: bool = False) -> int:
        """n readiness flips as fast as they can be made (pod events only unless `endpoints`);
        the history grows to hold them all so a watch that started before misses none."""
        with self.lock:
            self.history_max = max(self.history_max, n * (3 if endpoints else 1) + 1000)
            for _ in range(n):
                self.flip(stamp=False, endpoints=endpoints)
            return self.rv

    def restart(self, rv_start: int | None = None, seed: int | None = None) -> None:
        """A restarted API server with a fresh store: resourceVersions start again from `rv_start`
        (lower than before), other pod names (a new seed), and every open watch is dropped."""
        with self.lock:
            shape = self.shape
            self.shape = Shape(
                shape.pods,
                shape.services,
                shape.namespaces,
                shape.nodes,
                shape.pending,
                seed if seed is not None else shape.seed + 1,
                rv_start if rv_start is not None else max(1, shape.rv_start // 2),
            )
            self.generation += 1
            self._build()
            self.lock.notify_all()

    def stats(self) -> Obj:
        with self.lock:
            counts = {p: len(t) for p, t in self.objects.items()}
            counts["pods"] = len(self.pods)
            return {
                "resourceVersion": str(self.rv),
                "objects": counts,
                "changes": self.seq,
                "floor": self.floor,
            }


# ---------------------------------------------------------------------------------------------------
# HTTP


def status_obj(code: int, reason: str, message: str, **extra: Any) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
        **extra,
    }


def discovery(path: str, host: str) -> Obj | None:
    if path == "/version":
        return {"major": "1", "minor": "36", "gitVersion": "v1.36.2-fakeapi", "platform": "linux/amd64"}
    if path == "/api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
        }
    groups = sorted({k.group for k in KINDS.values() if k.group})
    if path == "/apis":
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
                }
                for g in groups
            ],
        }
    for k in KINDS.values():
        if path == k.prefix:
            resources = [
                {
                    "name": o.plural,
                    "singularName": o.kind.lower(),
                    "namespaced": o.namespaced,
                    "kind": o.kind,
                    "verbs": list(o.verbs),
                    **({"shortNames": list(o.short_names)} if o.short_names else {}),
                }
                for o in KINDS.values()
                if o.prefix == path
            ]
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": k.api_version,
                "resources": resources,
            }
    return None


def route(path: str) -> tuple[str, str | None] | None:
    """(plural, namespace or None) for a collection path this API serves."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        rest = parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        rest = parts[3:]
        group = parts[1]
    else:
        return None
    ns = None
    if len(rest) == 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if len(rest) != 1 or rest[0] not in KINDS:
        return None
    kind = KINDS[rest[0]]
    if (parts[0] == "apis" and kind.group != group) or (parts[0] == "api" and kind.group):
        return None
    if ns is not None and not kind.namespaced:
        return None
    return rest[0], ns


def _continue_token(rv: int, key: Key) -> str:
    raw = json.dumps({"rv": rv, "start": list(key)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _parse_continue(token: str) -> tuple[int, Key]:
    data = json.loads(base64.urlsafe_b64decode(token.encode()))
    return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: benches print their own lines
        pass

    # -- plumbing --

    def _send(self, code: int, body: Obj, headers: dict[str, str] | None = None) -> None:
        data = _dumps(body)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _start_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _authorized(self, token_in_path: bool = False) -> bool:
        fail = self.server.take_failure()
        if fail is not None:
            reason = {401: "Unauthorized", 403: "Forbidden"}.get(fail, "InternalError")
            self._send(fail, status_obj(fail, reason, f"{reason} (injected by the fake API)"))
            return False
        token = self.server.token
        scheme, _, given = self.headers.get("Authorization", "").partition(" ")
        if token and not token_in_path and (scheme.lower() != "bearer" or given != token):
            self._send(401, status_obj(401, "Unauthorized", "Unauthorized"))
            return False
        return True

    # -- routes --

    def do_GET(self) -> None:
        self.server.requests += 1
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        path = url.path.rstrip("/") or "/"
        token = self.server.token
        in_path = bool(token) and path.startswith(f"/t/{token}/")
        if in_path:
            # kubectl sends no credentials to an http:// server: its kubeconfig puts the token here
            path = path[len(token) + 3 :] or "/"
        if path.startswith("/_fake/"):
            self._control(path, query)
            return
        if not self._authorized(in_path):
            return
        disc = discovery(path, f"{self.server.server_address[0]}:{self.server.server_address[1]}")
        if disc is not None:
            self._send(200, disc)
            return
        target = route(path)
        if target is None:
            self._send(
                404, status_obj(404, "NotFound", f"the server could not find the requested resource ({path})")
            )
            return
        plural, ns = target
        if query.get("watch") in ("true", "1"):
            self._watch(plural, ns, query)
        else:
            self._list(plural, ns, query)

    def do_POST(self) -> None:
        self.server.requests += 1
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        if url.path.startswith("/_fake/"):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self._control(url.path, query)
            return
        self._send(405, status_obj(405, "MethodNotAllowed", "the fake API is read-only"))

    do_PATCH = do_PUT = do_DELETE = do_POST

    def _list(self, plural: str, ns: str | None, query: dict[str, str]) -> None:
        cluster = self.server.cluster
        kind = KINDS[plural]
        limit = int(query.get("limit") or 0)
        after: Key | None = None
        with cluster.lock:
            rv = cluster.rv
            if query.get("continue"):
                try:
                    rv, after = _parse_continue(query["continue"])
                except (ValueError, KeyError, IndexError, TypeError):
                    self._send(400, status_obj(400, "BadRequest", "invalid continue token"))
                    return
                if rv < cluster.floor:
                    msg = (
                        "The provided continue parameter is too old to display a consistent list result. "
                        "You can start a new list without the continue parameter."
                    )
                    self._send(410, status_obj(410, "Expired", msg))
                    return
            keys = cluster.keys(plural, ns, after)
            more = limit > 0 and len(keys) > limit
            if more:
                keys = keys[:limit]
            objs = [cluster.obj(plural, k) for k in keys]
            meta: Obj = {"resourceVersion": str(rv)}
            if more:
                meta["continue"] = _continue_token(rv, keys[-1])
                meta["remainingItemCount"] = len(cluster.keys(plural, ns, keys[-1]))
            head = _dumps({"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": meta})
        # Rendered outside the lock, in chunks, so a 100,000-pod list is never one 500 MB string.
        self._start_chunked()
        self._chunk(head[:-1] + b',"items":[')
        for i in range(0, len(objs), 500):
            part = b",".join(_dumps(o) for o in objs[i : i + 500] if o is not None)
            self._chunk(part if i == 0 else b"," + part)
        self._chunk(b"]}")
        self._end_chunked()

    def _watch(self, plural: str, ns: str | None, query: dict[str, str]) -> None:
        cluster = self.server.cluster
        kind = KINDS[plural]
        timeout = float(query.get("timeoutSeconds") or 1800)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        raw_rv = query.get("resourceVersion") or ""
        deadline = time.monotonic() + timeout
        with cluster.lock:
            generation = cluster.generation
            start = int(raw_rv) if raw_rv.isdigit() else 0
            if start > cluster.rv:
                if self.server.too_large == "error":
                    msg = f"Too large resource version: {start}, current: {cluster.rv}"
                    cause = {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                    details = {"causes": [cause], "retryAfterSeconds": 1}
                    self._send(504, status_obj(504, "Timeout", msg, details=details))
                    return
                start = cluster.rv  # a server that does not check: events from now on, lower than asked
            initial: list[bytes] = []
            if start == 0:
                for key in cluster.keys(plural, ns, None):
                    obj = cluster.obj(plural, key)
                    full = {"kind": kind.kind, "apiVersion": kind.api_version, **(obj or {})}
                    initial.append(b'{"type":"ADDED","object":' + _dumps(full) + b"}\n")
                start = cluster.rv
            expired = start < cluster.floor
        self._start_chunked()
        self.server.watches += 1
        try:
            if expired:
                status = status_obj(410, "Expired", f"too old resource version: {start} ({cluster.floor})")
                self._chunk(b'{"type":"ERROR","object":' + _dumps(status) + b"}\n")
                self._end_chunked()
                return
            if initial:
                self._chunk(b"".join(initial))
            cursor = start
            last_sent = time.monotonic()
            while True:
                out: list[bytes] = []
                with cluster.lock:
                    while True:
                        if self.server.closing or cluster.generation != generation:
                            # A server going away: the connection drops without a last chunk.
                            self.close_connection = True
                            return
                        events = cluster.events
                        i = bisect.bisect_right(events, cursor, key=lambda e: e[0])
                        for _, p, n, line in events[i:]:
                            if p == plural and (ns is None or n == ns):
                                out.append(line)
                        if i < len(events):
                            cursor = events[-1][0]
                        now = time.monotonic()
                        if out or now >= deadline:
                            break
                        if bookmarks and now - last_sent >= self.server.bookmark_interval:
                            cursor = max(cursor, cluster.rv)
                            mark = {
                                "kind": kind.kind,
                                "apiVersion": kind.api_version,
                                "metadata": {"resourceVersion": str(cursor)},
                            }
                            out.append(b'{"type":"BOOKMARK","object":' + _dumps(mark) + b"}\n")
                            break
                        wait = min(deadline - now, 0.5)
                        if bookmarks:
                            wait = min(wait, max(0.01, self.server.bookmark_interval - (now - last_sent)))
                        cluster.lock.wait(wait)
                if out:
                    self._chunk(b"".join(out))
                    self.wfile.flush()
                    last_sent = time.monotonic()
                if time.monotonic() >= deadline:
                    self._end_chunked()
                    return
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            self.server.watches -= 1

    def _control(self, path: str, query: dict[str, str]) -> None:
        """The bench's handles: /_fake/flip, churn, changes, burst, restart, fail, stats."""
        cluster = self.server.cluster
        try:
            if path == "/_fake/flip":
                key = tuple(query["pod"].split("/", 1)) if query.get("pod") else None
                self._send(200, cluster.flip(key))  # type: ignore[arg-type]
            elif path == "/_fake/churn":
                self.server.set_churn(float(query.get("rate") or 0), query.get("endpoints", "true") == "true")
                self._send(200, {"rate": self.server.churn_rate})
            elif path == "/_fake/changes":
                since = int(query.get("since") or 0)
                with cluster.lock:
                    out = [c for c in cluster.changes if c["seq"] > since]
                self._send(200, {"changes": out})
            elif path == "/_fake/burst":
                n = int(query.get("n") or 1000)
                rv = cluster.burst(n, endpoints=query.get("endpoints") == "true")
                self._send(200, {"events": n, "resourceVersion": str(rv)})
            elif path == "/_fake/restart":
                rv = int(query["rv"]) if query.get("rv") else None
                cluster.restart(rv)
                self._send(200, cluster.stats())
            elif path == "/_fake/fail":
                self.server.fail(int(query.get("status") or 401), int(query.get("count") or 1))
                self._send(200, {"ok": True})
            elif path == "/_fake/stats":
                stats = cluster.stats()
                stats.update(requests=self.server.requests, watches=self.server.watches)
                self._send(200, stats)
            else:
                self._send(404, {"error": f"no control {path}"})
        except (KeyError, ValueError) as e:
            self._send(400, {"error": str(e)})


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        cluster: Cluster,
        *,
        token: str = TOKEN,
        bookmark_interval: float = 60.0,
        too_large: str = "error",
        port: int = 0,
    ) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.cluster = cluster
        self.token = token
        self.bookmark_interval = bookmark_interval
        self.too_large = too_large  # "error": 504 as a real API server; "accept": stream from it anyway
        self.closing = False
        self.requests = 0
        self.watches = 0
        self.churn_rate = 0.0
        self._failures: list[int] = []
        self._churn: threading.Thread | None = None
        self._churn_stop = threading.Event()
        self._fail_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def fail(self, status: int, count: int) -> None:
        with self._fail_lock:
            self._failures.extend([status] * count)

    def take_failure(self) -> int | None:
        with self._fail_lock:
            return self._failures.pop(0) if self._failures else None

    def set_churn(self, rate: float, endpoints: bool = True) -> None:
        """Flip pods' readiness at `rate` a second (0 stops), paced from a fixed start so the rate
        holds on average even when a flip is late."""
        if self._churn is not None:
            self._churn_stop.set()
            self._churn.join()
            self._churn = None
        self.churn_rate = rate
        if rate <= 0:
            return
        self._churn_stop = threading.Event()
        stop = self._churn_stop

        def run() -> None:
            start = time.monotonic()
            done = 0
            while not stop.is_set():
                due = int((time.monotonic() - start) * rate) + 1
                n = min(due - done, 1000)  # at most a burst of 1000 when far behind
                for _ in range(n):
                    self.cluster.flip(endpoints=endpoints)
                done += max(n, 0)
                stop.wait(max(0.0, start + done / rate - time.monotonic()))

        self._churn = threading.Thread(target=run, name="fakeapi-churn", daemon=True)
        self._churn.start()

    def stop(self) -> None:
        self.set_churn(0)
        self.closing = True
        with self.cluster.lock:
            self.cluster.lock.notify_all()
        self.shutdown()
        self.server_close()


# ---------------------------------------------------------------------------------------------------
# Handles


def kubeconfig_text(url: str, token: str = TOKEN, name: str = "fakeapi", *, kubectl: bool = False) -> str:
    """`kubectl=True`: the token also goes into the server URL (kubectl sends no credentials over
    plain http); otherwise only as the user's bearer token, which the Python client sends."""
    if kubectl:
        url = f"{url}/t/{token}"
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: {name}\n  cluster:\n    server: {url}\n"
        f"users:\n- name: {name}\n  user:\n    token: {token}\n"
        f"contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n"
        "    namespace: default\n"
        f"current-context: {name}\n"
    )


@dataclass
class FakeApi:
    """A running fake API: its base URL and token, and the controls (over HTTP, so they work the same
    whether the server runs in this process or in its own)."""

    url: str
    token: str = TOKEN
    server: FakeServer | None = None  # when it runs in this process
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def _call(self, path: str, **query: Any) -> Obj:
        qs = "&".join(f"{k}={v}" for k, v in query.items() if v is not None)
        req = urllib.request.Request(
            f"{self.url}/_fake/{path}{'?' + qs if qs else ''}", method="POST", data=b""
        )
        with urllib.request.urlopen(req, timeout=600) as resp:
            return json.loads(resp.read())

    def write_kubeconfig(self, path: str | Path, name: str = "fakeapi", *, kubectl: bool = False) -> Path:
        """A kubeconfig for `slicescope --kubeconfig PATH` (plain http on loopback, bearer token);
        `kubectl=True` for one kubectl can use too."""
        path = Path(path)
        path.write_text(kubeconfig_text(self.url, self.token, name, kubectl=kubectl))
        return path

    def flip(self, pod: str | None = None) -> Obj:
        """Flip one pod's readiness now ("namespace/name", or a random running pod)."""
        return self._call("flip", pod=pod)

    def churn(self, rate: float, *, endpoints: bool = True) -> None:
        """Flip `rate` pods a second until churn(0); `endpoints=False` leaves slices alone."""
        self._call("churn", rate=rate, endpoints="true" if endpoints else "false")

    def changes(self, since: int = 0) -> list[Obj]:
        """The flips made after `since` (their seq), each with its sentMs stamp, pod, IP and state."""
        return self._call("changes", since=since)["changes"]

    def burst(self, n: int, *, endpoints: bool = False) -> str:
        """n pod MODIFIED events at once; returns the resourceVersion of the last."""
        return self._call("burst", n=n, endpoints="true" if endpoints else "false")["resourceVersion"]

    def restart(self, rv: int | None = None) -> Obj:
        """A restarted API server: fresh store, lower resourceVersions, other pods; watches dropped."""
        return self._call("restart", rv=rv)

    def fail(self, status: int = 401, count: int = 1) -> None:
        """Answer the next `count` API requests with this HTTP status."""
        self._call("fail", status=status, count=count)

    def stats(self) -> Obj:
        return self._call("stats")


def serve(shape: Shape, **server_args: Any) -> FakeServer:
    """Build the cluster and start serving it in a daemon thread of this process."""
    history = server_args.pop("history", 20_000)
    server = FakeServer(Cluster(shape, history=history), **server_args)
    threading.Thread(target=server.serve_forever, name="fakeapi", daemon=True).start()
    return server


@contextlib.contextmanager
def fake_api(
    pods: int = 1000,
    services: int = 100,
    namespaces: int = 1,
    *,
    nodes: int = 0,
    pending: int = 0,
    seed: int = 1,
    process: bool = False,
    token: str = TOKEN,
    bookmark_interval: float = 60.0,
    too_large: str = "error",
    history: int = 20_000,
    churn: float = 0.0,
    startup_timeout: float = 600.0,
) -> Iterator[FakeApi]:
    """A fake API for the duration of the block. `process=True` runs it in a process of its own
    (benches: its CPU is not the measured process's); otherwise in a thread here (tests)."""
    if not process:
        server = serve(
            Shape(pods, services, namespaces, nodes, pending, seed),
            token=token,
            bookmark_interval=bookmark_interval,
            too_large=too_large,
            history=history,
        )
        api = FakeApi(server.url, token, server=server)
        try:
            if churn:
                api.churn(churn)
            yield api
        finally:
            server.stop()
        return
    args = [
        sys.executable, "-m", "bench.fakeapi",
        f"--pods={pods}", f"--services={services}", f"--namespaces={namespaces}",
        f"--nodes={nodes}", f"--pending={pending}", f"--seed={seed}", f"--token={token}",
        f"--bookmark-interval={bookmark_interval}", f"--too-large={too_large}", f"--history={history}",
        f"--churn={churn}",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, cwd=ROOT, env=env)
    try:
        assert proc.stdout is not None
        line = _read_line(proc, startup_timeout)
        if not line.startswith("serving "):
            raise RuntimeError(f"the fake API did not start: {line!r}")
        yield FakeApi(line.split()[1], token, process=proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    out: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        out.append(proc.stdout.readline().decode().strip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return out[0] if out else ""


def wait_ready(url: str, token: str = TOKEN, timeout: float = 30.0) -> None:
    """Wait until the API answers /version."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            req = urllib.request.Request(f"{url}/version", headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, timeout=5):
                return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def main(argv: list[str] | None = None, on_ready: Callable[[FakeServer], None] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a generated real-cluster-shaped Kubernetes API.")
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--namespaces", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=0, help="0: one per 100 pods (at least 3)")
    parser.add_argument("--pending", type=int, default=0, help="pods left Pending (no room on the nodes)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=TOKEN)
    parser.add_argument("--kubeconfig", help="write a kubeconfig for this API to this file")
    parser.add_argument(
        "--kubectl", action="store_true", help="put the token in the kubeconfig's server URL, for kubectl"
    )
    parser.add_argument("--churn", type=float, default=0.0, help="readiness flips a second")
    parser.add_argument("--bookmark-interval", type=float, default=60.0)
    parser.add_argument("--too-large", choices=("error", "accept"), default="error")
    parser.add_argument("--history", type=int, default=20_000, help="watch events kept for resuming")
    args = parser.parse_args(argv)
    shape = Shape(args.pods, args.services, args.namespaces, args.nodes, args.pending, args.seed)
    server = serve(
        shape,
        token=args.token,
        bookmark_interval=args.bookmark_interval,
        too_large=args.too_large,
        history=args.history,
        port=args.port,
    )
    if args.kubeconfig:
        Path(args.kubeconfig).write_text(kubeconfig_text(server.url, args.token, kubectl=args.kubectl))
    if args.churn:
        server.set_churn(args.churn)
    print(f"serving {server.url} ({args.pods} pods, {args.services} services)", flush=True)
    if on_ready is not None:
        on_ready(server)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
