"""What the scheduler and kubelet stand-ins keep of each Node: its address, its pod CIDR, the
pods it admits (status.allocatable.pods) and the pod IPs in use."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from app.sim.store import StoreEvent

Obj = dict[str, Any]


@dataclass
class NodeInfo:
    name: str
    host_ip: str
    cidr: ipaddress.IPv4Network | None
    ready: bool = True
    max_pods: int | None = None  # status.allocatable.pods; None: as many as there are pod IPs
    used: set[str] = field(default_factory=set)
    _next: int = 2

    @property
    def capacity(self) -> int:
        """Pod IPs the node can hand out: .0 is the network, .1 the bridge gateway, the last the
        broadcast address."""
        return max(0, self.cidr.num_addresses - 3) if self.cidr else 0

    @property
    def pod_limit(self) -> int:
        """How many pods the scheduler may place here."""
        return self.capacity if self.max_pods is None else self.max_pods

    def allocate_ip(self) -> str | None:
        """Sequential like the host-local CNI plugin, wrapping around, skipping IPs in use."""
        if self.cidr is None or len(self.used) >= self.capacity:
            return None
        base, last = int(self.cidr.network_address), self.cidr.num_addresses - 2
        for _ in range(self.capacity):
            offset = self._next
            self._next = self._next + 1 if self._next < last else 2
            ip = str(ipaddress.IPv4Address(base + offset))
            if ip not in self.used:
                self.used.add(ip)
                return ip
        return None

    def reserve_ip(self, ip: str) -> None:
        self.used.add(ip)


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def node_info(node: Obj, old: NodeInfo | None = None) -> NodeInfo:
    md, spec, status = node["metadata"], node.get("spec") or {}, node.get("status") or {}
    host_ip = next((a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), "")
    try:
        cidr = ipaddress.IPv4Network(spec["podCIDR"]) if spec.get("podCIDR") else None
    except ValueError:
        cidr = None
    ready_cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    ready = ready_cond is None or ready_cond.get("status") == "True"
    max_pods = _int((status.get("allocatable") or {}).get("pods"))
    info = NodeInfo(md["name"], host_ip, cidr, ready, max_pods)
    if old is not None and old.cidr == cidr:
        info.used, info._next = old.used, old._next
    return info


class NodeCache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}

    def on_node(self, event: StoreEvent) -> None:
        name = event.obj["metadata"]["name"]
        if event.type == "DELETED":
            self.nodes.pop(name, None)
        else:
            self.nodes[name] = node_info(event.obj, self.nodes.get(name))
