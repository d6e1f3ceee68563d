"""Pure functions from the index to the view. What the engine keeps published are small records
(PodPub, ServicePub, DeploymentPub) holding the slim objects they were built from; render_* turns them
into the ServiceView, PodView or DeploymentView dicts exactly as docs/view-model.md describes them, only
when a client needs them (an op, a snapshot), so the view costs little memory per pod."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.view.diagnosis import diagnose, endpoint_reason, exclusion
from app.view.index import Index, Key
from app.view.slim import (
    Deployment,
    Endpoints,
    EndpointSlice,
    Pod,
    Service,
    SliceEndpoint,
    SlicePort,
    ip_sort_key,
    share,
)

View = dict[str, Any]
Why = tuple[str, str]  # (excluded reason code, text)

__all__ = [
    "Cache",
    "DeploymentPub",
    "PodPub",
    "ServicePub",
    "SlicePub",
    "View",
    "ip_sort_key",
    "project_deployment",
    "project_pod",
    "project_service",
    "render_deployment",
    "render_pod",
    "render_service",
    "selected_pods",
]


@dataclass(frozen=True, slots=True)
class SlicePub:
    """One EndpointSlice as published, with the reason of each endpoint that is not ready (None when
    every endpoint is ready: the reasons of ready endpoints are null)."""

    slice: EndpointSlice
    reasons: tuple[str | None, ...] | None

    @property
    def name(self) -> str:
        return self.slice.name

    def endpoint_views(self) -> list[View]:
        reasons = self.reasons
        return [
            {
                "ip": ep.ip,
                "pod": ep.pod,
                "node": ep.node,
                "zone": ep.zone,
                "state": ep.state,
                "ready": ep.ready,
                "serving": ep.serving,
                "terminating": ep.terminating,
                "reason": reasons[i] if reasons is not None else None,
            }
            for i, ep in enumerate(self.slice.endpoints)
        ]


@dataclass(frozen=True, slots=True)
class ServicePub:
    service: Service
    slices: tuple[SlicePub, ...]
    endpoints: Endpoints | None  # the legacy v1 Endpoints object
    excluded: tuple[tuple[Pod, Why], ...]
    counts: tuple[int, int, int, int]  # ready, not ready, terminating, slices
    diagnosis: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class PodPub:
    pod: Pod
    services: tuple[str, ...]  # names of the Services selecting it (one shared tuple per set of names)
    endpoint_of: tuple[str, ...]  # names of the Services whose slices list it


@dataclass(frozen=True, slots=True)
class DeploymentPub:
    deployment: Deployment
    services: tuple[str, ...]  # names of the Services selecting its pod template


@dataclass
class Cache:
    """Parts of ServiceViews reused while their inputs are the very same slim objects, so a change to
    one pod of a 10,000-pod Service rebuilds one slice and one exclusion, not all of them."""

    # slice key -> (slim slice, (endpoint, reason) for each not-ready endpoint, published slice, counts)
    slices: dict[
        Key,
        tuple[EndpointSlice, tuple[tuple[SliceEndpoint, str | None], ...], SlicePub, tuple[int, int, int]],
    ] = field(default_factory=dict)
    # service key -> (slim service, pod name -> the pod when it is not excluded, else (pod, why))
    excluded: dict[Key, tuple[Service, dict[str, Pod | tuple[Pod, Why]]]] = field(default_factory=dict)

    def forget_service(self, key: Key) -> None:
        self.excluded.pop(key, None)

    def forget_slice(self, key: Key) -> None:
        self.slices.pop(key, None)


def _ports(ports: tuple[SlicePort, ...]) -> list[dict[str, Any]]:
    return [{"name": p.name, "port": p.port, "protocol": p.protocol} for p in ports]


def _legacy(ep: Endpoints | None) -> dict[str, Any] | None:
    if ep is None:
        return None

    def addrs(items: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [{"ip": a.ip, "pod": a.pod, "node": a.node} for a in items]

    return {
        "overCapacity": ep.over_capacity,
        "subsets": [
            {
                "addresses": addrs(s.addresses),
                "notReadyAddresses": addrs(s.not_ready),
                "ports": _ports(s.ports),
            }
            for s in ep.subsets
        ],
    }


def selected_pods(index: Index, svc: Service) -> list[Pod]:
    """Pods whose labels match the selector (none for a selectorless or ExternalName Service), by name."""
    if svc.selector is None or svc.type == "ExternalName":
        return []
    ns = svc.namespace
    return [index.pods[(ns, n)] for n in sorted(index.pods_matching(ns, svc.selector))]


def _endpoint_pod(index: Index, ns: str, ep: SliceEndpoint) -> Pod | None:
    return index.pods.get((ns, ep.pod)) if ep.pod else index.pod_by_ip(ns, ep.ip)


def _slice_pub(index: Index, sl: EndpointSlice, cache: Cache | None) -> tuple[SlicePub, tuple[int, int, int]]:
    """One slice as published and its (ready, not ready, terminating) counts; reused from the cache
    when the slice is the same object and the pods behind its not-ready endpoints give the same reasons."""
    ns = sl.namespace
    hit = cache.slices.get(sl.key) if cache is not None else None
    if hit is not None and hit[0] is sl:
        if all(endpoint_reason(ep, _endpoint_pod(index, ns, ep)) == why for ep, why in hit[1]):
            return hit[2], hit[3]
    ready = not_ready = terminating = 0
    deps = []
    reasons: list[str | None] = []
    for ep in sl.endpoints:
        state = ep.state
        if state == "ready":
            ready += 1
            why = None
        elif state == "terminating":
            terminating += 1
            why = endpoint_reason(ep, None)
        else:
            not_ready += 1
            why = endpoint_reason(ep, _endpoint_pod(index, ns, ep))
            deps.append((ep, why))
        reasons.append(why)
    pub = SlicePub(sl, tuple(reasons) if ready < len(reasons) else None)
    counts = (ready, not_ready, terminating)
    if cache is not None:
        cache.slices[sl.key] = (sl, tuple(deps), pub, counts)
    return pub, counts


def render_slice(pub: SlicePub) -> View:
    sl = pub.slice
    return {
        "name": sl.name,
        "addressType": sl.address_type,
        "managedBy": sl.managed_by,
        "ports": _ports(sl.ports),
        "endpoints": pub.endpoint_views(),
    }


CACHE_EXCLUSIONS = 256  # matched pods above which a Service's exclusions are remembered between changes


def _excluded(svc: Service, matched: list[Pod], cache: Cache | None) -> tuple[tuple[Pod, Why], ...]:
    if cache is None or len(matched) <= CACHE_EXCLUSIONS:
        # a few pods: checking them again costs less than remembering (an entry a pod) would
        if cache is not None:
            cache.excluded.pop(svc.key, None)
        out = []
        for pod in matched:
            why = exclusion(svc, pod)
            if why is not None:
                out.append((pod, why))
        return tuple(out)
    old: dict[str, Pod | tuple[Pod, Why]] = {}
    if cache is not None:
        hit = cache.excluded.get(svc.key)
        if hit is not None and hit[0] is svc:
            old = hit[1]
    fresh: dict[str, Pod | tuple[Pod, Why]] = {}
    out = []
    for pod in matched:
        prev = old.get(pod.name)
        if prev is not None and (prev if isinstance(prev, Pod) else prev[0]) is pod:
            entry = prev
        else:
            why = exclusion(svc, pod)
            entry = pod if why is None else (pod, why)
        fresh[pod.name] = entry
        if not isinstance(entry, Pod):
            out.append(entry)
    if cache is not None:
        cache.excluded[svc.key] = (svc, fresh)
    return tuple(out)


def project_service(index: Index, svc: Service, cache: Cache | None = None) -> tuple[ServicePub, bool]:
    """The Service as published, and whether it selects no pod (its diagnosis then depends on every
    pod of the namespace)."""
    ns = svc.namespace
    ready = not_ready = terminating = 0
    pubs = []
    slices = index.slices_of(ns, svc.name)
    for sl in slices:
        sp, (r, n, t) = _slice_pub(index, sl, cache)
        pubs.append(sp)
        ready, not_ready, terminating = ready + r, not_ready + n, terminating + t
    matched = selected_pods(index, svc)
    pub = ServicePub(
        service=svc,
        slices=tuple(pubs),
        endpoints=index.endpoints.get(svc.key),
        excluded=_excluded(svc, matched, cache),
        counts=(ready, not_ready, terminating, len(slices)),
        diagnosis=diagnose(index, svc, ready, matched),
    )
    unmatched = svc.selector is not None and svc.type != "ExternalName" and not matched
    return pub, unmatched


def render_service(pub: ServicePub) -> View:
    svc = pub.service
    ns = svc.namespace
    ready, not_ready, terminating, slices = pub.counts
    return {
        "key": f"{ns}/{svc.name}",
        "namespace": ns,
        "name": svc.name,
        "type": svc.type,
        "clusterIP": svc.cluster_ip,
        "headless": svc.headless,
        "externalName": svc.external_name,
        "selector": dict(svc.selector) if svc.selector is not None else None,
        "publishNotReadyAddresses": svc.publish_not_ready,
        "ports": [
            {"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": p.protocol}
            for p in svc.ports
        ],
        "slices": [render_slice(sp) for sp in pub.slices],
        "endpoints": _legacy(pub.endpoints),
        "excluded": [
            {"pod": pod.name, "ip": pod.ip, "node": pod.node, "reason": why[0], "text": why[1]}
            for pod, why in pub.excluded
        ],
        "counts": {"ready": ready, "notReady": not_ready, "terminating": terminating, "slices": slices},
        "diagnosis": dict(pub.diagnosis) if pub.diagnosis is not None else None,
    }


def _names(names: set[str]) -> tuple[str, ...]:
    return share(tuple(sorted(names))) if names else ()


def project_pod(index: Index, pod: Pod) -> PodPub:
    ns = pod.namespace
    return PodPub(
        pod,
        _names(index.services_selecting(ns, pod.labels)),
        _names(index.services_listing_pod(pod)),
    )


def render_pod(pub: PodPub) -> View:
    pod = pub.pod
    ns = pod.namespace
    return {
        "key": f"{ns}/{pod.name}",
        "namespace": ns,
        "name": pod.name,
        "ip": pod.ip,
        "node": pod.node,
        "phase": pod.phase,
        "status": pod.status,
        "ready": pod.ready,
        "readyText": pod.ready_text,
        "terminating": pod.terminating,
        "notReadyReason": pod.reason,
        "labels": dict(pod.labels),
        "owner": {"kind": pod.owner[0], "name": pod.owner[1]} if pod.owner else None,
        "services": [f"{ns}/{n}" for n in pub.services],
        "endpointOf": [f"{ns}/{n}" for n in pub.endpoint_of],
        "created": pod.created,
    }


def project_deployment(index: Index, dep: Deployment) -> DeploymentPub:
    services = index.services_selecting(dep.namespace, dep.template_labels) if dep.template_labels else set()
    return DeploymentPub(dep, _names(services))


def render_deployment(pub: DeploymentPub) -> View:
    dep = pub.deployment
    ns = dep.namespace
    return {
        "key": f"{ns}/{dep.name}",
        "namespace": ns,
        "name": dep.name,
        "replicas": dep.replicas,
        "readyReplicas": dep.ready,
        "updatedReplicas": dep.updated,
        "availableReplicas": dep.available,
        "selector": dict(dep.selector),
        "services": [f"{ns}/{n}" for n in pub.services],
    }
