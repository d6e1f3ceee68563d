"""API-server defaulting and minimal validation for the simulated cluster, as pure functions plus
one store admission hook (`install`) that applies them and allocates Service cluster IPs."""

from __future__ import annotations

import copy
import ipaddress
import json
import random
from collections.abc import Callable
from typing import Any, Protocol

from app.sim.controllers.common import selector_matches
from app.sim.errors import invalid
from app.sim.store import ObjectStore, StoreEvent

Obj = dict[str, Any]

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
KUBERNETES_SERVICE_IP = "10.96.0.1"
NODE_PORT_RANGE = (30000, 32767)
_PROBES = ("readinessProbe", "livenessProbe", "startupProbe")
_DEFAULT_TOLERATIONS = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]


class IPAllocator(Protocol):
    def allocate(self) -> str: ...
    def reserve(self, ip: str) -> bool: ...  # False when in use or outside the range
    def allocate_node_port(self) -> int: ...


# ---- pods and pod templates ---------------------------------------------------------------
def image_pull_policy(image: str) -> str:
    """Always for `:latest` or an untagged image, IfNotPresent otherwise (as the API server does)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


# The defaulting functions return their input itself when it is already defaulted, so pods made
# from one template, and the versions of one pod, share their (frozen) sub-objects.
def _same(old: Any, new: Any) -> Any:
    return old if new == old else new


def default_probe(probe: Obj) -> Obj:
    out = dict(probe)
    if isinstance(out.get("httpGet"), dict):
        out["httpGet"] = _same(out["httpGet"], {"scheme": "HTTP", **out["httpGet"]})
    out.setdefault("timeoutSeconds", 1)
    out.setdefault("periodSeconds", 10)
    out.setdefault("successThreshold", 1)
    out.setdefault("failureThreshold", 3)
    return _same(probe, out)


def default_container(container: Obj) -> Obj:
    c = dict(container)
    if c.get("ports"):
        c["ports"] = _same(
            c["ports"], [_same(p, {**p, "protocol": p.get("protocol") or "TCP"}) for p in c["ports"]]
        )
    c.setdefault("resources", {})
    for name in _PROBES:
        if isinstance(c.get(name), dict):
            c[name] = default_probe(c[name])
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", image_pull_policy(str(c.get("image") or "")))
    return _same(container, c)


def default_pod_spec(spec: Obj) -> Obj:
    """Defaults shared by pods and pod templates (Deployment, ReplicaSet)."""
    s = dict(spec)
    containers = s.get("containers") or []
    s["containers"] = _same(containers, [default_container(c) for c in containers])
    if s.get("initContainers"):
        s["initContainers"] = _same(s["initContainers"], [default_container(c) for c in s["initContainers"]])
    s.setdefault("restartPolicy", "Always")
    s.setdefault("terminationGracePeriodSeconds", 30)
    s.setdefault("dnsPolicy", "ClusterFirst")
    s.setdefault("securityContext", {})
    s.setdefault("schedulerName", "default-scheduler")
    return _same(spec, s)


def default_pod(pod: Obj, *, volume_suffix: str = "abcde", create: bool = True) -> Obj:
    """A pod as the API server stores it on create: template defaults plus what the admission
    plugins add (service account and its token volume, default tolerations, priority) and a
    fresh `status: {phase: Pending}`. On update only the field defaults apply."""
    p = dict(pod)  # copy-on-write: every nested dict changed below is a new one
    spec = default_pod_spec(p.get("spec") or {})
    if create:
        spec = dict(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        if spec.get("automountServiceAccountToken", True) and not any(
            v.get("name", "").startswith("kube-api-access-") for v in spec.get("volumes") or []
        ):
            vol = f"kube-api-access-{volume_suffix}"
            spec["volumes"] = [*(spec.get("volumes") or []), {"name": vol, "projected": _TOKEN_PROJECTION}]
            mount = {"name": vol, "readOnly": True, "mountPath": _TOKEN_MOUNT_PATH}
            spec["containers"] = [
                {**c, "volumeMounts": [*(c.get("volumeMounts") or []), mount]} for c in spec["containers"]
            ]
        tolerations = spec.get("tolerations") or []
        missing = [t for t in _DEFAULT_TOLERATIONS if not any(x.get("key") == t["key"] for x in tolerations)]
        spec["tolerations"] = [*tolerations, *missing] if tolerations else _DEFAULT_TOLERATIONS
        spec.setdefault("priority", 0)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        p["status"] = {"phase": "Pending"}
    p["spec"] = spec
    return p


_TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
# The projected service-account token volume's sources, the same for every pod (shared, frozen).
_TOKEN_PROJECTION: Obj = {
    "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {
            "downwardAPI": {
                "items": [
                    {
                        "path": "namespace",
                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                    }
                ]
            }
        },
    ],
    "defaultMode": 420,
}


def validate_pod(pod: Obj) -> None:
    name = pod["metadata"].get("name", "")
    containers = (pod.get("spec") or {}).get("containers") or []
    if not containers:
        raise invalid("Pod", name, [("spec.containers", "Required value")])
    for i, c in enumerate(containers):
        if not c.get("name"):
            raise invalid("Pod", name, [(f"spec.containers[{i}].name", "Required value")])
        if not c.get("image"):
            raise invalid("Pod", name, [(f"spec.containers[{i}].image", "Required value")])


# ---- workloads ----------------------------------------------------------------------------
def _default_template(template: Obj | None) -> Obj:
    t = dict(template or {})
    t["metadata"] = dict(t.get("metadata") or {})
    t["spec"] = default_pod_spec(t.get("spec") or {})
    return t


def default_deployment(deploy: Obj, *, create: bool = True) -> Obj:
    d = dict(deploy)  # copy-on-write, as in default_pod
    spec = d["spec"] = dict(d.get("spec") or {})
    spec.setdefault("replicas", 1)
    strategy = spec["strategy"] = dict(spec.get("strategy") or {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy["rollingUpdate"] = dict(strategy.get("rollingUpdate") or {})
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec["template"] = _default_template(spec.get("template"))
    if create:
        d["status"] = {}
    return d


def default_replicaset(rs: Obj, *, create: bool = True) -> Obj:
    r = dict(rs)  # copy-on-write, as in default_pod
    spec = r["spec"] = dict(r.get("spec") or {})
    spec.setdefault("replicas", 1)
    spec["template"] = _default_template(spec.get("template"))
    if create:
        r["status"] = {"replicas": 0}
    return r


def validate_workload(obj: Obj, old: Obj | None) -> None:
    """Selector required, matching the template's labels, and immutable (apps/v1)."""
    kind, name = obj["kind"], obj["metadata"].get("name", "")
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        raise invalid(kind, name, [("spec.selector", "Required value")])
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector_matches(selector, labels):
        raise invalid(
            kind,
            name,
            [
                (
                    "spec.template.metadata.labels",
                    f"Invalid value: {json.dumps(labels)}: `selector` does not match template `labels`",
                )
            ],
        )
    if old is not None and (old.get("spec") or {}).get("selector") != selector:
        raise invalid(
            kind, name, [("spec.selector", f"Invalid value: {json.dumps(selector)}: field is immutable")]
        )
    if int(spec.get("replicas", 0)) < 0:
        raise invalid(kind, name, [("spec.replicas", "must be greater than or equal to 0")])


