"""ReplicaSet controller: keeps `spec.replicas` active pods owned through a controller
ownerReference, adopting matching orphans, releasing pods relabelled out of its selector, and
reporting replicas / fullyLabeled / ready / available / terminating in its status."""

from __future__ import annotations

from typing import Any

from app.sim.clock import SimClock
from app.sim.controllers.common import (
    WorkQueue,
    condition,
    controller_ref,
    is_active,
    is_ready,
    is_terminal,
    is_terminating,
    light_mutate,
    owner_ref,
    request_delete,
    select_pods,
    selector_matches,
)
from app.sim.controllers.events import EventRecorder
from app.sim.errors import ApiError
from app.sim.store import Key, ObjectStore, StoreEvent, key_of, matches
from app.timefmt import parse_rfc3339

Obj = dict[str, Any]
COMPONENT = "replicaset-controller"


def deletion_rank(pod: Obj) -> tuple[int, int, int, float]:
    """Lower sorts first = deleted first: unscheduled, then Pending, then not ready, then newest."""
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", ""), 0)
    created = parse_rfc3339(pod["metadata"].get("creationTimestamp")) or 0.0
    return (
        1 if (pod.get("spec") or {}).get("nodeName") else 0,
        phase_rank,
        1 if is_ready(pod) else 0,
        -created,
    )


def pod_from_template(rs: Obj) -> Obj:
    template = (rs.get("spec") or {}).get("template") or {}
    tmd = template.get("metadata") or {}
    md: Obj = {
        "generateName": rs["metadata"]["name"] + "-",
        "namespace": rs["metadata"].get("namespace", "default"),
        "labels": dict(tmd.get("labels") or {}),
        "ownerReferences": [owner_ref(rs)],
    }
    if tmd.get("annotations"):
        md["annotations"] = dict(tmd["annotations"])
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": md,
        # Stored objects are frozen, so the pod may share the template's (never edited) parts.
        "spec": dict(template.get("spec") or {}),
    }


