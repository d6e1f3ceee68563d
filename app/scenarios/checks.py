"""Evaluates a step's `expect` checks against the object store (EndpointSlices, Endpoints, Pods,
Services as stored), giving each check a readable text and its problems for tests and the UI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from app.scenarios.format import Check, EndpointsCheck, PodsCheck, ServiceCheck, UnmatchedPodsCheck

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"


class Store(Protocol):
    def get(self, kind: str, namespace: str, name: str) -> Obj | None: ...
    def list(
        self, kind: str, namespace: str | None = None, selector: dict[str, str] | None = None
    ) -> list[Obj]: ...


@dataclass(frozen=True)
class CheckResult:
    check: Check
    text: str  # what was expected, e.g. "Service default/web-svc: ready 3, notReady 1"
    ok: bool
    problems: tuple[str, ...]  # one per field that differs: "ready: expected 3, found 2"
    actual: dict[str, Any]  # what was found, for the fields the check names

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "ok": self.ok, "problems": list(self.problems), "actual": self.actual}


def _md(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _pod_ready(pod: Obj) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def _terminating(obj: Obj) -> bool:
    return bool(_md(obj).get("deletionTimestamp"))


def _matches(labels: dict[str, str] | None, selector: dict[str, str]) -> bool:
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def _compare(expected: dict[str, Any], actual: dict[str, Any]) -> tuple[str, ...]:
    problems = []
    for field, want in expected.items():
        got = actual.get(field)
        if want != got:
            problems.append(f"{field}: expected {_show(want)}, found {_show(got)}")
    return tuple(problems)


def _show(v: object) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, list | tuple):
        return "[" + ", ".join(map(str, v)) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={x}" for k, x in v.items()) + "}"
    return str(v)


def _wanted(check: Check, skip: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in check.__dataclass_fields__:
        if name in skip:
            continue
        v = getattr(check, name)
        if v is None:
            continue
        out[name] = sorted(v) if name in ("ips", "ports") else list(v) if isinstance(v, tuple) else v
    return out


def _service_actual(store: Store, c: ServiceCheck) -> dict[str, Any]:
    slices = store.list("EndpointSlice", c.namespace, {SERVICE_NAME_LABEL: c.name})
    eps = [ep for s in slices for ep in s.get("endpoints") or ()]

    def cond(ep: Obj, k: str) -> bool:
        return (ep.get("conditions") or {}).get(k) is True

    return {
        "exists": store.get("Service", c.namespace, c.name) is not None,
        "ready": sum(cond(ep, "ready") for ep in eps),
        "notReady": sum(not cond(ep, "ready") and not cond(ep, "terminating") for ep in eps),
        "terminating": sum(cond(ep, "terminating") for ep in eps),
        "serving": sum(cond(ep, "serving") for ep in eps),
        "total": len(eps),
        "slices": len(slices),
        "sliceSizes": sorted((len(s.get("endpoints") or ()) for s in slices), reverse=True),
        "ips": sorted({ip for ep in eps if cond(ep, "ready") for ip in ep.get("addresses") or ()}),
        "ports": sorted(
            {p.get("port") for s in slices for p in s.get("ports") or () if p.get("port") is not None}
        ),
        "managedBy": ",".join(
            sorted({(_md(s).get("labels") or {}).get(MANAGED_BY_LABEL, "") for s in slices})
        ),
        "sliceLabels": _slice_labels(slices, c.sliceLabels or {}),
    }


def _slice_labels(slices: list[Obj], wanted: dict[str, str]) -> dict[str, str] | None:
    """`wanted` when every slice carries those labels, else the labels of the first slice lacking
    them (None when there is no slice at all)."""
    for s in slices:
        labels = _md(s).get("labels") or {}
        if not _matches(labels, wanted):
            return {k: labels[k] for k in wanted if k in labels}
    return wanted if slices else None


def _endpoints_actual(store: Store, c: EndpointsCheck) -> dict[str, Any]:
    ep = store.get("Endpoints", c.namespace, c.name)
    subsets = (ep or {}).get("subsets") or ()
    return {
        "exists": ep is not None,
        "addresses": sum(len(s.get("addresses") or ()) for s in subsets),
        "notReadyAddresses": sum(len(s.get("notReadyAddresses") or ()) for s in subsets),
        "overCapacity": (_md(ep or {}).get("annotations") or {}).get(OVER_CAPACITY) == "truncated",
        "ips": sorted({a.get("ip") for s in subsets for a in s.get("addresses") or ()}),
        "ports": sorted({p.get("port") for s in subsets for p in s.get("ports") or ()}),
    }


def _pods_actual(store: Store, c: PodsCheck) -> dict[str, Any]:
    pods = store.list("Pod", c.namespace, c.selector or None)
    live = [p for p in pods if not _terminating(p)]
    return {
        "count": len(live),
        "ready": sum(_pod_ready(p) for p in live),
        "terminating": len(pods) - len(live),
        "orphans": sum(not _md(p).get("ownerReferences") for p in live),
    }


def unmatched_pods(store: Store, namespace: str) -> list[Obj]:
    """Pods not being deleted whose labels match no Service selector (ExternalName and selectorless
    Services select nothing)."""
    selectors = [
        (s.get("spec") or {}).get("selector")
        for s in store.list("Service", namespace)
        if (s.get("spec") or {}).get("type") != "ExternalName"
    ]
    selectors = [sel for sel in selectors if sel]
    return [
        p
        for p in store.list("Pod", namespace)
        if not _terminating(p) and not any(_matches(_md(p).get("labels"), sel) for sel in selectors)
    ]


def describe(check: Check) -> str:
    if isinstance(check, ServiceCheck):
        head, skip = f"Service {check.namespace}/{check.name}", ("namespace", "name")
    elif isinstance(check, EndpointsCheck):
        head, skip = f"Endpoints {check.namespace}/{check.name}", ("namespace", "name")
    elif isinstance(check, PodsCheck):
        head = f"Pods in {check.namespace} with {_show(check.selector) if check.selector else 'any labels'}"
        skip = ("namespace", "selector")
    else:
        return f"Pods in {check.namespace} matching no Service: {check.count}"
    parts = [f"{k} {_show(v)}" for k, v in _wanted(check, skip).items()]
    return f"{head}: {', '.join(parts)}" if parts else head


def evaluate(store: Store, check: Check) -> CheckResult:
    if isinstance(check, UnmatchedPodsCheck):
        pods = unmatched_pods(store, check.namespace)
        names = sorted(_md(p).get("name", "") for p in pods)
        ok = len(pods) == check.count
        problems = (
            () if ok else (f"unmatchedPods: expected {check.count}, found {len(pods)} ({', '.join(names)})",)
        )
        return CheckResult(check, describe(check), ok, problems, {"unmatchedPods": len(pods), "pods": names})
    if isinstance(check, ServiceCheck):
        actual = _service_actual(store, check)
        skip: tuple[str, ...] = ("namespace", "name")
    elif isinstance(check, EndpointsCheck):
        actual = _endpoints_actual(store, check)
        skip = ("namespace", "name")
    else:
        actual = _pods_actual(store, check)
        skip = ("namespace", "selector")
    wanted = _wanted(check, skip)
    shown = {k: actual.get(k) for k in wanted}
    problems = _compare(wanted, actual)
    return CheckResult(check, describe(check), not problems, problems, shown)


def evaluate_all(store: Store, checks: tuple[Check, ...]) -> list[CheckResult]:
    return [evaluate(store, c) for c in checks]
