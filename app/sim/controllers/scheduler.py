"""default-scheduler stand-in: binds unscheduled pods round-robin over ready nodes with room (a
node admits status.allocatable.pods); a pod that fits nowhere gets PodScheduled=False, reason
Unschedulable, with the scheduler's own message, and is retried when room appears."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from app.sim.clock import SimClock
from app.sim.controllers.common import (
    WorkQueue,
    condition,
    is_terminal,
    is_terminating,
    light_mutate,
    stamp,
)
from app.sim.controllers.events import EventRecorder
from app.sim.controllers.nodes import NodeCache, NodeInfo
from app.sim.store import Key, ObjectStore, StoreEvent, key_of
from app.sim.topology import label_bound_pod

Obj = dict[str, Any]
COMPONENT = "default-scheduler"
NOT_READY_TAINT = "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"


def unschedulable_message(nodes: Iterable[NodeInfo], placed: dict[str, int]) -> str:
    """FitError.Error() of kube-scheduler (pkg/scheduler/framework) for a pod that fits no node:
    the per-node reasons counted and sorted, then the default preemption plugin's own verdict, e.g.
    "0/3 nodes are available: 3 Too many pods. preemption: 0/3 nodes are available: 3 No
    preemption victims found for incoming pod.." (the doubled period is the scheduler's)."""
    nodes = list(nodes)
    if not nodes:
        return "no nodes available to schedule pods"
    full = sum(1 for n in nodes if n.ready and placed.get(n.name, 0) >= n.pod_limit)
    tainted = sum(1 for n in nodes if not n.ready)
    reasons, preemption = [], []
    if full:
        reasons.append(f"{full} Too many pods")
        preemption.append(f"{full} No preemption victims found for incoming pod")
    if tainted:
        reasons.append(f"{tainted} {NOT_READY_TAINT}")
        preemption.append(f"{tainted} Preemption is not helpful for scheduling")
    total = len(nodes)
    post_filter = f"preemption: 0/{total} nodes are available: {', '.join(sorted(preemption))}."
    return f"0/{total} nodes are available: {', '.join(sorted(reasons))}. {post_filter}."


class Scheduler:
    def __init__(self, store: ObjectStore, clock: SimClock, *, events: EventRecorder | None = None) -> None:
        self.store = store
        self.clock = clock
        self.events = events or EventRecorder(store, clock)
        self._nodes = NodeCache()
        self._ready: list[NodeInfo] = []  # ready nodes by name, the round-robin order
        self._queue = WorkQueue(clock, self._sync)
        self._bound: dict[Key, str] = {}  # pod -> node, for every pod holding a place on a node
        self._per_node: dict[str, int] = {}
        self._waiting: OrderedDict[Key, None] = OrderedDict()  # unschedulable pods, oldest first
        self._rr = 0
        self._writing = False  # the scheduler's own pod writes: nothing to react to
        self._unsubscribe: Any = None

    def start(self) -> None:
        self._unsubscribe = self.store.subscribe(self._on_event)
        for node in self.store.list("Node"):
            self._on_event(StoreEvent("ADDED", "Node", node, 0))
        for pod in self.store.list("Pod"):
            self._on_event(StoreEvent("ADDED", "Pod", pod, 0))

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    def _on_event(self, event: StoreEvent) -> None:
        if event.kind == "Node":
            self._nodes.on_node(event)
            self._ready = sorted((n for n in self._nodes.nodes.values() if n.ready), key=lambda n: n.name)
            self._retry_waiting()
            return
        if event.kind != "Pod" or self._writing:
            return
        key = key_of(event.obj)
        node = (event.obj.get("spec") or {}).get("nodeName")
        gone = event.type == "DELETED" or is_terminal(event.obj)
        if node and not gone:
            self._hold(key, node)
        elif key in self._bound:
            self._release(key)
            self._retry_waiting()
        if event.type == "DELETED":
            self._waiting.pop(key, None)
        elif not node and not is_terminating(event.obj) and key not in self._waiting:
            self._queue.add(key)

    def _hold(self, key: Key, node: str) -> None:
        prev = self._bound.get(key)
        if prev == node:
            return
        if prev is not None:
            self._per_node[prev] -= 1
        self._bound[key] = node
        self._per_node[node] = self._per_node.get(node, 0) + 1

    def _release(self, key: Key) -> None:
        node = self._bound.pop(key)
        self._per_node[node] -= 1

    def _retry_waiting(self) -> None:
        """Room appeared: as many waiting pods as now fit go back to the queue, oldest first."""
        room = sum(max(0, n.pod_limit - self._per_node.get(n.name, 0)) for n in self._ready)
        for _ in range(min(room, len(self._waiting))):
            key, _ = self._waiting.popitem(last=False)
            self._queue.add(key)

    def _pick_node(self) -> NodeInfo | None:
        nodes = self._ready
        for i in range(len(nodes)):
            n = nodes[(self._rr + i) % len(nodes)]
            if self._per_node.get(n.name, 0) < n.pod_limit:
                self._rr = (self._rr + i + 1) % len(nodes)
                return n
        return None

    def _write(self, key: Key, fn: Any) -> Obj:
        self._writing = True
        try:
            return light_mutate(self.store, "Pod", *key, fn)
        finally:
            self._writing = False

    def _sync(self, key: Key) -> None:
        pod = self.store.get("Pod", *key)
        if pod is None or is_terminating(pod) or (pod.get("spec") or {}).get("nodeName"):
            return
        if (pod.get("spec") or {}).get("schedulerName", "default-scheduler") != "default-scheduler":
            return
        node = self._pick_node()
        now = stamp(self.clock.now())
        if node is None:
            self._waiting[key] = None
            msg = unschedulable_message(self._nodes.nodes.values(), self._per_node)
            prev = condition(pod, "PodScheduled")
            if prev is None or prev.get("status") != "False" or prev.get("message") != msg:
                cond = {
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": now,
                    "reason": "Unschedulable",
                    "message": msg,
                }
                self._write(key, lambda p: set_condition(p, cond))
                self.events.record(pod, "Warning", "FailedScheduling", msg, COMPONENT)
            return

        node_obj = self.store.get("Node", "", node.name)

        def bind(draft: Obj) -> None:
            # pods/binding: the API server sets nodeName, and PodTopologyLabels admission copies the
            # node's zone and region labels onto the pod in the same write.
            draft["spec"]["nodeName"] = node.name
            label_bound_pod(draft, node_obj)
            set_condition(
                draft,
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now},
            )

        bound = self._write(key, bind)
        self._hold(key, node.name)
        self.events.record(
            bound, "Normal", "Scheduled", f"Successfully assigned {key[0]}/{key[1]} to {node.name}", COMPONENT
        )


def set_condition(pod: Obj, cond: Obj) -> None:
    """Put `cond` in place of the pod's condition of the same type (replacing the list)."""
    status = pod.setdefault("status", {})
    conds = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]]
    conds.append(cond)
    status["conditions"] = conds
