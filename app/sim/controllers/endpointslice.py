"""The EndpointSlice controller of the simulated cluster (pkg/controller/endpointslice): keeps the
slices of every selector Service in step with its pods, through the store, on the sim clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.sim.clock import SimClock
from app.sim.controllers import slice_packing as packing
from app.sim.controllers.gohash import sort_slice_ports
from app.sim.controllers.keyqueue import KeyQueue
from app.sim.controllers.podutil import (
    LABEL_SERVICE_NAME,
    LABEL_SLICE_MANAGED_BY,
    SLICE_CONTROLLER,
    Key,
    TriggerTimeTracker,
    find_port,
    ip_families,
    is_external_name,
    is_ipv6,
    port_protocol,
    selector_of,
    shared_pod_service_map,
    should_set_hostname,
    status_facts,
)
from app.sim.errors import ApiError
from app.sim.store import ObjectStore, StoreEvent

Obj = dict[str, Any]
ZONE_LABEL = "topology.kubernetes.io/zone"
# Pod records one turn of the idle lane remakes before the reconcile (see _warm_up).
WARM_UP_BATCH = 2_000
# Slice writes one turn makes; a plan's others wait for the Service's next turn (see _write_some).
APPLY_BATCH = 10


# ---- pure: pod -> endpoint, ports -------------------------------------------
def endpoint_ports(svc: Obj, pod: Obj) -> list[Obj]:
    """getEndpointPorts: one port per Service port whose target the pod has, in the order
    NewPortMapKey sorts them into (by hash; the slice is written with them in that order)."""
    spec = svc.get("spec") or {}
    out: list[Obj] = []
    for sp in spec.get("ports") or ():
        num = find_port(pod, sp)
        if num is None:
            continue
        port: Obj = {"name": sp.get("name") or "", "protocol": port_protocol(sp), "port": num}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return sort_slice_ports(out)


@lru_cache(maxsize=8)
def _conditions(ready: bool, serving: bool, terminating: bool) -> Obj:
    return {"ready": ready, "serving": serving, "terminating": terminating}


def pod_to_endpoint(pod: Obj, node: Obj | None, svc: Obj, address_type: str) -> Obj:
    """podToEndpoint: addresses of the family, the three conditions, hostname, targetRef, node, zone."""
    md = pod["metadata"]
    f = status_facts(pod)
    serving, terminating = f.ready, f.terminating
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    want_v6 = address_type == "IPv6"
    ep: Obj = {
        "addresses": [ip for ip in f.ips if is_ipv6(ip) == want_v6],
        # One shared dict per combination (stored objects are frozen): 10,000 endpoints, 8 dicts.
        "conditions": _conditions(publish or (serving and not terminating), serving, terminating),
    }
    if should_set_hostname(pod, svc):
        ep["hostname"] = pod["spec"]["hostname"]
    ep["targetRef"] = {
        "kind": "Pod",
        "namespace": md.get("namespace") or "",
        "name": md["name"],
        "uid": md.get("uid", ""),
    }
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        ep["nodeName"] = node_name
    zone = ((node or {}).get("metadata") or {}).get("labels", {}).get(ZONE_LABEL) if node else None
    if zone:
        ep["zone"] = zone
    return ep


class PortLists:
    """The endpoint ports of the pods of one Service, worked out once per distinct set of container
    ports (the pods of a Deployment share their template's `ports` lists, frozen like all stored
    objects), each port list shared by the pods it belongs to."""

    def __init__(self) -> None:
        self._by_group: dict[packing.PortKey, list[Obj]] = {}
        self._by_containers: dict[tuple[int, ...], tuple[list[Obj], packing.PortKey, list[Any]]] = {}

    def of(self, svc: Obj, pod: Obj) -> tuple[list[Obj], packing.PortKey]:
        spec = pod.get("spec") or {}
        sources = [c.get("ports") for c in spec.get("containers") or ()]
        sources += [(c.get("ports"), c.get("restartPolicy")) for c in spec.get("initContainers") or ()]
        key = tuple(map(id, sources))
        known = self._by_containers.get(key)
        if known is not None and all(a is b for a, b in zip(known[2], sources, strict=True)):
            return known[0], known[1]
        ports = endpoint_ports(svc, pod)
        group = packing.port_key(ports)
        ports = self._by_group.setdefault(group, ports)
        self._by_containers[key] = (ports, group, sources)  # holding `sources` keeps their ids theirs
        return ports, group


@dataclass(slots=True)
class SliceMember:
    """What the controller keeps of one selected pod for one address family between syncs
    (remade when the stored pod or its node object changes)."""

    pod: Obj
    node: Obj | None
    ready_at: float | None
    ports: list[Obj] | None  # None: the pod is not an endpoint (finished, or no IP)
    group: packing.PortKey
    ep: Obj | None  # None: no address of the family, or its node is not known yet
    hash: packing.EndpointHash | None
    waiting: bool  # its node is not known (and not-ready addresses are not published)


def slice_member(
    svc: Obj,
    pod: Obj,
    node: Obj | None,
    family: str,
    publish: bool,
    ports_of: PortLists,
) -> SliceMember:
    f = status_facts(pod)
    if f.terminal or not f.ips:  # ShouldPodBeInEndpoints (terminating pods are kept)
        return SliceMember(pod, node, f.ready_at, None, (), None, None, False)
    ports, group = ports_of.of(svc, pod)
    if node is None and not publish:
        return SliceMember(pod, node, f.ready_at, ports, group, None, None, True)
    ep: Obj | None = pod_to_endpoint(pod, node, svc, family)
    if ep is not None and not ep["addresses"]:
        ep = None
    return SliceMember(
        pod, node, f.ready_at, ports, group, ep, packing.endpoint_hash(ep) if ep else None, False
    )


class EndpointSliceController:
    """Watches Services, Pods, Nodes and its own slices; one sync per Service key."""

    def __init__(self, store: ObjectStore, clock: SimClock, *, max_endpoints_per_slice: int = 100) -> None:
        if not 1 <= max_endpoints_per_slice <= 1000:
            raise ValueError("max_endpoints_per_slice must be between 1 and 1000")
        self.store = store
        self.clock = clock
        self.max_endpoints_per_slice = max_endpoints_per_slice
        self.queue = KeyQueue(clock, self.sync, "endpointslice-controller")
        self._map = shared_pod_service_map(store)
        self._tracker = TriggerTimeTracker()
        self._waiting_for_node: dict[str, set[Key]] = {}
        # Per Service: the Service object the records were made for; per family, a record per pod.
        self._members: dict[Key, tuple[Obj, dict[str, dict[str, SliceMember]]]] = {}
        self._writes: dict[Key, deque[tuple[str, Obj]]] = {}  # slice writes of a plan not yet made
        self._stale: dict[Key, list[tuple[str, Obj]]] = {}  # records still to remake (see _warm_up)
        self._unsubscribe: Any = None

    # ---- lifecycle -------------------------------------------------------------
    def start(self) -> EndpointSliceController:
        self._unsubscribe = self.store.subscribe(self._on_event)
        for svc in self.store.list("Service"):
            self.queue.add(self._map.service_changed("ADDED", svc))
        for pod in self.store.list("Pod"):
            self._map.pod_changed("ADDED", pod)
        for s in self.store.list("EndpointSlice"):
            labels = s["metadata"].get("labels") or {}
            if labels.get(LABEL_SLICE_MANAGED_BY) == SLICE_CONTROLLER and labels.get(LABEL_SERVICE_NAME):
                self.queue.add((s["metadata"].get("namespace") or "", labels[LABEL_SERVICE_NAME]))
        return self

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # ---- events (enqueue only; never write here) ---------------------------------
    def _on_event(self, ev: StoreEvent) -> None:
        kind = ev.kind
        if kind == "Pod":
            for key in self._map.pod_event(ev.rv, ev.type, ev.obj):
                self.queue.add(key)
        elif kind == "Service":
            self.queue.add(self._map.service_event(ev.rv, ev.type, ev.obj))
        elif kind == "EndpointSlice":
            if self.queue.writing:
                return
            labels = ev.obj["metadata"].get("labels") or {}
            if labels.get(LABEL_SLICE_MANAGED_BY) == SLICE_CONTROLLER and labels.get(LABEL_SERVICE_NAME):
                self.queue.add((ev.obj["metadata"].get("namespace") or "", labels[LABEL_SERVICE_NAME]))
        elif kind == "Node" and ev.type == "ADDED":
            for key in self._waiting_for_node.pop(ev.obj["metadata"]["name"], ()):
                self.queue.add(key)

    # ---- sync ------------------------------------------------------------------------
    def _existing(self, ns: str, name: str) -> list[Obj]:
        return self.store.list(
            "EndpointSlice", ns, {LABEL_SERVICE_NAME: name, LABEL_SLICE_MANAGED_BY: SLICE_CONTROLLER}
        )

    def sync(self, key: Key) -> int:
        if key in self._writes:  # a plan still being written: go on with it first
            self._write_some(key)
            return APPLY_BATCH
        ns, name = key
        svc = self.store.get("Service", ns, name)
        if svc is None or is_external_name(svc) or selector_of(svc) is None:
            # No slices for these; a deleted Service's slices go too (the garbage collector's job).
            if svc is None:
                self._tracker.forget(key)
            self._members.pop(key, None)
            self._stale.pop(key, None)
            self._apply(key, packing.SlicePlan(delete=self._existing(ns, name)), None, svc)
            return 1
        selector = selector_of(svc) or {}
        families = ip_families(svc)
        publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
        if self._warm_up(key, svc, lambda: self.store.list("Pod", ns, selector), families, publish):
            return WARM_UP_BATCH
        pods = self.store.list("Pod", ns, selector, by_name=True)
        existing = self._existing(ns, name)
        cached = self._members.get(key)
        old_members = cached[1] if cached is not None and cached[0] is svc else {}
        members: dict[str, dict[str, SliceMember]] = {}
        ports_of = PortLists()

        plan = packing.SlicePlan()
        plan.delete = [s for s in existing if s.get("addressType") not in families]
        nodes: dict[str, Obj | None] = {}
        for family in families:
            old = old_members.get(family, {})
            fresh = members[family] = {}
            desired: dict[packing.PortKey, packing.DesiredGroup] = {}
            # Hashes of the endpoints built here, by identity (they are alive: `fresh` holds them);
            # stored slices mostly hold these very objects.
            known: dict[int, packing.EndpointHash] = {}
            last_key: packing.PortKey | None = None
            group = packing.DesiredGroup([])
            for pod in pods:
                pod_name = pod["metadata"]["name"]
                node_name = (pod.get("spec") or {}).get("nodeName") or ""
                if node_name not in nodes:
                    nodes[node_name] = self.store.get("Node", "", node_name) if node_name else None
                node = nodes[node_name]
                m = old.get(pod_name)
                if m is None or m.pod is not pod or m.node is not node:
                    m = slice_member(svc, pod, node, family, publish, ports_of)
                fresh[pod_name] = m
                if m.ports is None:
                    continue
                if m.group is not last_key:  # the pods of a Service mostly share one port list
                    last_key = m.group
                    group = desired.get(m.group)
                    if group is None:
                        group = desired[m.group] = packing.DesiredGroup(m.ports)
                if m.waiting:
                    # Node unknown: leave the pod out and retry when the node appears.
                    self._waiting_for_node.setdefault(node_name, set()).add(key)
                    continue
                if m.ep is not None and m.hash is not None:
                    group.endpoints[m.hash] = m.ep
                    known[id(m.ep)] = m.hash
            mine = [s for s in existing if s.get("addressType") == family]
            plan.extend(
                packing.reconcile_address_type(
                    svc,
                    desired,
                    mine,
                    family,
                    self.max_endpoints_per_slice,
                    SLICE_CONTROLLER,
                    lambda ep, known=known: known.get(id(ep)) or packing.endpoint_hash(ep),
                )
            )
        self._members[key] = (svc, members)
        first = members[families[0]] if families else {}
        trigger = self._tracker.compute_times(svc, ((n, m.ready_at) for n, m in first.items()))
        self._apply(key, plan, trigger, svc)
        return len(pods) + 1

    def _warm_up(
        self, key: Key, svc: Obj, pods_of: Callable[[], list[Obj]], families: list[str], publish: bool
    ) -> bool:
        """When many pods changed since the last sync, remake a batch of their records and come
        back (the records are pure functions of pod, node and Service, so building them over
        several turns changes nothing but the length of each turn). True: not done yet."""
        cached = self._members.get(key)
        if cached is None or cached[0] is not svc:
            cached = self._members[key] = (svc, {f: {} for f in families})
            self._stale.pop(key, None)
        todo = self._stale.get(key)
        if todo is None:
            todo = []
            pods = pods_of()
            for family in families:
                records = cached[1].setdefault(family, {})
                todo += [
                    (family, p)
                    for p in pods
                    if (m := records.get(p["metadata"]["name"])) is None or m.pod is not p
                ]
            if len(todo) <= WARM_UP_BATCH:
                return False
            self._stale[key] = todo  # worked off over the next turns without another scan
        ports_of = PortLists()
        nodes: dict[str, Obj | None] = {}
        for family, pod in todo[-WARM_UP_BATCH:]:
            # A pod changed since the scan gets its record remade by the reconcile: no re-read here.
            node_name = (pod.get("spec") or {}).get("nodeName") or ""
            if node_name not in nodes:
                nodes[node_name] = self.store.get("Node", "", node_name) if node_name else None
            cached[1][family][pod["metadata"]["name"]] = slice_member(
                svc, pod, nodes[node_name], family, publish, ports_of
            )
        del todo[-WARM_UP_BATCH:]
        if not todo:
            del self._stale[key]
        self.queue.add(key)
        return True

    def _apply(self, key: Key, plan: packing.SlicePlan, trigger: float | None, svc: Obj | None) -> None:
        """Queue the plan's writes (creates, updates, deletes) and make the first batch of them."""
        if not plan:
            return
        terminating_svc = svc is not None and bool(svc["metadata"].get("deletionTimestamp"))
        writes: deque[tuple[str, Obj]] = deque()
        if not terminating_svc:
            writes.extend(("create", packing.with_trigger_time(s, trigger)) for s in plan.create)
        writes.extend(("update", packing.with_trigger_time(s, trigger)) for s in plan.update)
        writes.extend(("delete", s) for s in plan.delete)
        self._writes[key] = writes
        self._write_some(key)

    def _write_some(self, key: Key) -> int:
        """Make up to APPLY_BATCH of a Service's queued slice writes (the rest in the Service's next
        turn: a 10,000-endpoint Service's hundred slices are not written in one go). Returns how
        many are left."""
        writes = self._writes.get(key)
        if writes is None:
            return 0
        try:
            with self.queue.own_writes():
                for _ in range(min(APPLY_BATCH, len(writes))):
                    op, s = writes.popleft()
                    if op == "create":
                        self.store.create(s)
                    elif op == "update":
                        self.store.update(s)
                    else:
                        try:
                            self.store.delete(
                                "EndpointSlice", s["metadata"].get("namespace") or "", s["metadata"]["name"]
                            )
                        except ApiError as err:
                            if err.code != 404:
                                raise
        except Exception:
            self._writes.pop(key, None)  # the sync is retried from scratch
            raise
        if writes:
            self.queue.add(key)
            return len(writes)
        del self._writes[key]
        return 0
