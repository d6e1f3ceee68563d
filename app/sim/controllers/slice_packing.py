"""The EndpointSlice reconciler's packing algorithm (staging/src/k8s.io/endpointslice/reconciler.go),
pure: desired endpoints + existing slices in, the slices to create / update / delete out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.sim.controllers.podutil import (
    ANNOTATION_TRIGGER_TIME,
    LABEL_HEADLESS,
    LABEL_SERVICE_NAME,
    LABEL_SLICE_MANAGED_BY,
    is_headless,
)
from app.timefmt import rfc3339

Obj = dict[str, Any]
PortKey = tuple[tuple[str, int, str, str], ...]
EndpointHash = tuple[tuple[str, ...], str, str, str]

RESERVED_LABELS = frozenset({LABEL_SERVICE_NAME, LABEL_SLICE_MANAGED_BY, LABEL_HEADLESS})


@dataclass
class DesiredGroup:
    """Endpoints wanted for one port list (insertion-ordered by endpoint hash)."""

    ports: list[Obj]
    endpoints: dict[EndpointHash, Obj] = field(default_factory=dict)


@dataclass
class SlicePlan:
    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)

    def extend(self, other: SlicePlan) -> None:
        self.create += other.create
        self.update += other.update
        self.delete += other.delete

    def __bool__(self) -> bool:
        return bool(self.create or self.update or self.delete)


# ---- keys and comparisons ----------------------------------------------------
def port_key(ports: list[Obj] | None) -> PortKey:
    """NewPortMapKey: the port list as an order-independent key."""
    return tuple(
        sorted(
            (
                p.get("name") or "",
                int(p.get("port") or 0),
                p.get("protocol") or "TCP",
                p.get("appProtocol") or "",
            )
            for p in ports or ()
        )
    )


def endpoint_hash(ep: Obj) -> EndpointHash:
    """hashEndpoint: addresses, hostname and the target's namespace/name identify an endpoint."""
    ref = ep.get("targetRef") or {}
    return (
        tuple(sorted(ep.get("addresses") or ())),
        ep.get("hostname") or "",
        ref.get("namespace") or "",
        ref.get("name") or "",
    )


def _ref(ref: Obj | None) -> Obj | None:
    if not ref:
        return None
    return {k: v for k, v in ref.items() if k != "resourceVersion"}


def endpoints_equal_beyond_hash(a: Obj, b: Obj) -> bool:
    """EndpointsEqualBeyondHash: nodeName, zone, conditions, targetRef (resourceVersion ignored)."""
    if a is b:
        return True
    return (
        a.get("nodeName") == b.get("nodeName")
        and a.get("zone") == b.get("zone")
        and (a.get("conditions") or {}) == (b.get("conditions") or {})
        and _ref(a.get("targetRef")) == _ref(b.get("targetRef"))
    )


def owner_ref(svc: Obj) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "name": svc["metadata"]["name"],
        "uid": svc["metadata"].get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(slice_: Obj, svc: Obj) -> bool:
    uid = svc["metadata"].get("uid")
    return any(
        o.get("uid") == uid and o.get("kind") == "Service" and o.get("apiVersion") == "v1"
        for o in slice_["metadata"].get("ownerReferences") or ()
    )


def slice_labels(
    slice_labels_now: dict[str, str] | None, svc: Obj, controller: str
) -> tuple[dict[str, str], bool]:
    """setEndpointSliceLabels: the Service's labels (reserved keys dropped) plus the reserved ones.
    The bool says whether the non-reserved labels differ from the slice's current ones."""
    current = {k: v for k, v in (slice_labels_now or {}).items() if k not in RESERVED_LABELS}
    wanted = {k: v for k, v in (svc["metadata"].get("labels") or {}).items() if k not in RESERVED_LABELS}
    changed = current != wanted
    if is_headless(svc):
        wanted[LABEL_HEADLESS] = ""
    wanted[LABEL_SERVICE_NAME] = svc["metadata"]["name"]
    wanted[LABEL_SLICE_MANAGED_BY] = controller
    return wanted, changed


