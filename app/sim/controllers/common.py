"""Helpers shared by the simulated controllers: the coalesced, batched work queue, owner
references, label selectors, pod state tests, shared timestamps and sub-objects, and the API
server's (graceful) deletion semantics."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import lru_cache
from typing import Any

from app.sim.clock import SimClock, Timer
from app.sim.store import ObjectStore, matches
from app.timefmt import rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# The per-pod readiness switch read by the kubelet stand-in: "fail" makes readiness probes fail.
READINESS_ANNOTATION = "sim.slicescope.io/readiness"
# Keys (pods, owners) one timer callback handles: a 10,000-pod scale-up is many short callbacks,
# so the event loop (and /healthz) is never held for long.
BATCH = 50


class WorkQueue:
    """Keys to sync, coalesced (a key queued twice syncs once) and handled in clock.call_soon
    passes of at most `batch` keys each, in the order they were first queued."""

    def __init__(self, clock: SimClock, sync: Callable[[Any], object], *, batch: int = BATCH) -> None:
        self._clock = clock
        self._sync = sync
        self._batch = max(1, batch)
        # OrderedDict: popitem(last=False) is O(1), where next(iter(dict)) after deleting from the
        # front scans every deleted slot (quadratic over a 10,000-key burst).
        self._keys: OrderedDict[Hashable, None] = OrderedDict()
        self._timer: Timer | None = None

    def add(self, key: Hashable) -> None:
        self._keys[key] = None
        if self._timer is None:
            self._timer = self._clock.call_soon(self._run)

    def __len__(self) -> int:
        return len(self._keys)

    def _run(self) -> None:
        self._timer = None
        keys = self._keys
        for _ in range(min(self._batch, len(keys))):
            key, _ = keys.popitem(last=False)
            try:
                self._sync(key)
            except Exception:  # one broken object must not stop the controller
                log.exception("simulated controller failed to sync %r", key)
        if keys and self._timer is None:
            self._timer = self._clock.call_soon(self._run)


# ---- shared values ----------------------------------------------------------------------------
@lru_cache(maxsize=512)
def _stamp(second: int) -> str:
    return rfc3339(second)


def stamp(ts: float) -> str:
    """rfc3339(ts), one shared string per second (thousands of pods carry the same few)."""
    return _stamp(int(ts))


_SHARED: dict[tuple[Any, ...], Obj] = {}
_SHARED_LIMIT = 1024  # distinct shared dicts kept (conditions carry timestamps: churn makes new ones)


def shared(d: Obj) -> Obj:
    """One shared instance of a small flat dict (a condition, a host IP entry): stored objects
    are frozen, so the thousands of pods whose conditions are equal can hold the same dict."""
    try:
        key = tuple(d.items())
        hash(key)
    except TypeError:
        return d
    got = _SHARED.get(key)
    if got is None:
        if len(_SHARED) >= _SHARED_LIMIT:
            _SHARED.clear()
        got = _SHARED[key] = d
    return got


# ---- owner references -----------------------------------------------------------------------
def controller_ref(obj: Obj) -> Obj | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def owner_ref(owner: Obj) -> Obj:
    """A controller ownerReference to `owner`, as the built-in controllers write it."""
    md = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": md["name"],
        "uid": md["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


# ---- label selectors --------------------------------------------------------------------------
def selector_matches(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """metav1.LabelSelector semantics. A nil selector matches nothing; an empty one everything."""
    if selector is None:
        return False
    labels = labels or {}
    if not matches(labels, selector.get("matchLabels") or {}):
        return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def select_pods(store: ObjectStore, namespace: str, selector: Obj | None) -> list[Obj]:
    """Pods in a namespace matching a LabelSelector, answered from the label index when possible."""
    if selector is None:
        return []
    candidates = store.list("Pod", namespace, selector.get("matchLabels") or None)
    if not selector.get("matchExpressions"):
        return candidates
    return [p for p in candidates if selector_matches(selector, p["metadata"].get("labels"))]


# ---- pod state ------------------------------------------------------------------------------
def is_terminating(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_active(pod: Obj) -> bool:
    """Counts toward a ReplicaSet's replicas: not terminating and not finished."""
    return not is_terminating(pod) and not is_terminal(pod)


def condition(obj: Obj, type_: str) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return c
    return None


def is_ready(pod: Obj) -> bool:
    c = condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


# ---- cheap writes ---------------------------------------------------------------------------
def light_copy(obj: Obj) -> Obj:
    """A copy deep enough for the controllers' edits: the top level, metadata, spec and status
    dicts. Below them everything is shared with the stored object, so an edit REPLACES a value
    (labels, annotations, ownerReferences, conditions, containerStatuses) and never changes one in
    place. Far cheaper than copy.deepcopy, and the versions of a pod share what did not change."""
    out = dict(obj)
    out["metadata"] = dict(obj.get("metadata") or {})
    for part in ("spec", "status"):
        if isinstance(obj.get(part), dict):
            out[part] = dict(obj[part])
    return out


def light_mutate(
    store: ObjectStore, kind: str, namespace: str, name: str, fn: Callable[[Obj], object]
) -> Obj:
    """store.mutate for edits that replace values below metadata/spec/status (see light_copy)."""
    current = store.require(kind, namespace, name)
    draft = light_copy(current)
    if fn(draft) is False:
        return current
    draft["metadata"].pop("resourceVersion", None)
    return store.update(draft)


# ---- deletion -------------------------------------------------------------------------------
def request_delete(
    store: ObjectStore, kind: str, namespace: str, name: str, grace_seconds: int | None = None
) -> Obj:
    """DELETE as the API server does it. Pods bound to a node and not finished are deleted
    gracefully: deletionTimestamp = now + grace and deletionGracePeriodSeconds are set and the
    kubelet removes the pod when the grace period is over. Everything else goes at once.
    Returns the object as it is after the call (the last state for an immediate delete)."""
    obj = store.require(kind, namespace, name)
    if kind != "Pod":
        return store.delete(kind, namespace, name)
    spec = obj.get("spec") or {}
    grace = spec.get("terminationGracePeriodSeconds", 30) if grace_seconds is None else grace_seconds
    grace = max(0, int(grace))
    if grace == 0 or not spec.get("nodeName") or is_terminal(obj):
        return store.delete(kind, namespace, name)
    md = obj["metadata"]
    current = md.get("deletionGracePeriodSeconds")
    if current is not None and current <= grace:
        return obj  # already terminating with a grace period at least as short
    now = store.clock.now()

    def mark(draft: Obj) -> None:
        dmd = draft["metadata"]
        dmd["deletionTimestamp"] = rfc3339(now + grace)
        dmd["deletionGracePeriodSeconds"] = grace
        dmd["generation"] = int(dmd.get("generation", 1)) + 1

    return light_mutate(store, kind, namespace, name, mark)
