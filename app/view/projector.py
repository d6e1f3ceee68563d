"""Pure functions from the index to the view: a ServiceView, PodView or DeploymentView dict exactly as
docs/view-model.md describes them."""

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
)

View = dict[str, Any]

__all__ = [
    "Cache",
    "View",
    "ip_sort_key",
    "project_deployment",
    "project_pod",
    "project_service",
    "selected_pods",
]


@dataclass
class Cache:
    """Parts of ServiceViews reused while their inputs are the very same slim objects, so a change to
    one pod of a 10,000-pod Service rebuilds one slice and one exclusion, not all of them."""

    # slice key -> (slim slice, (endpoint, reason) for each not-ready endpoint, view, counts)
    slices: dict[
        Key, tuple[EndpointSlice, tuple[tuple[SliceEndpoint, str | None], ...], View, tuple[int, int, int]]
    ] = field(default_factory=dict)
    # service key -> (slim service, pod name -> (slim pod, excluded entry or None))
    excluded: dict[Key, tuple[Service, dict[str, tuple[Pod, View | None]]]] = field(default_factory=dict)

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


def _slice_view(index: Index, sl: EndpointSlice, cache: Cache | None) -> tuple[View, tuple[int, int, int]]:
    """One slice's view and its (ready, not ready, terminating) counts; reused from the cache when the
    slice is the same object and the pods behind its not-ready endpoints give the same reasons."""
    ns = sl.namespace
    hit = cache.slices.get(sl.key) if cache is not None else None
    if hit is not None and hit[0] is sl:
        if all(endpoint_reason(ep, _endpoint_pod(index, ns, ep)) == why for ep, why in hit[1]):
            return hit[2], hit[3]
    ready = not_ready = terminating = 0
    deps = []
    ep_views = []
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
        ep_views.append(
            {
                "ip": ep.ip,
                "pod": ep.pod,
                "node": ep.node,
                "zone": ep.zone,
                "state": state,
                "ready": ep.ready,
                "serving": ep.serving,
                "terminating": ep.terminating,
                "reason": why,
            }
        )
    view = {
        "name": sl.name,
        "addressType": sl.address_type,
        "managedBy": sl.managed_by,
        "ports": _ports(sl.ports),
        "endpoints": ep_views,
    }
    counts = (ready, not_ready, terminating)
    if cache is not None:
        cache.slices[sl.key] = (sl, tuple(deps), view, counts)
    return view, counts


def _excluded(svc: Service, matched: list[Pod], cache: Cache | None) -> list[View]:
    old: dict[str, tuple[Pod, View | None]] = {}
    if cache is not None:
        hit = cache.excluded.get(svc.key)
        if hit is not None and hit[0] is svc:
            old = hit[1]
    fresh: dict[str, tuple[Pod, View | None]] = {}
    out = []
    for pod in matched:
        prev = old.get(pod.name)
        if prev is not None and prev[0] is pod:
            entry = prev[1]
        else:
            why = exclusion(svc, pod)
            entry = (
                None
                if why is None
                else {"pod": pod.name, "ip": pod.ip, "node": pod.node, "reason": why[0], "text": why[1]}
            )
        fresh[pod.name] = (pod, entry)
        if entry is not None:
            out.append(entry)
    if cache is not None:
        cache.excluded[svc.key] = (svc, fresh)
    return out


def project_service(index: Index, svc: Service, cache: Cache | None = None) -> tuple[View, bool]:
    """The ServiceView, and whether the Service selects no pod (its diagnosis then depends on every pod
    of the namespace)."""
    ns = svc.namespace
    ready = not_ready = terminating = 0
    slice_views = []
    slices = index.slices_of(ns, svc.name)
    for sl in slices:
        sv, (r, n, t) = _slice_view(index, sl, cache)
        slice_views.append(sv)
        ready, not_ready, terminating = ready + r, not_ready + n, terminating + t
    matched = selected_pods(index, svc)
    view = {
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
        "slices": slice_views,
        "endpoints": _legacy(index.endpoints.get(svc.key)),
        "excluded": _excluded(svc, matched, cache),
        "counts": {"ready": ready, "notReady": not_ready, "terminating": terminating, "slices": len(slices)},
        "diagnosis": diagnose(index, svc, ready, matched),
    }
    unmatched = svc.selector is not None and svc.type != "ExternalName" and not matched
    return view, unmatched


def project_pod(index: Index, pod: Pod) -> View:
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
        "services": [f"{ns}/{n}" for n in sorted(index.services_selecting(ns, pod.labels))],
        "endpointOf": [f"{ns}/{n}" for n in sorted(index.services_listing_pod(pod))],
        "created": pod.created,
    }


def project_deployment(index: Index, dep: Deployment) -> View:
    ns = dep.namespace
    services = index.services_selecting(ns, dep.template_labels) if dep.template_labels else set()
    return {
        "key": f"{ns}/{dep.name}",
        "namespace": ns,
        "name": dep.name,
        "replicas": dep.replicas,
        "readyReplicas": dep.ready,
        "updatedReplicas": dep.updated,
        "availableReplicas": dep.available,
        "selector": dict(dep.selector),
        "services": [f"{ns}/{n}" for n in sorted(services)],
    }