def new_slice(svc: Obj, ports: list[Obj], address_type: str, controller: str) -> Obj:
    md = svc["metadata"]
    labels, _ = slice_labels(None, svc, controller)
    return {
        "kind": "EndpointSlice",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": {
            "generateName": f"{md['name']}-",
            "namespace": md.get("namespace") or "default",
            "labels": labels,
            "ownerReferences": [owner_ref(svc)],
        },
        "addressType": address_type,
        "endpoints": [],
        "ports": [dict(p) for p in ports],
    }


def _with(slice_: Obj, *, endpoints: list[Obj] | None = None, labels: dict[str, str] | None = None) -> Obj:
    """A fresh copy of a stored slice with new endpoints and/or labels (never mutate stored dicts)."""
    md = dict(slice_["metadata"])
    if labels is not None:
        md["labels"] = labels
    out = {**slice_, "metadata": md}
    out["endpoints"] = list(slice_.get("endpoints") or ()) if endpoints is None else endpoints
    return out


def _is_placeholder_like(slice_: Obj, placeholder: Obj) -> bool:
    """placeholderSliceCompare: namespace, labels, ownerReferences, addressType, no ports, no endpoints."""
    a, b = slice_["metadata"], placeholder["metadata"]
    return (
        (a.get("namespace") or "") == (b.get("namespace") or "")
        and (a.get("labels") or {}) == (b.get("labels") or {})
        and (a.get("ownerReferences") or []) == (b.get("ownerReferences") or [])
        and slice_.get("addressType") == placeholder.get("addressType")
        and not slice_.get("ports")
        and not slice_.get("endpoints")
    )


def _slice_to_fill(slices: list[Obj], n: int, max_n: int) -> Obj | None:
    """getSliceToFill: the slice that ends closest to full after taking n endpoints."""
    closest_diff = max_n
    closest: Obj | None = None
    for s in slices:
        diff = max_n - (n + len(s["endpoints"]))
        if 0 <= diff < closest_diff:
            closest_diff, closest = diff, s
            if diff == 0:
                break
    return closest


class _Remaining:
    """The desired endpoints not yet placed, taken in order (a dict popped from the front costs
    a scan of the deleted prefix each time: quadratic for a big Service)."""

    def __init__(self, endpoints: dict[EndpointHash, Obj]) -> None:
        self._eps = list(endpoints.values())
        self._next = 0

    def __len__(self) -> int:
        return len(self._eps) - self._next

    def pop(self) -> Obj:
        ep = self._eps[self._next]
        self._next += 1
        return ep


