"""The simulated cluster's object store: Kubernetes-shaped dicts with resourceVersions,
a label index, a bounded event history per kind for watch-from-resourceVersion (like the API
server's watch cache), and subscribers.

Stored objects are shared, never copied on read: treat every dict you get as frozen and
write through `create`/`update`/`mutate`/`delete` (mutate deep-copies for you). Objects may
share sub-objects with each other and with their older versions.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from app.kinds import KINDS
from app.sim.clock import SimClock
from app.sim.errors import ApiError, already_exists, conflict, expired, not_found
from app.timefmt import rfc3339

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped kinds

# Kinds whose metadata.generation counts changes outside metadata and status.
_GENERATION_KINDS = frozenset({"Deployment", "ReplicaSet", "Pod", "EndpointSlice"})
# Alphabet and length of generateName suffixes (k8s.io/apiserver names.SimpleNameGenerator).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True, slots=True)
class StoreEvent:
    type: str  # "ADDED" | "MODIFIED" | "DELETED"
    kind: str
    obj: Obj
    rv: int


def key_of(obj: Obj) -> Key:
    md = obj.get("metadata") or {}
    return (md.get("namespace") or "", md.get("name") or "")


def matches(labels: dict[str, str] | None, selector: dict[str, str]) -> bool:
    """Equality-based selector (matchLabels / Service spec.selector). An empty selector matches all."""
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


_SERVER_MANAGED = frozenset({"resourceVersion", "managedFields"})
_NOT_SPEC = frozenset({"metadata", "status", "kind", "apiVersion"})
_METADATA = frozenset({"metadata"})


def _same_except(a: Obj, b: Obj, skip: frozenset[str]) -> bool:
    """a == b but for the keys in `skip` (without copying either: values shared by the two
    versions of an object compare by identity first)."""
    for k, v in a.items():
        if k not in skip and (k not in b or (b[k] is not v and b[k] != v)):
            return False
    return all(k in a or k in skip for k in b)


def _same_labels(a: Obj, b: Obj) -> bool:
    la, lb = a["metadata"].get("labels"), b["metadata"].get("labels")
    return la is lb or (la or {}) == (lb or {})


def _same_body(a: Obj, b: Obj) -> bool:
    """What a change is judged on: everything except the server-managed metadata."""
    return _same_except(a, b, _METADATA) and _same_except(
        a.get("metadata") or {}, b.get("metadata") or {}, _SERVER_MANAGED
    )


# Watch history kept per kind. A watch from an older resourceVersion gets 410 Expired and relists,
# as from a real API server's watch cache; the bounds keep a 10,000-pod cluster's memory flat: at
# most HISTORY_PER_KIND events, and at most HISTORY_ITEMS endpoints (or addresses) in the old
# EndpointSlices (Endpoints) kept, each of which may hold a hundred or a thousand.
HISTORY_PER_KIND = 1_000
HISTORY_ITEMS = 5_000


def history_weight(kind: str, obj: Obj) -> int:
    """What an event of this kind counts against HISTORY_ITEMS: the endpoints it holds."""
    if kind == "EndpointSlice":
        return 1 + len(obj.get("endpoints") or ())
    if kind == "Endpoints":
        subsets = obj.get("subsets") or ()
        return 1 + sum(len(s.get("addresses") or ()) + len(s.get("notReadyAddresses") or ()) for s in subsets)
    return 1


class ObjectStore:
    def __init__(self, clock: SimClock, *, history_limit: int = HISTORY_PER_KIND, seed: int = 0) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self._rv = 100  # a fresh real cluster is never at 0
        self._objs: dict[str, dict[Key, Obj]] = {k: {} for k in KINDS}
        # (kind, namespace, label key, label value) -> names
        self._labels: dict[tuple[str, str, str, str], set[str]] = {}
        self._history: dict[str, deque[StoreEvent]] = {k: deque(maxlen=history_limit) for k in KINDS}
        self._history_weight: dict[str, int] = dict.fromkeys(KINDS, 0)
        # Per kind: the resourceVersion of the newest event no longer in history (a watch from
        # before it may have missed something).
        self._compacted: dict[str, int] = dict.fromkeys(KINDS, self._rv)
        self._subs: list[Callable[[StoreEvent], None]] = []
        # Admission hooks run on every create/update before it is stored, like the API server's
        # defaulting: fn(operation "CREATE"|"UPDATE", new object, old object or None) -> object.
        self.admission: list[Callable[[str, Obj, Obj | None], Obj]] = []
        # Set when this store's cluster is replaced (a classroom scenario swapped another in):
        # open watches end, so a `kubectl get -w` stops instead of silently watching a dead cluster.
        self.retired = False
        self._retire_hooks: list[Callable[[], None]] = []

    # ---- reads -------------------------------------------------------------
    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self._objs[kind].get((namespace or "", name))

    def require(self, kind: str, namespace: str, name: str) -> Obj:
        obj = self.get(kind, namespace, name)
        if obj is None:
            raise not_found(kind, name)
        return obj

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        selector: dict[str, str] | None = None,
        *,
        by_name: bool = False,
    ) -> list[Obj]:
        """Objects of a kind, optionally in one namespace and matching an equality selector
        (`by_name`: in name order, with a selector and a namespace).

        With a selector and a namespace, the label index answers without a scan.
        """
        objs = self._objs[kind]
        if selector and namespace is not None:
            names: Iterable[str] = self._candidates(kind, namespace, selector)
            if by_name:
                names = sorted(names)
            out = [objs[(namespace, n)] for n in names]
            if len(selector) == 1:  # the index entry is exactly the matches
                return out
            return [o for o in out if matches(o["metadata"].get("labels"), selector)]
        items: Iterable[Obj] = objs.values()
        if namespace is not None:
            items = (o for o in items if (o["metadata"].get("namespace") or "") == namespace)
        if selector:
            items = (o for o in items if matches(o["metadata"].get("labels"), selector))
        if by_name:
            return sorted(items, key=lambda o: o["metadata"]["name"])
        return list(items)

    def count(self, kind: str) -> int:
        return len(self._objs[kind])

    def _candidates(self, kind: str, namespace: str, selector: dict[str, str]) -> set[str]:
        best: set[str] | None = None
        for k, v in selector.items():
            names = self._labels.get((kind, namespace, k, v), set())
            if best is None or len(names) < len(best):
                best = names
            if not best:
                break
        return set(best or ())

    # ---- writes ------------------------------------------------------------
    def new_uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def name_suffix(self, length: int = 5) -> str:
        return "".join(self.rng.choice(_SUFFIX_ALPHABET) for _ in range(length))

    def create(self, obj: Obj) -> Obj:
        """Store a new object; fills uid, resourceVersion, creationTimestamp, generation, generateName."""
        kind = obj["kind"]
        info = KINDS[kind]
        obj = dict(obj)
        md = dict(obj.get("metadata") or {})
        if info.namespaced:
            md["namespace"] = md.get("namespace") or "default"
        else:
            md.pop("namespace", None)
        if not md.get("name"):
            if not md.get("generateName"):
                raise ApiError(422, "Invalid", f"{kind}: name or generateName is required")
            for _ in range(100):
                candidate = md["generateName"] + self.name_suffix()
                if (md.get("namespace", ""), candidate) not in self._objs[kind]:
                    md["name"] = candidate
                    break
        key = (md.get("namespace", ""), md["name"])
        if key in self._objs[kind]:
            raise already_exists(kind, md["name"])
        md["uid"] = self.new_uid()
        md["creationTimestamp"] = rfc3339(self.clock.now())
        if kind in _GENERATION_KINDS:
            md["generation"] = 1
        md.pop("deletionTimestamp", None)
        obj["metadata"] = md
        obj["apiVersion"] = info.api_version
        for hook in self.admission:
            obj = hook("CREATE", obj, None)
        return self._commit("ADDED", kind, key, obj)

    def update(self, obj: Obj) -> Obj:
        """Replace an object. A resourceVersion in the new object must match (optimistic concurrency);
        an update that changes nothing is a no-op, as on a real API server."""
        kind = obj["kind"]
        key = key_of(obj)
        old = self._objs[kind].get(key)
        if old is None:
            raise not_found(kind, key[1])
        md = dict(obj.get("metadata") or {})
        sent_rv = md.get("resourceVersion")
        if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise conflict(kind, key[1])
        # Immutable, server-owned metadata survives any update.
        for f in ("uid", "creationTimestamp", "generation", "namespace", "deletionTimestamp"):
            if f in old["metadata"]:
                md.setdefault(f, old["metadata"][f])
            if f in ("uid", "creationTimestamp") and f in old["metadata"]:
                md[f] = old["metadata"][f]
        md["resourceVersion"] = old["metadata"]["resourceVersion"]
        obj = {**obj, "metadata": md, "apiVersion": KINDS[kind].api_version}
        for hook in self.admission:
            obj = hook("UPDATE", obj, old)
        md = obj["metadata"]
        if _same_body(obj, old):
            return old
        if kind in _GENERATION_KINDS and not _same_except(obj, old, _NOT_SPEC):
            md["generation"] = int(old["metadata"].get("generation", 1)) + 1
        return self._commit("MODIFIED", kind, key, obj, old)

    def mutate(self, kind: str, namespace: str, name: str, fn: Callable[[Obj], object]) -> Obj:
        """Deep-copy the stored object, let `fn` change the copy in place, store it.
        If fn returns False, nothing is written."""
        current = self.require(kind, namespace, name)
        draft = copy.deepcopy(current)
        if fn(draft) is False:
            return current
        draft["metadata"].pop("resourceVersion", None)
        return self.update(draft)

    def delete(self, kind: str, namespace: str, name: str) -> Obj:
        """Remove at once (graceful deletion is the kubelet stand-in's job, via deletionTimestamp)."""
        key = (namespace or "", name)
        old = self._objs[kind].get(key)
        if old is None:
            raise not_found(kind, name)
        return self._commit("DELETED", kind, key, old, old)

    def _commit(self, type_: str, kind: str, key: Key, obj: Obj, old: Obj | None = None) -> Obj:
        """Store `obj` (whose top level and metadata dict the store owns unless it is `old`) under
        the next resourceVersion, index it, keep it in history and tell the subscribers."""
        self._rv += 1
        if obj is old:  # a deletion: the last state, stamped with the deletion's resourceVersion
            obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self._rv)}}
        else:
            obj["metadata"]["resourceVersion"] = str(self._rv)
        relabelled = old is None or type_ == "DELETED" or not _same_labels(old, obj)
        if old is not None and relabelled:
            self._index(kind, key, old, remove=True)
        if type_ == "DELETED":
            del self._objs[kind][key]
        else:
            self._objs[kind][key] = obj
            if relabelled:
                self._index(kind, key, obj, remove=False)
        history = self._history[kind]
        weight = self._history_weight[kind] + history_weight(kind, obj)
        while history and (len(history) == history.maxlen or weight > HISTORY_ITEMS):
            gone = history.popleft()
            weight -= history_weight(kind, gone.obj)
            self._compacted[kind] = gone.rv
        self._history_weight[kind] = weight
        event = StoreEvent(type_, kind, obj, self._rv)
        history.append(event)
        for fn in list(self._subs):
            fn(event)
        return obj

    def _index(self, kind: str, key: Key, obj: Obj, *, remove: bool) -> None:
        ns, name = key
        for k, v in (obj["metadata"].get("labels") or {}).items():
            idx = (kind, ns, k, v)
            if remove:
                names = self._labels.get(idx)
                if names is not None:
                    names.discard(name)
                    if not names:
                        del self._labels[idx]
            else:
                self._labels.setdefault(idx, set()).add(name)

    # ---- watch -------------------------------------------------------------
    def subscribe(self, fn: Callable[[StoreEvent], None]) -> Callable[[], None]:
        """Call fn synchronously after every change. Returns the unsubscribe function."""
        self._subs.append(fn)

        def unsubscribe() -> None:
            if fn in self._subs:
                self._subs.remove(fn)

        return unsubscribe

    def on_retire(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call fn when the store is retired. Returns the function that unregisters it."""
        self._retire_hooks.append(fn)

        def unregister() -> None:
            if fn in self._retire_hooks:
                self._retire_hooks.remove(fn)

        return unregister

    def retire(self) -> None:
        self.retired = True
        for fn in list(self._retire_hooks):
            fn()

    def events_since(self, rv: int, kind: str | None = None) -> list[StoreEvent]:
        """Events after resourceVersion rv (of one kind, or all), or 410 Expired when the history
        no longer reaches back to it."""
        kinds = [kind] if kind is not None else list(self._history)
        compacted = max(self._compacted[k] for k in kinds)
        if rv < compacted:
            raise expired(rv, compacted)
        out: list[StoreEvent] = []
        for k in kinds:
            newer: list[StoreEvent] = []
            for event in reversed(self._history[k]):
                if event.rv <= rv:
                    break
                newer.append(event)
            out += reversed(newer)
        if kind is None:
            out.sort(key=lambda e: e.rv)
        return out

    def compact(self) -> None:
        """Forget all history, like an etcd compaction: watches from any older rv get 410."""
        for k, history in self._history.items():
            history.clear()
            self._history_weight[k] = 0
            self._compacted[k] = self._rv
