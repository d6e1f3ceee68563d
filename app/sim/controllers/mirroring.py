"""The EndpointSlice mirroring controller of the simulated cluster (pkg/controller/
endpointslicemirroring): hand-written Endpoints of a selectorless Service become EndpointSlices.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from app.sim.clock import SimClock
from app.sim.controllers import slice_packing as packing
from app.sim.controllers.endpoints import repack_subsets
from app.sim.controllers.gohash import sort_slice_ports
from app.sim.controllers.keyqueue import KeyQueue
from app.sim.controllers.podutil import (
    ANNOTATION_LAST_APPLIED,
    ANNOTATION_TRIGGER_TIME,
    ENDPOINTS_CONTROLLER,
    LABEL_ENDPOINTS_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_SKIP_MIRROR,
    LABEL_SLICE_MANAGED_BY,
    MIRROR_CONTROLLER,
    Key,
    selector_of,
)
from app.sim.errors import ApiError
from app.sim.store import ObjectStore, StoreEvent, key_of

Obj = dict[str, Any]
MAX_ENDPOINTS_PER_SUBSET = 1000
_SKIPPED_ANNOTATIONS = (ANNOTATION_TRIGGER_TIME, ANNOTATION_LAST_APPLIED)


# ---- pure ---------------------------------------------------------------------
def should_mirror(endpoints: Obj | None) -> bool:
    """shouldMirror, plus: Endpoints the endpoint controller manages are never mirrored."""
    if endpoints is None:
        return False
    md = endpoints.get("metadata") or {}
    labels = md.get("labels") or {}
    if labels.get(LABEL_SKIP_MIRROR) == "true":
        return False
    if labels.get(LABEL_ENDPOINTS_MANAGED_BY) == ENDPOINTS_CONTROLLER:
        return False
    return "control-plane.alpha.kubernetes.io/leader" not in (md.get("annotations") or {})


def address_to_endpoint(address: Obj, ready: bool) -> tuple[Obj, str] | None:
    """addressToEndpoint: the parsed IP, only the ready condition, targetRef, nodeName, hostname."""
    try:
        ip = ipaddress.ip_address(str(address.get("ip") or "").strip())
    except ValueError:
        return None
    ep: Obj = {"addresses": [str(ip)], "conditions": {"ready": ready}}
    if address.get("hostname"):
        ep["hostname"] = address["hostname"]
    if address.get("targetRef"):
        ep["targetRef"] = dict(address["targetRef"])
    if address.get("nodeName"):
        ep["nodeName"] = address["nodeName"]
    return ep, ("IPv6" if ip.version == 6 else "IPv4")


def slice_ports(ep_ports: list[Obj] | None) -> list[Obj]:
    out: list[Obj] = []
    for p in ep_ports or ():
        port: Obj = {
            "name": p.get("name") or "",
            "protocol": p.get("protocol") or "TCP",
            "port": p.get("port"),
        }
        if p.get("appProtocol"):
            port["appProtocol"] = p["appProtocol"]
        out.append(port)
    return sort_slice_ports(out)  # NewPortMapKey sorts the list it keys in place


def mirrored_labels(endpoints: Obj) -> dict[str, str]:
    labels = dict(endpoints["metadata"].get("labels") or {})
    labels[LABEL_SERVICE_NAME] = endpoints["metadata"]["name"]
    labels[LABEL_SLICE_MANAGED_BY] = MIRROR_CONTROLLER
    return labels


def mirrored_annotations(endpoints: Obj) -> dict[str, str]:
    ann = endpoints["metadata"].get("annotations") or {}
    return {k: v for k, v in ann.items() if k not in _SKIPPED_ANNOTATIONS}


def new_mirrored_slice(endpoints: Obj, ports: list[Obj], address_type: str, name: str | None) -> Obj:
    md = endpoints["metadata"]
    meta: Obj = {}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = f"{md['name']}-"
    meta["namespace"] = md.get("namespace") or "default"
    meta["labels"] = mirrored_labels(endpoints)
    ann = mirrored_annotations(endpoints)
    if ann:
        meta["annotations"] = ann
    meta["ownerReferences"] = [
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "name": md["name"],
            "uid": md.get("uid", ""),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return {
        "kind": "EndpointSlice",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": meta,
        "addressType": address_type,
        "endpoints": [],
        "ports": ports,
    }


def _group_key(ports: list[Obj], address_type: str) -> tuple[str, packing.PortKey]:
    return (address_type, packing.port_key(ports))


def plan_mirror(endpoints: Obj, existing: list[Obj]) -> packing.SlicePlan:
    """reconcile(): one slice per (subset ports x address family), at most 1000 addresses a subset."""
    desired: dict[tuple[str, packing.PortKey], packing.DesiredGroup] = {}
    for subset in repack_subsets(list(endpoints.get("subsets") or ())):
        ports = slice_ports(subset.get("ports"))
        added = 0
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field) or ():
                if added >= MAX_ENDPOINTS_PER_SUBSET:
                    break
                converted = address_to_endpoint(address, ready)
                if converted is None:
                    continue
                ep, family = converted
                group = desired.setdefault(_group_key(ports, family), packing.DesiredGroup(ports))
                group.endpoints[packing.endpoint_hash(ep)] = ep
                added += 1

    existing_by_key: dict[tuple[str, packing.PortKey], list[Obj]] = {}
    for s in existing:
        existing_by_key.setdefault(_group_key(s.get("ports") or [], s.get("addressType") or ""), []).append(s)

    plan = packing.SlicePlan()
    labels = mirrored_labels(endpoints)
    ann = mirrored_annotations(endpoints)
    for key, group in desired.items():
        slices = existing_by_key.get(key, [])
        if not group.endpoints:
            plan.delete += slices
            continue
        if slices:
            plan.delete += slices[1:]
            first = slices[0]
            unchanged = _same_endpoints(first.get("endpoints") or [], group.endpoints)
            if (
                unchanged
                and (first["metadata"].get("labels") or {}) == labels
                and (first["metadata"].get("annotations") or {}) == ann
            ):
                continue
        new = new_mirrored_slice(
            endpoints, group.ports, key[0], slices[0]["metadata"]["name"] if slices else None
        )
        new["endpoints"] = list(group.endpoints.values())[:MAX_ENDPOINTS_PER_SUBSET]
        (plan.update if slices else plan.create).append(new)
    for key, slices in existing_by_key.items():
        if key not in desired:
            plan.delete += slices
    return _recycle(plan)


def _same_endpoints(current: list[Obj], desired: dict[packing.EndpointHash, Obj]) -> bool:
    if len(current) != len(desired):
        return False
    for ep in current:
        want = desired.get(packing.endpoint_hash(ep))
        if want is None or not packing.endpoints_equal_beyond_hash(want, ep):
            return False
    return True


def _recycle(plan: packing.SlicePlan) -> packing.SlicePlan:
    """recycleSlices: turn create+delete pairs of the same address type into updates."""
    i = 0
    while i < len(plan.delete) and plan.create:
        doomed = plan.delete[i]
        match = next((c for c in plan.create if c.get("addressType") == doomed.get("addressType")), None)
        if match is None:
            i += 1
            continue
        plan.create.remove(match)
        md = {k: v for k, v in match["metadata"].items() if k != "generateName"}
        md = {"name": doomed["metadata"]["name"], **md}
        plan.update.append({**match, "metadata": md})
        plan.delete.pop(i)
    return plan


class EndpointSliceMirroringController:
    """Watches Endpoints, Services and its own slices; one sync per Endpoints key."""

    def __init__(self, store: ObjectStore, clock: SimClock) -> None:
        self.store = store
        self.clock = clock
        self.queue = KeyQueue(clock, self.sync, "endpointslicemirroring-controller")
        self._unsubscribe: Any = None

    def start(self) -> EndpointSliceMirroringController:
        self._unsubscribe = self.store.subscribe(self._on_event)
        for ep in self.store.list("Endpoints"):
            if should_mirror(ep):
                self.queue.add(key_of(ep))
        for s in self.store.list("EndpointSlice"):
            self._on_slice(s)
        return self

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_slice(self, s: Obj) -> None:
        labels = s["metadata"].get("labels") or {}
        if labels.get(LABEL_SLICE_MANAGED_BY) == MIRROR_CONTROLLER and labels.get(LABEL_SERVICE_NAME):
            self.queue.add((s["metadata"].get("namespace") or "", labels[LABEL_SERVICE_NAME]))

    def _on_event(self, ev: StoreEvent) -> None:
        if ev.kind == "Endpoints":
            # A DELETED event carries the last state: sync to clean up whatever was mirrored.
            if should_mirror(ev.obj) or ev.type != "ADDED":
                self.queue.add(key_of(ev.obj))
        elif ev.kind == "Service":
            # Only Services without a selector matter (also when they gain or lose one).
            self.queue.add(key_of(ev.obj))
        elif ev.kind == "EndpointSlice" and not self.queue.writing:
            self._on_slice(ev.obj)

    def _mirrored(self, ns: str, name: str) -> list[Obj]:
        return self.store.list(
            "EndpointSlice", ns, {LABEL_SERVICE_NAME: name, LABEL_SLICE_MANAGED_BY: MIRROR_CONTROLLER}
        )

    def sync(self, key: Key) -> None:
        ns, name = key
        endpoints = self.store.get("Endpoints", ns, name)
        svc = self.store.get("Service", ns, name)
        existing = self._mirrored(ns, name)
        if endpoints is None or not should_mirror(endpoints) or svc is None or selector_of(svc) is not None:
            plan = packing.SlicePlan(delete=existing)
        else:
            plan = plan_mirror(endpoints, existing)
        if not plan:
            return
        with self.queue.own_writes():
            if endpoints is None or not endpoints["metadata"].get("deletionTimestamp"):
                for s in plan.create:
                    self.store.create(s)
            for s in plan.update:
                self.store.update(s)
            for s in plan.delete:
                try:
                    self.store.delete("EndpointSlice", ns, s["metadata"]["name"])
                except ApiError as err:
                    if err.code != 404:
                        raise