# ---- reconcileByPortMapping --------------------------------------------------
def _reconcile_port_mapping(
    svc: Obj,
    existing: list[Obj],
    desired_group: DesiredGroup,
    address_type: str,
    max_n: int,
    controller: str,
    hash_of: Callable[[Obj], EndpointHash],
) -> SlicePlan:
    desired = dict(desired_group.endpoints)
    by_name: dict[str, Obj] = {}
    unchanged: dict[str, None] = {}
    to_update: dict[str, None] = {}
    to_delete: dict[str, None] = {}

    # 1. keep wanted endpoints in place (refreshed), drop unwanted ones, check labels.
    for s in existing:
        name = s["metadata"]["name"]
        by_name[name] = s
        old_eps = s.get("endpoints") or []
        kept: list[Obj] = []
        updated = False
        for ep in old_eps:
            h = hash_of(ep)
            got = desired.pop(h, None)
            if got is not None:
                kept.append(got)
                if not endpoints_equal_beyond_hash(got, ep):
                    updated = True
        labels, labels_changed = slice_labels(s["metadata"].get("labels"), svc, controller)
        if updated or len(old_eps) != len(kept):
            if not kept:
                to_delete[name] = None
            else:
                by_name[name] = _with(s, endpoints=kept, labels=labels)
                to_update[name] = None
        elif labels_changed:
            by_name[name] = _with(s, labels=labels)
            to_update[name] = None
        else:
            unchanged[name] = None

    # 2. fill the slices already being updated, fullest first.
    remaining = _Remaining(desired)
    if remaining and to_update:
        for s in sorted((by_name[n] for n in to_update), key=lambda x: -len(x["endpoints"])):
            while remaining and len(s["endpoints"]) < max_n:
                s["endpoints"].append(remaining.pop())

    # 3. a small remainder goes into the unchanged slice closest to full; otherwise new slices.
    creates: list[Obj] = []
    while remaining:
        fill: Obj | None = None
        if len(remaining) < max_n and unchanged:
            fill = _slice_to_fill([by_name[n] for n in unchanged], len(remaining), max_n)
        if fill is None:
            fill = new_slice(svc, desired_group.ports, address_type, controller)
        else:
            fill = _with(fill)
            by_name[fill["metadata"]["name"]] = fill
        while remaining and len(fill["endpoints"]) < max_n:
            fill["endpoints"].append(remaining.pop())
        name = fill["metadata"].get("name")
        if name:
            to_update[name] = None
            unchanged.pop(name, None)
        else:
            creates.append(fill)

    return SlicePlan(
        create=creates,
        update=[by_name[n] for n in to_update],
        delete=[by_name[n] for n in to_delete],
    )


# ---- reconcileByAddressType + finalize ----------------------------------------
def reconcile_address_type(
    svc: Obj,
    desired: dict[PortKey, DesiredGroup],
    existing: list[Obj],
    address_type: str,
    max_n: int,
    controller: str,
    hash_of: Callable[[Obj], EndpointHash] = endpoint_hash,
) -> SlicePlan:
    """Slices to create/update/delete for one address type; create+delete pairs become updates.
    `hash_of` is endpoint_hash, or a faster equal answer (e.g. remembered for known endpoints)."""
    plan = SlicePlan()
    by_port: dict[PortKey, list[Obj]] = {}
    for s in existing:
        if owned_by(s, svc):
            by_port.setdefault(port_key(s.get("ports")), []).append(s)
        else:
            plan.delete.append(s)

    for key, group in desired.items():
        plan.extend(
            _reconcile_port_mapping(
                svc, by_port.get(key, []), group, address_type, max_n, controller, hash_of
            )
        )
    for key, slices in by_port.items():
        if key not in desired:
            plan.delete += slices

    if len(existing) == len(plan.delete) and not plan.create:
        placeholder = new_slice(svc, [], address_type, controller)
        if len(plan.delete) == 1 and _is_placeholder_like(plan.delete[0], placeholder):
            plan.delete = []
        else:
            plan.create.append(placeholder)
    return _pair_creates_with_deletes(svc, plan)


def _pair_creates_with_deletes(svc: Obj, plan: SlicePlan) -> SlicePlan:
    """finalize(): recycle a slice about to be deleted for a slice about to be created."""
    i = 0
    while i < len(plan.delete) and plan.create:
        doomed = plan.delete[i]
        new = plan.create[-1]
        if doomed.get("addressType") == new.get("addressType") and owned_by(doomed, svc):
            md = dict(new["metadata"])
            md["name"] = doomed["metadata"]["name"]
            plan.create.pop()
            plan.update.append({**new, "metadata": md})
            plan.delete.pop(i)
        else:
            i += 1
    return plan


def with_trigger_time(slice_: Obj, trigger: float | None) -> Obj:
    """addTriggerTimeAnnotation: set it, or remove it when there is no new trigger."""
    md = dict(slice_["metadata"])
    ann = dict(md.get("annotations") or {})
    if trigger is not None:
        ann[ANNOTATION_TRIGGER_TIME] = rfc3339(trigger)
    else:
        ann.pop(ANNOTATION_TRIGGER_TIME, None)
    if ann:
        md["annotations"] = ann
    else:
        md.pop("annotations", None)
    return {**slice_, "metadata": md}
