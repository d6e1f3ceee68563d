"""Pure functions from the index to the view: a ServiceView or PodView dict exactly as
docs/view-model.md describes them."""

from __future__ import annotations

import ipaddress
from typing import Any

from app.view.diagnosis import diagnose, endpoint_reason, exclusion
from app.view.index import Index
from app.view.slim import Endpoints, Pod, Service, SlicePort

View = dict[str, Any]


def ip_sort_key(ip: str) -> tuple[int, Any]:
    """Numeric order for IPv4 and IPv6 (10.244.1.9 before 10.244.1.10); anything else after, by text."""
    parts = ip.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return (0, tuple(int(p) for p in parts))
    try:
        return (1, ipaddress.IPv6Address(ip).packed)
    except ValueError:
        return (2, ip)


def _ports(ports: tuple[SlicePort, ...]) -> list[dict[str, Any]]:
    return [{"name": p.name, "port": p.port, "protocol": p.protocol} for p in ports]


def _legacy(ep: Endpoints | None) -> dict[str, Any] | None:
    if ep is None:
        return None

    def addrs(items: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [
            {"ip": a.ip, "pod": a.pod, "node": a.node} for a in sorted(items, key=lambda a: ip_sort_key(a.ip))
        ]

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


def project_service(index: Index, svc: Service) -> tuple[View, bool]:
    """The ServiceView, and whether the Service selects no pod (its diagnosis then depends on every pod
    of the namespace)."""
    ns = svc.namespace
    ready = not_ready = terminating = 0
    slice_views = []
    slices = index.slices_of(ns, svc.name)
    for sl in slices:
        ep_views = []
        for ep in sorted(sl.endpoints, key=lambda e: ip_sort_key(e.ip)):
            pod = index.pods.get((ns, ep.pod)) if ep.pod else index.pod_by_ip(ns, ep.ip)
            state = ep.state
            if state == "ready":
                ready += 1
            elif state == "terminating":
                terminating += 1
            else:
                not_ready += 1
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
                    "reason": endpoint_reason(ep, pod),
                }
            )
        slice_views.append(
            {
                "name": sl.name,
                "addressType": sl.address_type,
                "managedBy": sl.managed_by,
                "ports": _ports(sl.ports),
                "endpoints": ep_views,
            }
        )
    matched = selected_pods(index, svc)
    excluded = []
    for pod in matched:
        why = exclusion(svc, pod)
        if why is not None:
            excluded.append(
                {"pod": pod.name, "ip": pod.ip, "node": pod.node, "reason": why[0], "text": why[1]}
            )
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
        "excluded": excluded,
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
