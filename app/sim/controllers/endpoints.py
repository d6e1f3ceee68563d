"""The legacy Endpoints controller of the simulated cluster (pkg/controller/endpoint): one Endpoints
per selector Service, subsets repacked by port set, ready / not-ready addresses, the 1000 cap.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.sim.clock import SimClock
from app.sim.controllers.gohash import endpoints_port_hash
from app.sim.controllers.keyqueue import KeyQueue
from app.sim.controllers.podutil import (
    ANNOTATION_OVER_CAPACITY,
    ANNOTATION_TRIGGER_TIME,
    ENDPOINTS_CONTROLLER,
    LABEL_ENDPOINTS_MANAGED_BY,
    LABEL_HEADLESS,
    Key,
    TriggerTimeTracker,
    find_port,
    ip_families,
    is_external_name,
    is_headless,
    is_ipv6,
    is_pod_ready,
    pod_ips,
    port_protocol,
    selector_of,
    shared_pod_service_map,
    should_pod_be_in_endpoints,
    should_set_hostname,
    status_facts,
)
from app.sim.errors import ApiError
from app.sim.store import ObjectStore, StoreEvent, key_of
from app.timefmt import rfc3339

Obj = dict[str, Any]
MAX_CAPACITY = 1000
# Pod records one turn of the idle lane remakes before the sync proper (see _warm_up).
WARM_UP_BATCH = 2_000
_NO_PORT = ("", -1, "", "")  # RepackSubsets' sentinel for subsets without ports
# Endpoints holding a leader-election record are left alone (they have no Service).
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"


# ---- pure: building and repacking subsets -------------------------------------
def endpoint_address(svc: Obj, pod: Obj) -> Obj | None:
    """podToEndpointAddressForService: the pod IP of the Service's first family, or None."""
    want_v6 = ip_families(svc)[0] == "IPv6"
    ip = next((ip for ip in pod_ips(pod) if is_ipv6(ip) == want_v6), None)
    if ip is None:
        return None
    md = pod["metadata"]
    addr: Obj = {"ip": ip}
    if should_set_hostname(pod, svc):
        addr["hostname"] = pod["spec"]["hostname"]
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        addr["nodeName"] = node
    addr["targetRef"] = {
        "kind": "Pod",
        "namespace": md.get("namespace") or "",
        "name": md["name"],
        "uid": md.get("uid", ""),
    }
    return addr


def _endpoint_port(svc_port: Obj, num: int) -> Obj:
    out: Obj = {}
    if svc_port.get("name"):
        out["name"] = svc_port["name"]
    out["port"] = num
    out["protocol"] = port_protocol(svc_port)
    if svc_port.get("appProtocol"):
        out["appProtocol"] = svc_port["appProtocol"]
    return out


def desired_subsets(svc: Obj, pods: list[Obj]) -> list[Obj]:
    """The subsets the controller computes for a Service, repacked (syncService)."""
    spec = svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    svc_ports = list(spec.get("ports") or ())
    raw: list[Obj] = []
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, publish):
            continue
        addr = endpoint_address(svc, pod)
        if addr is None:
            continue
        field = "addresses" if publish or is_pod_ready(pod) else "notReadyAddresses"
        if not svc_ports:
            if is_headless(svc):
                raw.append({field: [addr], "ports": []})
            continue
        for sp in svc_ports:
            num = find_port(pod, sp)
            if num is not None:
                raw.append({field: [addr], "ports": [_endpoint_port(sp, num)]})
    return repack_subsets(raw)


def _port_tuple(p: Obj) -> tuple[str, int, str, str]:
    return (
        p.get("name") or "",
        int(p.get("port") or 0),
        p.get("protocol") or "TCP",
        p.get("appProtocol") or "",
    )


def _ports_in_order(pts: list[tuple[str, int, str, str]]) -> list[tuple[str, int, str, str]]:
    """A subset's ports as SortSubsets leaves them (portsByHash)."""
    return sorted(pts, key=lambda pt: endpoints_port_hash(pt[0], pt[1], pt[2], pt[3] or None))