# ---- services -----------------------------------------------------------------------------
def default_service(svc: Obj, old: Obj | None, ips: IPAllocator) -> Obj:
    """Service defaults; cluster IPs (and node ports) allocated on create, carried over on update."""
    s = copy.deepcopy(svc)
    name = s["metadata"].get("name", "")
    spec = s.setdefault("spec", {})
    old_spec = (old or {}).get("spec") or {}
    type_ = spec.setdefault("type", "ClusterIP")
    old_ports = {(p.get("port"), p.get("protocol", "TCP")): p for p in old_spec.get("ports") or []}
    ports = []
    for p in spec.get("ports") or []:
        q = {**p, "protocol": p.get("protocol") or "TCP"}
        if q.get("targetPort") in (None, 0, ""):  # SetDefaults_Service: 0 and "" are unset too
            q["targetPort"] = q.get("port")
        if type_ in ("NodePort", "LoadBalancer") and not q.get("nodePort"):
            prev = old_ports.get((q.get("port"), q["protocol"]), {}).get("nodePort")
            q["nodePort"] = prev or ips.allocate_node_port()
        ports.append(q)
    if ports:
        spec["ports"] = ports
    spec.setdefault("sessionAffinity", "None")
    if type_ == "ExternalName":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    else:
        requested = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
        previous = old_spec.get("clusterIP")
        if previous and old_spec.get("type") != "ExternalName":
            if requested and requested != previous:
                raise invalid(
                    "Service",
                    name,
                    [("spec.clusterIPs[0]", f"Invalid value: {requested!r}: may not change once set")],
                )
            requested = previous
        elif requested and requested != "None" and not ips.reserve(requested):
            raise invalid(
                "Service",
                name,
                [("spec.clusterIPs", f"Invalid value: [{requested!r}]: failed to allocate IP {requested}")],
            )
        ip = requested or ips.allocate()
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if type_ in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if type_ == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
    if old is None:
        s["status"] = {"loadBalancer": {}}
    return s


