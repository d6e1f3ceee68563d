"""Garbage collector: when an owner is deleted, its dependents (by ownerReferences uid) go too
(background propagation: Deployment -> ReplicaSets -> Pods, Service -> EndpointSlices); pods
are deleted gracefully. A dependent that still has a live owner only loses the dead reference.
A big owner's dependents are deleted in batches across clock callbacks."""

from __future__ import annotations

from typing import Any

from app.kinds import KINDS
from app.sim.clock import SimClock
from app.sim.controllers.common import BATCH, WorkQueue, request_delete
from app.sim.errors import ApiError
from app.sim.store import ObjectStore, StoreEvent

Obj = dict[str, Any]
_Dep = tuple[str, str, str]  # (kind, namespace, name)
_NO_REFS: list[Obj] = []


def _uids(refs: list[Obj]) -> frozenset[str]:
    return frozenset(r["uid"] for r in refs if r.get("uid"))


class GarbageCollector:
    def __init__(self, store: ObjectStore, clock: SimClock, *, batch: int = BATCH) -> None:
        self.store = store
        self.clock = clock
        self.batch = max(1, batch)
        self._queue = WorkQueue(clock, self._sync, batch=1)
        self._dependents: dict[str, set[_Dep]] = {}  # owner uid -> dependents
        # dependent -> its ownerReferences list as last seen (stored lists are frozen, and the pods
        # of one ReplicaSet share theirs, so this costs a reference a pod)
        self._refs: dict[_Dep, list[Obj]] = {}
        self._doomed: dict[str, list[_Dep]] = {}  # owner uid -> dependents still to handle
        self._unsubscribe: Any = None

    def start(self) -> None:
        self._unsubscribe = self.store.subscribe(self._on_event)
        for kind in KINDS:
            for obj in self.store.list(kind):
                self._on_event(StoreEvent("ADDED", kind, obj, 0))

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    def _on_event(self, event: StoreEvent) -> None:
        md = event.obj["metadata"]
        refs: list[Obj] = _NO_REFS if event.type == "DELETED" else md.get("ownerReferences") or _NO_REFS
        dep: _Dep = (event.kind, md.get("namespace", ""), md["name"])
        old = self._refs.get(dep, _NO_REFS)
        if refs is not old:
            new_uids, old_uids = _uids(refs), _uids(old)
            for uid in old_uids - new_uids:
                deps = self._dependents.get(uid)
                if deps is not None:
                    deps.discard(dep)
                    if not deps:
                        del self._dependents[uid]
            for uid in new_uids - old_uids:
                self._dependents.setdefault(uid, set()).add(dep)
            if refs:
                self._refs[dep] = refs
            else:
                self._refs.pop(dep, None)
        if event.type == "DELETED" and md.get("uid") in self._dependents:
            self._queue.add(md["uid"])

    def _owner_alive(self, namespace: str, ref: Obj) -> bool:
        kind = ref.get("kind", "")
        info = KINDS.get(kind)
        if info is None:
            return True  # a kind we do not simulate: assume it exists
        owner = self.store.get(kind, namespace if info.namespaced else "", ref.get("name", ""))
        return owner is not None and owner["metadata"].get("uid") == ref.get("uid")

    def _sync(self, owner_uid: str) -> None:
        todo = self._doomed.get(owner_uid)
        if todo is None:
            todo = self._doomed[owner_uid] = sorted(self._dependents.get(owner_uid, ()), reverse=True)
        for _ in range(min(self.batch, len(todo))):
            self._handle(*todo.pop())
        if todo:
            self._queue.add(owner_uid)  # the rest in a later callback
        else:
            del self._doomed[owner_uid]

    def _handle(self, kind: str, ns: str, name: str) -> None:
        obj = self.store.get(kind, ns, name)
        if obj is None:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        alive = [r for r in refs if self._owner_alive(ns, r)]
        try:
            if not alive:
                if not obj["metadata"].get("deletionTimestamp"):
                    request_delete(self.store, kind, ns, name)
            elif len(alive) != len(refs):
                keep = {r.get("uid") for r in alive}

                def prune(draft: Obj) -> None:
                    draft["metadata"]["ownerReferences"] = [
                        r for r in draft["metadata"].get("ownerReferences") or [] if r.get("uid") in keep
                    ]

                self.store.mutate(kind, ns, name, prune)
        except ApiError:
            pass