class ReplicaSetController:
    def __init__(
        self,
        store: ObjectStore,
        clock: SimClock,
        *,
        events: EventRecorder | None = None,
        burst_replicas: int = 500,
    ) -> None:
        self.store = store
        self.clock = clock
        self.events = events or EventRecorder(store, clock)
        self.burst_replicas = burst_replicas
        self._queue = WorkQueue(clock, self._sync)
        self._owner_of: dict[Key, tuple[str, str]] = {}  # pod -> (rs name, rs uid) of its controller
        self._owned: dict[str, set[str]] = {}  # rs uid -> pod names
        self._timers: dict[Key, Any] = {}  # minReadySeconds re-checks
        self._unsubscribe: Any = None

    def start(self) -> None:
        self._unsubscribe = self.store.subscribe(self._on_event)
        for pod in self.store.list("Pod"):
            self._track(pod, deleted=False)
        for rs in self.store.list("ReplicaSet"):
            self._queue.add(key_of(rs))

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    # ---- events: only bookkeeping and enqueueing ---------------------------------------------
    def _track(self, pod: Obj, *, deleted: bool) -> tuple[str, str] | None:
        """Keep pod -> controlling ReplicaSet; returns the previous owner when it changed."""
        key = key_of(pod)
        ref = None if deleted else controller_ref(pod)
        new = (ref["name"], ref["uid"]) if ref and ref.get("kind") == "ReplicaSet" else None
        old = self._owner_of.get(key)
        if old == new:
            return None
        if old is not None:
            names = self._owned.get(old[1])
            if names is not None:
                names.discard(key[1])
                if not names:
                    del self._owned[old[1]]
            del self._owner_of[key]
        if new is not None:
            self._owner_of[key] = new
            self._owned.setdefault(new[1], set()).add(key[1])
        return old

    def _on_event(self, event: StoreEvent) -> None:
        if event.kind == "ReplicaSet":
            if event.type != "DELETED":
                self._queue.add(key_of(event.obj))
            return
        if event.kind != "Pod":
            return
        pod = event.obj
        ns = pod["metadata"].get("namespace", "")
        old = self._track(pod, deleted=event.type == "DELETED")
        if old is not None:
            self._queue.add((ns, old[0]))
        owner = self._owner_of.get(key_of(pod))
        if owner is not None:
            self._queue.add((ns, owner[0]))
        elif event.type != "DELETED" and is_active(pod):
            labels = pod["metadata"].get("labels")
            for rs in self.store.list("ReplicaSet", ns):
                if selector_matches((rs.get("spec") or {}).get("selector"), labels):
                    self._queue.add(key_of(rs))

    # ---- the sync pass -----------------------------------------------------------------------
    def _sync(self, key: Key) -> None:
        rs = self.store.get("ReplicaSet", *key)
        if rs is None or is_terminating(rs):
            return
        ns, uid = key[0], rs["metadata"]["uid"]
        selector = (rs.get("spec") or {}).get("selector")
        candidates = {p["metadata"]["name"]: p for p in select_pods(self.store, ns, selector)}
        for name in list(self._owned.get(uid, ())):
            if name not in candidates:
                pod = self.store.get("Pod", ns, name)
                if pod is not None:
                    candidates[name] = pod
        claimed: list[Obj] = []
        terminating = 0
        for pod in candidates.values():
            ref = controller_ref(pod)
            mine = ref is not None and ref.get("uid") == uid
            if not is_active(pod):
                if mine and is_terminating(pod) and not is_terminal(pod):
                    terminating += 1
                continue
            fits = selector_matches(selector, pod["metadata"].get("labels"))
            if mine and fits:
                claimed.append(pod)
            elif mine:
                self._release(pod, uid)
            elif ref is None and fits:
                adopted = self._adopt(pod, rs)
                if adopted is not None:
                    claimed.append(adopted)
        self._manage(rs, claimed)
        self._update_status(rs, claimed, terminating)

    def _release(self, pod: Obj, uid: str) -> None:
        def drop(draft: Obj) -> None:
            refs = [r for r in draft["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            if refs:
                draft["metadata"]["ownerReferences"] = refs
            else:
                draft["metadata"].pop("ownerReferences", None)

        try:
            light_mutate(self.store, "Pod", *key_of(pod), drop)
        except ApiError:
            pass

    def _adopt(self, pod: Obj, rs: Obj) -> Obj | None:
        def add(draft: Obj) -> None:
            refs = list(draft["metadata"].get("ownerReferences") or [])
            refs.append(owner_ref(rs))
            draft["metadata"]["ownerReferences"] = refs

        try:
            return light_mutate(self.store, "Pod", *key_of(pod), add)
        except ApiError:
            return None

    def _manage(self, rs: Obj, claimed: list[Obj]) -> None:
        want = int((rs.get("spec") or {}).get("replicas", 1))
        diff = len(claimed) - want
        if diff < 0:
            for _ in range(min(-diff, self.burst_replicas)):
                try:
                    pod = self.store.create(pod_from_template(rs))
                except ApiError as err:
                    self.events.record(rs, "Warning", "FailedCreate", f"Error creating: {err}", COMPONENT)
                    break
                self.events.record(
                    rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", COMPONENT
                )
        elif diff > 0:
            for pod in sorted(claimed, key=deletion_rank)[: min(diff, self.burst_replicas)]:
                name = pod["metadata"]["name"]
                try:
                    request_delete(self.store, "Pod", pod["metadata"]["namespace"], name)
                except ApiError:
                    continue
                self.events.record(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name}", COMPONENT)

    def _update_status(self, rs: Obj, pods: list[Obj], terminating: int) -> None:
        spec = rs.get("spec") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = float(spec.get("minReadySeconds") or 0)
        now = self.clock.now()
        ready = available = labeled = 0
        next_check: float | None = None
        for pod in pods:
            if matches(pod["metadata"].get("labels"), template_labels):
                labeled += 1
            if is_ready(pod):
                ready += 1
                if not min_ready:
                    available += 1
                    continue
                since = parse_rfc3339((condition(pod, "Ready") or {}).get("lastTransitionTime")) or now
                if since + min_ready <= now:
                    available += 1
                else:
                    next_check = min(next_check or since + min_ready, since + min_ready)
        key = key_of(rs)
        if next_check is not None and key not in self._timers:
            self._timers[key] = self.clock.call_at(next_check, lambda: self._recheck(key))
        status: Obj = {"replicas": len(pods)}
        if labeled:
            status["fullyLabeledReplicas"] = labeled
        if ready:
            status["readyReplicas"] = ready
        if available:
            status["availableReplicas"] = available
        status["terminatingReplicas"] = terminating
        status["observedGeneration"] = rs["metadata"].get("generation", 1)
        for c in (rs.get("status") or {}).get("conditions") or []:
            status.setdefault("conditions", []).append(c)
        if status == rs.get("status"):
            return

        def put(draft: Obj) -> None:
            draft["status"] = status

        light_mutate(self.store, "ReplicaSet", *key, put)

    def _recheck(self, key: Key) -> None:
        self._timers.pop(key, None)
        self._queue.add(key)