class ServiceIPs:
    """Cluster IPs (10.96.0.0/12) and node ports in use, kept in step with the store's Services.
    Random allocation never hands out an IP in use, the network or broadcast address, or an
    address ending in .0 or .1 (10.96.0.1 is the `kubernetes` Service's, by request only)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(f"service-ips-{seed}")
        self.used: set[str] = set()
        self.node_ports: set[int] = set()

    def allocate(self) -> str:
        first = int(SERVICE_CIDR.network_address)
        size = SERVICE_CIDR.num_addresses
        for _ in range(10_000):
            ip = str(ipaddress.ip_address(first + self.rng.randrange(2, size - 1)))
            if ip not in self.used and not ip.endswith((".0", ".1", ".255")):
                self.used.add(ip)
                return ip
        raise RuntimeError("service IP range exhausted")

    def reserve(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if addr not in SERVICE_CIDR or addr in (SERVICE_CIDR.network_address, SERVICE_CIDR.broadcast_address):
            return False
        if ip in self.used:
            return False
        self.used.add(ip)
        return True

    def allocate_node_port(self) -> int:
        lo, hi = NODE_PORT_RANGE
        for _ in range(10_000):
            port = self.rng.randint(lo, hi)
            if port not in self.node_ports:
                self.node_ports.add(port)
                return port
        raise RuntimeError("node port range exhausted")

    def on_event(self, event: StoreEvent) -> None:
        if event.kind != "Service":
            return
        spec = event.obj.get("spec") or {}
        ips = [ip for ip in spec.get("clusterIPs") or [] if ip and ip != "None"]
        ports = [p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")]
        if event.type == "DELETED":
            self.used.difference_update(ips)
            self.node_ports.difference_update(ports)
        else:
            self.used.update(ips)
            self.node_ports.update(ports)


# ---- the admission hook -------------------------------------------------------------------
def admission_hook(store: ObjectStore, ips: IPAllocator) -> Callable[[str, Obj, Obj | None], Obj]:
    def hook(operation: str, obj: Obj, old: Obj | None) -> Obj:
        kind = obj.get("kind")
        create = operation == "CREATE"
        if kind == "Pod":
            if old is not None and obj.get("spec") == old.get("spec"):
                # A status or metadata change: the stored (defaulted, valid) spec is kept, shared.
                return obj if obj.get("spec") is old.get("spec") else {**obj, "spec": old["spec"]}
            suffix = store.name_suffix() if create else ""
            out = default_pod(obj, volume_suffix=suffix, create=create)
            validate_pod(out)
            return out
        if kind == "Service":
            return default_service(obj, old, ips)
        if kind == "Deployment":
            out = default_deployment(obj, create=create)
            validate_workload(out, old)
            return out
        if kind == "ReplicaSet":
            out = default_replicaset(obj, create=create)
            validate_workload(out, old)
            return out
        if kind == "Namespace" and create:
            out = copy.deepcopy(obj)
            labels = out["metadata"].setdefault("labels", {})
            labels.setdefault("kubernetes.io/metadata.name", out["metadata"]["name"])
            out.setdefault("spec", {"finalizers": ["kubernetes"]})
            out["status"] = {"phase": "Active"}
            return out
        return obj

    return hook


def install(store: ObjectStore, *, seed: int = 0) -> ServiceIPs:
    """Register the defaulting hook on the store; returns the Service IP allocator it uses."""
    ips = ServiceIPs(seed)
    for svc in store.list("Service"):
        ips.on_event(StoreEvent("ADDED", "Service", svc, 0))
    store.subscribe(ips.on_event)
    store.admission.append(admission_hook(store, ips))
    return ips
