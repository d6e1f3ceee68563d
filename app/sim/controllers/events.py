"""Records core/v1 Event objects in the store as client-go's event recorder does: the correlator
aggregates similar events (the 10th distinct message about the same object and reason within 10
minutes becomes one "(combined from similar events): ..." event), repeats of an event bump its
count, and a spam filter lets a source say at most 25 things about one object in a burst, then one
every 5 minutes. At most `limit` Event objects are kept (the oldest are deleted). The caches hold
only what can still matter: entries about an object go when it is deleted (its uid never comes
back), and an Event's count record goes with the Event."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from app.sim.clock import SimClock
from app.sim.controllers.common import shared, stamp
from app.sim.errors import ApiError
from app.sim.store import ObjectStore, StoreEvent

Obj = dict[str, Any]

# client-go tools/record/events_cache.go
MAX_SIMILAR = 10  # distinct messages before aggregation (maxEvents)
AGGREGATE_WINDOW = 600.0  # seconds a similar-events record lives (maxIntervalInSeconds)
SPAM_BURST = 25  # defaultSpamBurst
SPAM_QPS = 1.0 / 300.0  # defaultSpamQPS: one token every 5 minutes
CACHE_ENTRIES = 4096  # maxLruCacheEntries
COMBINED = "(combined from similar events): "


@dataclass(slots=True)
class _Similar:
    messages: set[str] = field(default_factory=set)
    last: float = 0.0


@dataclass(slots=True)
class _Logged:
    namespace: str
    name: str
    count: int
    first: str


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


_UID = 5  # where the involved object's uid is in every cache key: (component, host, kind, ns, name, uid, ...)


class EventRecorder:
    """`record(...)` writes to the store: call it from a controller's timer pass, never from a
    store subscription callback."""

    def __init__(self, store: ObjectStore, clock: SimClock, *, limit: int = 1000) -> None:
        self.store = store
        self.clock = clock
        self.limit = max(1, limit)
        self._similar: OrderedDict[tuple[str, ...], _Similar] = OrderedDict()
        self._logged: OrderedDict[tuple[str, ...], _Logged] = OrderedDict()
        self._spam: OrderedDict[tuple[str, ...], _Bucket] = OrderedDict()
        # stored events, oldest first -> the key of their count record in _logged
        self._kept: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()
        self._keys_of: dict[str, set[tuple[str, ...]]] = {}  # involved uid -> its keys in the caches
        self._seq = itertools.count()
        self.dropped = 0  # events the spam filter dropped
        self._unsubscribe = store.subscribe(self._on_event)

    def _on_event(self, ev: StoreEvent) -> None:
        """A deleted object's entries go from the caches (bookkeeping only: no writes here)."""
        if ev.type == "DELETED" and ev.kind != "Event":
            keys = self._keys_of.pop(ev.obj["metadata"].get("uid") or "", None)
            for key in keys or ():
                for cache in (self._similar, self._logged, self._spam):
                    cache.pop(key, None)  # type: ignore[arg-type]

    def _put(self, cache: OrderedDict[Any, Any], key: tuple[str, ...], value: Any) -> None:
        """An LRU of CACHE_ENTRIES entries, as client-go's, whose keys are filed by involved uid."""
        if key not in cache:
            self._keys_of.setdefault(key[_UID], set()).add(key)
        cache[key] = value
        cache.move_to_end(key)
        if len(cache) > CACHE_ENTRIES:
            old, _ = cache.popitem(last=False)
            self._unfile(old)

    def _unfile(self, key: tuple[str, ...]) -> None:
        if key in self._similar or key in self._logged or key in self._spam:
            return  # another cache still has it
        keys = self._keys_of.get(key[_UID])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_of[key[_UID]]

    def record(
        self,
        obj: Obj,
        type_: str,
        reason: str,
        message: str,
        component: str,
        *,
        host: str = "",
        field_path: str = "",
    ) -> Obj | None:
        """Record an event about `obj`; returns the Event written, or None when it was dropped."""
        md = obj.get("metadata") or {}
        namespace = md.get("namespace") or "default"
        involved = (obj.get("kind", ""), md.get("namespace", ""), md.get("name", ""), md.get("uid", ""))
        api_version = obj.get("apiVersion", "")
        now = self.clock.now()
        # 1. aggregate: similar events (same source, object, type, reason) with many messages.
        agg_key = (component, host, *involved, api_version, type_, reason)
        similar = self._similar.get(agg_key)
        if similar is None or now - similar.last > AGGREGATE_WINDOW:
            similar = _Similar()
        similar.messages.add(message)
        similar.last = now
        self._put(self._similar, agg_key, similar)
        if len(similar.messages) < MAX_SIMILAR:
            key: tuple[str, ...] = (*agg_key, field_path, message)
        else:
            similar.messages.pop()
            key, message = agg_key, COMBINED + message
        # 2. observe: a repeat of a logged event bumps its count.
        logged = self._logged.get(key)
        ts = stamp(now)
        if logged is not None and self.store.get("Event", logged.namespace, logged.name) is None:
            logged = None
        if logged is not None:
            logged.count += 1
        else:
            logged = _Logged(namespace, "", 1, ts)
        self._put(self._logged, key, logged)
        # 3. the spam filter: a token bucket per source and object.
        spam_key = (component, host, *involved, api_version)
        bucket = self._spam.get(spam_key) or _Bucket(float(SPAM_BURST), now)
        bucket.tokens = min(float(SPAM_BURST), bucket.tokens + (now - bucket.at) * SPAM_QPS)
        bucket.at = now
        self._put(self._spam, spam_key, bucket)
        if bucket.tokens < 1.0:
            self.dropped += 1
            return None
        bucket.tokens -= 1.0
        if logged.name:
            return self._bump(logged, message, ts)
        return self._create(obj, logged, key, type_, reason, message, component, host, field_path, ts)

    def _bump(self, logged: _Logged, message: str, ts: str) -> Obj | None:
        current = self.store.get("Event", logged.namespace, logged.name)
        if current is None:
            return None
        new = {**current, "metadata": dict(current["metadata"])}
        new["count"], new["lastTimestamp"], new["message"] = logged.count, ts, message
        new["metadata"].pop("resourceVersion", None)
        try:
            return self.store.update(new)
        except ApiError:
            return None

    def _create(
        self,
        obj: Obj,
        logged: _Logged,
        key: tuple[str, ...],
        type_: str,
        reason: str,
        message: str,
        component: str,
        host: str,
        field_path: str,
        ts: str,
    ) -> Obj | None:
        md = obj.get("metadata") or {}
        involved: Obj = {
            "kind": obj.get("kind", ""),
            "namespace": md.get("namespace", ""),
            "name": md.get("name", ""),
            "uid": md.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": md.get("resourceVersion", ""),
        }
        if not involved["namespace"]:
            del involved["namespace"]
        if field_path:
            involved["fieldPath"] = field_path
        source: Obj = {"component": component}
        if host:
            source["host"] = host
        unique = int(self.clock.now() * 1e9) + next(self._seq)
        event: Obj = {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {"name": f"{md.get('name', 'event')}.{unique:x}", "namespace": logged.namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": shared(source),
            "firstTimestamp": logged.first,
            "lastTimestamp": ts,
            "count": logged.count,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host,
        }
        try:
            created = self.store.create(event)
        except ApiError:
            return None
        logged.name = created["metadata"]["name"]
        self._kept[(logged.namespace, logged.name)] = key
        while len(self._kept) > self.limit:
            (ns, name), gone_key = self._kept.popitem(last=False)
            if self.store.get("Event", ns, name) is not None:
                self.store.delete("Event", ns, name)
            record = self._logged.get(gone_key)
            if record is not None and record.name == name:  # its count can never be bumped again
                del self._logged[gone_key]
                self._unfile(gone_key)
        return created
