"""Diff an old and a new ServiceView / PodView / DeploymentView into timeline entries (without id and
time, which the engine stamps): endpoint joins, leaves and state changes, pods added, relabelled,
orphaned, deleted, Deployments added, scaled, rolling out, deleted."""

from __future__ import annotations

from typing import Any

from app.view.diagnosis import fmt_selector
from app.view.index import Index, selector_matches
from app.view.projector import PodPub, ServicePub
from app.view.slim import Labels, Pod, ip_sort_key

Entry = dict[str, Any]
View = dict[str, Any]

_RANK = {"ready": 2, "terminating": 1, "not-ready": 0}


def draft(
    kind: str, text: str, *, service: str | None = None, ip: str | None = None, pod: str | None = None
) -> Entry:
    return {"kind": kind, "service": service, "ip": ip, "pod": pod, "text": text}


# An endpoint as the timeline compares it: (rank of its state, state, pod name, reason)
Seen = tuple[int, str, str | None, str | None]


def endpoint_states(pub: ServicePub | None, only: set[str] | None = None) -> dict[str, Seen]:
    """ip -> its state in the Service's slices (the best when several slices list it), read from the
    published slices directly (no endpoint views are built); `only`: the names of the slices to read."""
    out: dict[str, Seen] = {}
    for sl in pub.slices if pub is not None else ():
        if only is not None and sl.name not in only:
            continue
        reasons = sl.reasons
        for i, ep in enumerate(sl.slice.endpoints):
            state = ep.state
            rank = _RANK[state]
            have = out.get(ep.ip)
            if have is None or rank > have[0]:
                out[ep.ip] = (rank, state, ep.pod, reasons[i] if reasons is not None else None)
    return out


def state_words(seen: Seen, *, name_ready: bool = False) -> str:
    _, state, pod, reason = seen
    if state == "ready":
        return f"ready ({pod})" if name_ready and pod else "ready"
    word = "terminating" if state == "terminating" else "not ready"
    why = reason or word
    return f"{word} ({pod}: {why})" if pod else f"{word} ({why})"


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
    if not changed:
        moved: list[str] = []
        before: dict[str, Seen] = {}
        after: dict[str, Seen] = {}
    else:
        before, after = endpoint_states(old, changed), endpoint_states(new, changed)
        moved = [ip for ip in before.keys() | after.keys() if _state(before.get(ip)) != _state(after.get(ip))]
    for ip in sorted(moved, key=ip_sort_key):
        was, now = before.get(ip), after.get(ip)
        if now is None and was is not None and old is not None:
            why = left_reason(index, old, new, ip, was[2])
            out.append(draft("endpoint", f"{ip} left ({why})", service=key, ip=ip, pod=was[2]))
        elif now is not None and was is None:
            out.append(
                draft(
                    "endpoint",
                    f"{ip} joined as {state_words(now, name_ready=True)}",
                    service=key,
                    ip=ip,
                    pod=now[2],
                )
            )
        elif now is not None and was is not None and now[1] != was[1]:
            out.append(draft("endpoint", f"{ip} → {state_words(now)}", service=key, ip=ip, pod=now[2]))
    if old is not None and old.counts[0] > 0 and new.counts[0] == 0 and new.diagnosis:
        out.append(
            draft("service", f"service {name} has no ready endpoints: {new.diagnosis['text']}", service=key)
        )
    return out


def _changed_slices(old: ServicePub | None, new: ServicePub) -> set[str]:
    """Names of the slices that are not the very same published object on both sides (the projector
    reuses unchanged ones), so a 10,000-endpoint Service is diffed by the slices that changed only."""
    if old is not None and old.slices == new.slices:  # element by element: identity first
        return set()
    olds = {sl.name: sl for sl in old.slices} if old is not None else {}
    news = {sl.name: sl for sl in new.slices}
    return {name for name in olds.keys() | news.keys() if olds.get(name) is not news.get(name)}


def _state(seen: Seen | None) -> str | None:
    return seen[1] if seen is not None else None


def _fmt(selector: Labels | None) -> str:
    return fmt_selector(selector) or "none"


def _names(keys: list[str]) -> str:
    return ", ".join(k.split("/", 1)[-1] for k in keys)


def diff_pod(old: PodPub | None, new: PodPub | None) -> list[Entry]:
    """A pod added, deleted, relabelled out of (or into) Services, orphaned, adopted, terminating."""
    cur = new or old
    if cur is None:
        return []
    pod = cur.pod
    ns, name, ip = pod.namespace, pod.name, pod.ip
    services = [f"{ns}/{n}" for n in cur.services]
    first = services[0] if services else None
    if new is None:
        return [draft("pod", f"pod {name} deleted", service=first, ip=ip, pod=name)]
    if old is None:
        owner = pod.owner
        by = f" by {owner[0]} {owner[1]}" if owner else ""
        return [draft("pod", f"pod {name} added{by}", service=first, ip=ip, pod=name)]
    out: list[Entry] = []
    was, now = old.pod, new.pod
    if was.labels != now.labels:
        before, after = dict(was.labels), dict(now.labels)
        changes = [f"{k}={v}" for k, v in after.items() if before.get(k) != v]
        changes += [f"{k} removed" for k in before if k not in after]
        lost = [f"{ns}/{s}" for s in old.services if s not in new.services]
        gained = [f"{ns}/{s}" for s in new.services if s not in old.services]
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
    if was.owner and not now.owner:
        kind, owner = was.owner
        olds = [f"{ns}/{s}" for s in old.services]
        out.append(
            draft(
                "pod",
                f"pod {name} orphaned: {kind} {owner} released it (it keeps running)",
                service=first or (olds[0] if olds else None),
                ip=ip,
                pod=name,
            )
        )
    elif now.owner and not was.owner:
        kind, owner = now.owner
        out.append(draft("pod", f"pod {name} adopted by {kind} {owner}", service=first, ip=ip, pod=name))
    if now.terminating and not was.terminating:
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