def _addr_sort_key(a: Obj) -> tuple[str, str]:
    return (a.get("ip") or "", (a.get("targetRef") or {}).get("uid") or "")


def repack_subsets(subsets: list[Obj]) -> list[Obj]:
    """endpoints.RepackSubsets: group addresses by the exact port set they offer; not-ready wins
    over ready for the same address and port; addresses sorted by IP (then UID)."""
    all_addrs: dict[tuple[str, str], Obj] = {}
    ports: dict[tuple[str, int, str, str], Obj] = {}
    by_port: dict[tuple[str, int, str, str], dict[tuple[str, str], bool]] = {}
    for ss in subsets:
        port_list = [(_port_tuple(p), p) for p in ss.get("ports") or ()] or [(_NO_PORT, None)]
        for pt, p in port_list:
            if p is not None:
                ports.setdefault(pt, p)
            addr_map = by_port.setdefault(pt, {})
            for field, ready in (("addresses", True), ("notReadyAddresses", False)):
                for a in ss.get(field) or ():
                    ak = _addr_sort_key(a)
                    all_addrs.setdefault(ak, a)
                    if addr_map.get(ak, True):
                        addr_map[ak] = ready
    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[tuple[str, int, str, str]]] = {}
    for pt, addr_map in by_port.items():
        group = groups.setdefault(frozenset(addr_map.items()), [])
        if pt != _NO_PORT:
            group.append(pt)
    final: list[Obj] = []
    for members, pts in groups.items():
        ready = sorted((all_addrs[ak] for ak, r in members if r), key=_addr_sort_key)
        not_ready = sorted((all_addrs[ak] for ak, r in members if not r), key=_addr_sort_key)
        subset: Obj = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if pts:
            subset["ports"] = [ports[pt] for pt in _ports_in_order(pts)]
        final.append(subset)
    final.sort(key=_subset_sort_key)
    return final


def _subset_sort_key(ss: Obj) -> tuple[Any, ...]:
    first = (ss.get("addresses") or ss.get("notReadyAddresses") or [{}])[0]
    return (tuple(_port_tuple(p) for p in ss.get("ports") or ()), _addr_sort_key(first))


