"""Diff an old and a new ServiceView / PodView / DeploymentView into timeline entries (without id and
time, which the engine stamps): endpoint joins, leaves and state changes, pods added, relabelled,
orphaned, deleted, Deployments added, scaled, rolling out, deleted."""

from __future__ import annotations

from typing import Any

from app.view.diagnosis import fmt_selector
from app.view.index import Index, selector_matches
from app.view.projector import ServicePub
from app.view.slim import Labels, Pod, ip_sort_key

Entry = dict[str, Any]
View = dict[str, Any]

_RANK = {"ready": 2, "terminating": 1, "not-ready": 0}


def draft(
    kind: str, text: str, *, service: str | None = None, ip: str | None = None, pod: str | None = None
) -> Entry:
    return {"kind": kind, "service": service, "ip": ip, "pod": pod, "text": text}


def endpoint_map(pub: ServicePub | None, only: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """ip -> its endpoint view in the Service's slices (the best state when several slices list it);
    `only`: the names of the slices to look at."""
    out: dict[str, dict[str, Any]] = {}
    for sl in pub.slices if pub is not None else ():
        if only is not None and sl.name not in only:
            continue
        for ep in sl.endpoint_views():
            have = out.get(ep["ip"])
            if have is None or _RANK[ep["state"]] > _RANK[have["state"]]:
                out[ep["ip"]] = ep
    return out


def state_words(ep: dict[str, Any], *, name_ready: bool = False) -> str:
    if ep["state"] == "ready":
        return f"ready ({ep['pod']})" if name_ready and ep.get("pod") else "ready"
    word = "terminating" if ep["state"] == "terminating" else "not ready"
    why = ep.get("reason") or word
    return f"{word} ({ep['pod']}: {why})" if ep.get("pod") else f"{word} ({why})"


def _labels_words(selector: Labels, pod: Pod) -> str:
    out = []
    for k, v in selector:
        actual = pod.label(k)
        if actual is None:
            out.append(f"no {k} label")
        elif actual != v:
            out.append(f"{k}={actual}")
    return ", ".join(out)


def left_reason(index: Index, old: ServicePub, new: ServicePub, ip: str, pod_name: str | None) -> str:
    """Why an address left a Service's slices, read from the pod as it is now."""
    ns = new.service.namespace
    pod = index.pods.get((ns, pod_name)) if pod_name else index.pod_by_ip(ns, ip)
    if pod is None:
        return "pod deleted"
    selector = new.service.selector
    if selector and not selector_matches(selector, pod.labels):
        if old.service.selector != selector:
            return "selector changed"
        return f"pod relabelled: {_labels_words(selector, pod)}"
    if pod.terminal:
        return f"pod {pod.phase}"
    if pod.ip != ip:
        return "pod IP changed" if pod.ip else "pod lost its IP"
    if pod.terminating:
        return "pod terminating"
    return "removed from the EndpointSlices"


def diff_service(index: Index, old: ServicePub | None, new: ServicePub | None) -> list[Entry]:
    cur = new or old
    if cur is None:
        return []
    name = cur.service.name
    key = f"{cur.service.namespace}/{name}"
    out: list[Entry] = []
    if new is None:
        return [draft("service", f"service {name} removed", service=key)]
    svc = new.service
    if old is None:
        what = f"selector {_fmt(svc.selector)}" if svc.selector else "no selector"
        if svc.type == "ExternalName":
            what = f"ExternalName {svc.external_name}"
        out.append(draft("service", f"service {name} added ({what})", service=key))
    elif old.service.selector != svc.selector:
        out.append(
            draft(
                "service",
                f"service {name} selector changed: {_fmt(old.service.selector)} → {_fmt(svc.selector)}",
                service=key,
            )
        )
    changed = _changed_slices(old, new)
    before, after = endpoint_map(old, changed), endpoint_map(new, changed)
    moved = [ip for ip in before.keys() | after.keys() if _state(before.get(ip)) != _state(after.get(ip))]
    for ip in sorted(moved, key=ip_sort_key):
        was, now = before.get(ip), after.get(ip)
        if now is None and was is not None and old is not None:
            why = left_reason(index, old, new, ip, was.get("pod"))
            out.append(draft("endpoint", f"{ip} left ({why})", service=key, ip=ip, pod=was.get("pod")))
        elif now is not None and was is None:
            out.append(
                draft(
                    "endpoint",
                    f"{ip} joined as {state_words(now, name_ready=True)}",
                    service=key,
                    ip=ip,
                    pod=now.get("pod"),
                )
            )
        elif now is not None and was is not None and now["state"] != was["state"]:
            out.append(
                draft("endpoint", f"{ip} → {state_words(now)}", service=key, ip=ip, pod=now.get("pod"))
            )
    if old is not None and old.counts[0] > 0 and new.counts[0] == 0 and new.diagnosis:
        out.append(
            draft("service", f"service {name} has no ready endpoints: {new.diagnosis['text']}", service=key)
        )
    return out


def _changed_slices(old: ServicePub | None, new: ServicePub) -> set[str]:
    """Names of the slices that are not the very same published object on both sides (the projector
    reuses unchanged ones), so a 10,000-endpoint Service is diffed by the slices that changed only."""
    olds = {sl.name: sl for sl in old.slices} if old is not None else {}
    news = {sl.name: sl for sl in new.slices}
    return {name for name in olds.keys() | news.keys() if olds.get(name) is not news.get(name)}


def _state(ep: dict[str, Any] | None) -> str | None:
    return ep["state"] if ep is not None else None


def _fmt(selector: Labels | None) -> str:
    return fmt_selector(selector) or "none"


def _names(keys: list[str]) -> str:
    return ", ".join(k.split("/", 1)[-1] for k in keys)


def diff_pod(old: View | None, new: View | None) -> list[Entry]:
    if old is None and new is None:
        return []
    cur = new or old or {}
    name, ip = cur["name"], cur.get("ip")
    services = list(cur.get("services") or ())
    first = services[0] if services else None
    if new is None:
        return [draft("pod", f"pod {name} deleted", service=first, ip=ip, pod=name)]
    if old is None:
        owner = new.get("owner")
        by = f" by {owner['kind']} {owner['name']}" if owner else ""
        return [draft("pod", f"pod {name} added{by}", service=first, ip=ip, pod=name)]
    out: list[Entry] = []
    if old["labels"] != new["labels"]:
        changes = [f"{k}={v}" for k, v in new["labels"].items() if old["labels"].get(k) != v]
        changes += [f"{k} removed" for k in old["labels"] if k not in new["labels"]]
        lost = [s for s in old["services"] if s not in new["services"]]
        gained = [s for s in new["services"] if s not in old["services"]]
        text = f"pod {name} relabelled ({', '.join(changes)})"
        if lost:
            out.append(
                draft(
                    "pod", f"{text}: no longer selected by {_names(lost)}", service=lost[0], ip=ip, pod=name
                )
            )
        elif gained:
            out.append(
                draft("pod", f"{text}: now selected by {_names(gained)}", service=gained[0], ip=ip, pod=name)
            )
    if old.get("owner") and not new.get("owner"):
        o = old["owner"]
        out.append(
            draft(
                "pod",
                f"pod {name} orphaned: {o['kind']} {o['name']} released it (it keeps running)",
                service=first or (old["services"][0] if old["services"] else None),
                ip=ip,
                pod=name,
            )
        )
    elif new.get("owner") and not old.get("owner"):
        o = new["owner"]
        out.append(
            draft("pod", f"pod {name} adopted by {o['kind']} {o['name']}", service=first, ip=ip, pod=name)
        )
    if new["terminating"] and not old["terminating"]:
        out.append(draft("pod", f"pod {name} terminating", service=first, ip=ip, pod=name))
    return out


def diff_deployment(old: View | None, new: View | None) -> list[Entry]:
    if old is None and new is None:
        return []
    cur = new or old or {}
    name, services = cur["name"], cur.get("services") or ()
    first = services[0] if services else None
    if new is None:
        return [draft("workload", f"deployment {name} deleted", service=first)]
    if old is None:
        n = new["replicas"]
        return [
            draft("workload", f"deployment {name} added ({n} replica{'' if n == 1 else 's'})", service=first)
        ]
    if old["replicas"] != new["replicas"]:
        return [
            draft(
                "workload", f"deployment {name} scaled {old['replicas']} → {new['replicas']}", service=first
            )
        ]
    return []


def rollout(deployment: str, replicaset: str, service: str | None) -> Entry:
    return draft(
        "workload", f"deployment {deployment} rolling out a new ReplicaSet {replicaset}", service=service
    )
