"""The defaults the API server sets while decoding a request (SetDefaults_* of core/v1, apps/v1 and
discovery/v1), so validation sees what Kubernetes validates: e.g. a Service port's targetPort is
the port itself when unset, which is why `port: 99999` also fails on targetPort."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


def _dict(parent: Obj, key: str) -> Obj:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


def _dicts(value: Any) -> list[Obj]:
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _image_tag(image: str) -> str:
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def _probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for key, default in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not probe.get(key):
            probe[key] = default
    http = probe.get("httpGet")
    if isinstance(http, dict):
        if not http.get("path"):
            http["path"] = "/"
        if not http.get("scheme"):
            http["scheme"] = "HTTP"


def _container(c: Obj) -> None:
    if not c.get("imagePullPolicy"):
        image = c.get("image") if isinstance(c.get("image"), str) else ""
        c["imagePullPolicy"] = "Always" if _image_tag(image) == "latest" else "IfNotPresent"
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = "/dev/termination-log"
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    for p in _dicts(c.get("ports")):
        if not p.get("protocol"):
            p["protocol"] = "TCP"
    for key in ("readinessProbe", "livenessProbe", "startupProbe"):
        _probe(c.get(key))


def pod_spec(spec: Obj) -> None:
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for key in ("containers", "initContainers"):
        for c in _dicts(spec.get(key)):
            _container(c)


def service(svc: Obj) -> None:
    spec = _dict(svc, "spec")
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for p in _dicts(spec.get("ports")):
        if not p.get("protocol"):
            p["protocol"] = "TCP"
        if p.get("targetPort") in (None, 0, ""):
            p["targetPort"] = p.get("port", 0)
    type_ = spec["type"]
    externally = type_ in ("NodePort", "LoadBalancer") or (
        type_ == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and type_ in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    if type_ == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True


def _template(owner_spec: Obj) -> None:
    template = owner_spec.get("template")
    if isinstance(template, dict):
        pod_spec(_dict(template, "spec"))


def deployment(d: Obj) -> None:
    spec = _dict(d, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _dict(spec, "strategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = _dict(strategy, "rollingUpdate")
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = "25%"
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _template(spec)


def replicaset(rs: Obj) -> None:
    spec = _dict(rs, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _template(spec)


def endpoints(ep: Obj) -> None:
    for subset in _dicts(ep.get("subsets")):
        for p in _dicts(subset.get("ports")):
            if not p.get("protocol"):
                p["protocol"] = "TCP"


def endpointslice(es: Obj) -> None:
    for p in _dicts(es.get("ports")):
        if p.get("name") is None:
            p["name"] = ""
        if p.get("protocol") is None:
            p["protocol"] = "TCP"


def namespace(ns: Obj) -> None:
    md = _dict(ns, "metadata")
    if md.get("name"):
        labels = md.get("labels") if isinstance(md.get("labels"), dict) else {}
        md["labels"] = {**labels, "kubernetes.io/metadata.name": md["name"]}


_BY_KIND = {
    "Service": service,
    "Deployment": deployment,
    "ReplicaSet": replicaset,
    "Endpoints": endpoints,
    "EndpointSlice": endpointslice,
    "Namespace": namespace,
}


def defaulted(obj: Obj) -> Obj:
    """A copy of `obj` with the API server's defaults set."""
    out = copy.deepcopy(obj)
    kind = out.get("kind")
    if kind == "Pod":
        pod_spec(_dict(out, "spec"))
    elif kind in _BY_KIND:
        _BY_KIND[kind](out)
    return out
