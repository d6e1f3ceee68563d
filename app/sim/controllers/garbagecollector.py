"""Garbage collector: when an owner is deleted, its dependents (by ownerReferences uid) go too
(background propagation: Deployment -> ReplicaSets -> Pods, Service -> EndpointSlices); pods
are deleted gracefully. A dependent that still has a live owner only loses the dead reference."""

from __future__ import annotations

from typing import Any

from app.sim.clock import SimClock
from app.sim.controllers.common import WorkQueue, request_delete
from app.sim.errors import ApiError
from app.sim.store import ObjectStore, StoreEvent

Obj = dict[str, Any]
_Dep = tuple[str, str, str]  # (kind, namespace, name)


class GarbageCollector:
    def __init__(self, store: ObjectStore, clock: SimClock) -> None:
        self.store = store
        self.clock = clock
        self._queue = WorkQueue(clock, self._sync)
        self._dependents: dict[str, set[_Dep]] = {}  # owner uid -> dependents
        self._refs: dict[_Dep, frozenset[str]] = {}  # dependent -> owner uids
        self._unsubscribe: Any = None

    def start(self) -> None:
        self._unsubscribe = self.store.subscribe(self._on_event)
        from app.kinds import KINDS

        for kind in KINDS:
            for obj in self.store.list(kind):
                self._on_event(StoreEvent("ADDED", kind, obj, 0))

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    def _on_event(self, event: StoreEvent) -> None:
        md = event.obj["metadata"]
        dep: _Dep = (event.kind, md.get("namespace", ""), md["name"])
        refs = (
            frozenset()
            if event.type == "DELETED"
            else frozenset(r["uid"] for r in md.get("ownerReferences") or () if r.get("uid"))
        )
        old = self._refs.get(dep, frozenset())
        if refs != old:
            for uid in old - refs:
                deps = self._dependents.get(uid)
                if deps is not None:
                    deps.discard(dep)
                    if not deps:
                        del self._dependents[uid]
            for uid in refs - old:
                self._dependents.setdefault(uid, set()).add(dep)
            if refs:
                self._refs[dep] = refs
            else:
                self._refs.pop(dep, None)
        if event.type == "DELETED" and md.get("uid") in self._dependents:
            self._queue.add(md["uid"])

    def _owner_alive(self, namespace: str, ref: Obj) -> bool:
        from app.kinds import KINDS

        kind = ref.get("kind", "")
        info = KINDS.get(kind)
        if info is None:
            return True  # a kind we do not simulate: assume it exists
        owner = self.store.get(kind, namespace if info.namespaced else "", ref.get("name", ""))
        return owner is not None and owner["metadata"].get("uid") == ref.get("uid")

    def _sync(self, owner_uid: str) -> None:
        for kind, ns, name in list(self._dependents.get(owner_uid, ())):
            obj = self.store.get(kind, ns, name)
            if obj is None:
                continue
            refs = obj["metadata"].get("ownerReferences") or []
            alive = [r for r in refs if self._owner_alive(ns, r)]
            try:
                if not alive:
                    if not obj["metadata"].get("deletionTimestamp"):
                        request_delete(self.store, kind, ns, name)
                elif len(alive) != len(refs):
                    keep = {r.get("uid") for r in alive}

                    def prune(draft: Obj, keep: set[Any] = keep) -> None:
                        draft["metadata"]["ownerReferences"] = [
                            r for r in draft["metadata"].get("ownerReferences") or [] if r.get("uid") in keep
                        ]

                    self.store.mutate(kind, ns, name, prune)
            except ApiError:
                continue