def truncate_subsets(subsets: list[Obj]) -> tuple[list[Obj], bool]:
    """truncateEndpoints: keep at most 1000 addresses, ready ones first, spread over the subsets in
    proportion. Returns (subsets, truncated)."""
    total_ready = sum(len(s.get("addresses") or ()) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return subsets, False
    truncate_ready = total_ready > MAX_CAPACITY
    limit = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
    num_total = total_ready if truncate_ready else total_not_ready
    can_add = limit
    out: list[Obj] = []
    for s in subsets:
        s = dict(s)
        field = "addresses" if truncate_ready else "notReadyAddresses"
        n_in = len(s.get(field) or ())
        to_add = min(math.ceil(n_in / num_total * limit), can_add)
        kept = list(s.get(field) or ())[:to_add]
        if kept:
            s[field] = kept
        else:
            s.pop(field, None)
        if truncate_ready:
            s.pop("notReadyAddresses", None)
        can_add -= len(kept)
        out.append(s)
    return out, True


def count_addresses(subsets: list[Obj]) -> int:
    return sum(len(s.get("addresses") or ()) + len(s.get("notReadyAddresses") or ()) for s in subsets)


# ---- the same, from per-pod records kept between syncs --------------------------------------
_AddrKey = tuple[str, str]  # (ip, pod uid): how RepackSubsets sorts addresses
_PortTuple = tuple[str, int, str, str]


@dataclass(slots=True)
class Member:
    """What the controller keeps of one selected pod between syncs (rebuilt when the stored pod
    object changes): its address key, readiness, ports, and its EndpointAddress once built."""

    pod: Obj
    ready_at: float | None
    key: _AddrKey | None  # None: the pod gets no address
    ready: bool
    ports: tuple[tuple[_PortTuple, Obj], ...]
    addr: Obj | None = None


@dataclass
class PortCache:
    """Endpoint ports built so far for one Service (by Service port index and number), the port
    lists made of them, so the pods of a Service share theirs, and the list each distinct set of
    container ports resolves to (a Deployment's pods share their template's `ports` lists)."""

    ports: dict[tuple[int, int], Obj] = dataclasses.field(default_factory=dict)
    lists: dict[tuple[int | None, ...], tuple[tuple[_PortTuple, Obj], ...]] = dataclasses.field(
        default_factory=dict
    )
    by_containers: dict[tuple[int, ...], tuple[list[Any], tuple[tuple[_PortTuple, Obj], ...]]] = (
        dataclasses.field(default_factory=dict)
    )

    def of(self, svc: Obj, pod: Obj) -> tuple[tuple[_PortTuple, Obj], ...]:
        spec = pod.get("spec") or {}
        sources = [c.get("ports") for c in spec.get("containers") or ()]
        sources += [(c.get("ports"), c.get("restartPolicy")) for c in spec.get("initContainers") or ()]
        key = tuple(map(id, sources))
        known = self.by_containers.get(key)
        if known is not None and all(a is b for a, b in zip(known[0], sources, strict=True)):
            return known[1]
        ports: list[tuple[_PortTuple, Obj]] = []
        nums: list[int | None] = []
        for i, sp in enumerate((svc.get("spec") or {}).get("ports") or ()):
            num = find_port(pod, sp)
            nums.append(num)
            if num is not None:
                port = self.ports.get((i, num))
                if port is None:
                    port = self.ports[(i, num)] = _endpoint_port(sp, num)
                ports.append((_port_tuple(port), port))
        shared = self.lists.setdefault(tuple(nums), tuple(ports))
        self.by_containers[key] = (sources, shared)  # holding `sources` keeps their ids theirs
        return shared


def member(svc: Obj, pod: Obj, cache: PortCache) -> Member:
    """The record `pack_endpoints` works from."""
    f = status_facts(pod)
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    if f.terminal or not f.ips or (f.terminating and not publish):  # ShouldPodBeInEndpoints
        return Member(pod, f.ready_at, None, False, ())
    want_v6 = ip_families(svc)[0] == "IPv6"
    ip = next((ip for ip in f.ips if is_ipv6(ip) == want_v6), None)
    if ip is None:
        return Member(pod, f.ready_at, None, False, ())
    uid = pod["metadata"].get("uid") or ""
    return Member(pod, f.ready_at, (ip, uid), publish or f.ready, cache.of(svc, pod))


def pack_endpoints(svc: Obj, members: list[Member]) -> tuple[list[Obj], bool]:
    """truncate_subsets(desired_subsets(svc, pods)) from the pods' records (in pod-name order),
    building EndpointAddresses only for the addresses kept. Returns (subsets, truncated)."""
    headless = is_headless(svc)
    has_ports = bool((svc.get("spec") or {}).get("ports"))
    ports: dict[_PortTuple, Obj] = {}
    by_port: dict[_PortTuple, dict[_AddrKey, bool]] = {}
    first: dict[_AddrKey, Member] = {}
    no_port: tuple[tuple[_PortTuple, Obj | None], ...] = ((_NO_PORT, None),)
    for m in members:
        if m.key is None:
            continue
        port_list: tuple[tuple[_PortTuple, Obj | None], ...] = m.ports
        if not has_ports:
            if not headless:
                continue
            port_list = no_port
        for pt, p in port_list:
            if p is not None:
                ports.setdefault(pt, p)
            addr_map = by_port.setdefault(pt, {})
            first.setdefault(m.key, m)
            if addr_map.get(m.key, True):
                addr_map[m.key] = m.ready
    groups: dict[frozenset[tuple[_AddrKey, bool]], list[_PortTuple]] = {}
    for pt, addr_map in by_port.items():
        group = groups.setdefault(frozenset(addr_map.items()), [])
        if pt != _NO_PORT:
            group.append(pt)
    packed: list[tuple[list[_AddrKey], list[_AddrKey], list[_PortTuple]]] = []
    for members_set, pts in groups.items():
        ready = sorted(k for k, r in members_set if r)
        not_ready = sorted(k for k, r in members_set if not r)
        packed.append((ready, not_ready, _ports_in_order(pts)))
    packed.sort(key=lambda x: (tuple(x[2]), (x[0] or x[1] or [("", "")])[0]))
    # truncateEndpoints, on the address keys
    total_ready = sum(len(r) for r, _, _ in packed)
    total_not_ready = sum(len(n) for _, n, _ in packed)
    over = total_ready + total_not_ready > MAX_CAPACITY
    if over:
        truncate_ready = total_ready > MAX_CAPACITY
        limit = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
        num_total = total_ready if truncate_ready else total_not_ready
        can_add = limit
        cut = []
        for ready, not_ready, pts in packed:
            keys = ready if truncate_ready else not_ready
            kept = keys[: min(math.ceil(len(keys) / num_total * limit), can_add)]
            can_add -= len(kept)
            if truncate_ready:
                cut.append((kept, [], pts))
            else:
                cut.append((ready, kept, pts))
        packed = cut

    def addr(k: _AddrKey) -> Obj:
        m = first[k]
        if m.addr is None:
            m.addr = endpoint_address(svc, m.pod)
        return m.addr  # type: ignore[return-value]

    subsets: list[Obj] = []
    for ready, not_ready, pts in packed:
        subset: Obj = {}
        if ready:
            subset["addresses"] = [addr(k) for k in ready]
        if not_ready:
            subset["notReadyAddresses"] = [addr(k) for k in not_ready]
        if pts:
            subset["ports"] = [ports[pt] for pt in pts]
        subsets.append(subset)
    return subsets, over


def desired_labels(svc: Obj) -> dict[str, str]:
    labels = {k: v for k, v in (svc["metadata"].get("labels") or {}).items() if k != LABEL_HEADLESS}
    labels[LABEL_ENDPOINTS_MANAGED_BY] = ENDPOINTS_CONTROLLER
    if is_headless(svc):
        labels[LABEL_HEADLESS] = ""
    return labels


class EndpointsController:
    """Watches Services and Pods (and deletions of Endpoints); one sync per Service key."""

    def __init__(self, store: ObjectStore, clock: SimClock) -> None:
        self.store = store
        self.clock = clock
        self.queue = KeyQueue(clock, self.sync, "endpoint-controller")
        self._map = shared_pod_service_map(store)
        self._tracker = TriggerTimeTracker()
        # Per Service: the Service object the records were made for, and a record per pod.
        self._members: dict[Key, tuple[Obj, dict[str, Member]]] = {}
        self._stale: dict[Key, list[Obj]] = {}  # pods whose records are still to remake (_warm_up)
        self._unsubscribe: Any = None

    def start(self) -> EndpointsController:
        self._unsubscribe = self.store.subscribe(self._on_event)
        for svc in self.store.list("Service"):
            self.queue.add(self._map.service_changed("ADDED", svc))
        for pod in self.store.list("Pod"):
            self._map.pod_changed("ADDED", pod)
        for ep in self.store.list("Endpoints"):  # checkLeftoverEndpoints
            if LEADER_ANNOTATION not in (ep["metadata"].get("annotations") or {}):
                self.queue.add(key_of(ep))
        return self

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, ev: StoreEvent) -> None:
        if ev.kind == "Pod":
            for key in self._map.pod_event(ev.rv, ev.type, ev.obj):
                self.queue.add(key)
        elif ev.kind == "Service":
            self.queue.add(self._map.service_event(ev.rv, ev.type, ev.obj))
        elif ev.kind == "Endpoints" and ev.type == "DELETED" and not self.queue.writing:
            self.queue.add(key_of(ev.obj))

    def _records(self, key: Key, svc: Obj, pods: list[Obj]) -> list[Member]:
        """A record per selected pod, remade only for pods whose stored object changed."""
        cached = self._members.get(key)
        old = cached[1] if cached is not None and cached[0] is svc else {}
        fresh: dict[str, Member] = {}
        cache = PortCache()
        out: list[Member] = []
        for pod in pods:
            name = pod["metadata"]["name"]
            m = old.get(name)
            if m is None or m.pod is not pod:
                m = member(svc, pod, cache)
            fresh[name] = m
            out.append(m)
        self._members[key] = (svc, fresh)
        return out

    def _warm_up(self, key: Key, svc: Obj, pods_of: Callable[[], list[Obj]]) -> bool:
        """When many pods changed since the last sync, remake a batch of their records and come
        back (records are pure functions of pod and Service: building them over several turns
        changes nothing but the length of each turn). True: not done yet."""
        cached = self._members.get(key)
        if cached is None or cached[0] is not svc:
            cached = self._members[key] = (svc, {})
            self._stale.pop(key, None)
        records = cached[1]
        todo = self._stale.get(key)
        if todo is None:
            todo = [
                p for p in pods_of() if (m := records.get(p["metadata"]["name"])) is None or m.pod is not p
            ]
            if len(todo) <= WARM_UP_BATCH:
                return False
            self._stale[key] = todo  # worked off over the next turns without another scan
        cache = PortCache()
        for pod in todo[-WARM_UP_BATCH:]:  # one changed since the scan is remade by the sync
            records[pod["metadata"]["name"]] = member(svc, pod, cache)
        del todo[-WARM_UP_BATCH:]
        if not todo:
            del self._stale[key]
        self.queue.add(key)
        return True

    def sync(self, key: Key) -> int:
        ns, name = key
        svc = self.store.get("Service", ns, name)
        current = self.store.get("Endpoints", ns, name)
        if svc is None:
            # The Service is gone: so are its Endpoints, hand-written ones of a selector-less
            # Service included (syncService deletes before it looks at the selector).
            self._tracker.forget(key)
            self._members.pop(key, None)
            self._stale.pop(key, None)
            if current is not None:
                with self.queue.own_writes():
                    try:
                        self.store.delete("Endpoints", ns, name)
                    except ApiError as err:
                        if err.code != 404:
                            raise
            return 1
        selector = selector_of(svc)
        if is_external_name(svc) or selector is None:
            self._members.pop(key, None)
            return 1  # hand-written Endpoints are the user's (and the mirroring controller's)
        if self._warm_up(key, svc, lambda: self.store.list("Pod", ns, selector)):
            return WARM_UP_BATCH
        pods = self.store.list("Pod", ns, selector, by_name=True)
        records = self._records(key, svc, pods)
        trigger = self._tracker.compute_times(svc, ((m.pod["metadata"]["name"], m.ready_at) for m in records))
        subsets, truncated = pack_endpoints(svc, records)
        labels = desired_labels(svc)

        if current is not None and not truncated:
            cur_subsets = current.get("subsets") or []
            cur_ann = current["metadata"].get("annotations") or {}
            capacity_ok = (
                count_addresses(cur_subsets) <= MAX_CAPACITY and ANNOTATION_OVER_CAPACITY not in cur_ann
            )
            if cur_subsets == subsets and (current["metadata"].get("labels") or {}) == labels and capacity_ok:
                return len(pods) + 1

        md: Obj = dict(current["metadata"]) if current is not None else {"name": name, "namespace": ns}
        ann = dict(md.get("annotations") or {})
        if trigger is not None:
            ann[ANNOTATION_TRIGGER_TIME] = rfc3339(trigger)
        else:
            ann.pop(ANNOTATION_TRIGGER_TIME, None)
        if truncated:
            ann[ANNOTATION_OVER_CAPACITY] = "truncated"
        else:
            ann.pop(ANNOTATION_OVER_CAPACITY, None)
        md["labels"] = labels
        if ann:
            md["annotations"] = ann
        else:
            md.pop("annotations", None)
        obj: Obj = {"kind": "Endpoints", "apiVersion": "v1", "metadata": md}
        if subsets:
            obj["subsets"] = subsets
        with self.queue.own_writes():
            if current is None:
                self.store.create(obj)
            else:
                self.store.update(obj)
        return len(pods) + 1
