"""Records core/v1 Event objects in the store as client-go's event recorder does: the correlator
aggregates similar events (the 10th distinct message about the same object and reason within 10
minutes becomes one "(combined from similar events): ..." event), repeats of an event bump its
count, and a spam filter lets a source say at most 25 things about one object in a burst, then one
every 5 minutes. At most `limit` Event objects are kept (the oldest are deleted)."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from app.sim.clock import SimClock
from app.sim.controllers.common import shared, stamp
from app.sim.errors import ApiError
from app.sim.store import ObjectStore

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


def _put(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > CACHE_ENTRIES:
        cache.popitem(last=False)


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
        self._kept: OrderedDict[tuple[str, str], None] = OrderedDict()  # stored events, oldest first
        self._seq = itertools.count()
        self.dropped = 0  # events the spam filter dropped

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
        _put(self._similar, agg_key, similar)
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
        _put(self._logged, key, logged)
        # 3. the spam filter: a token bucket per source and object.
        spam_key = (component, host, *involved, api_version)
        bucket = self._spam.get(spam_key) or _Bucket(float(SPAM_BURST), now)
        bucket.tokens = min(float(SPAM_BURST), bucket.tokens + (now - bucket.at) * SPAM_QPS)
        bucket.at = now
        _put(self._spam, spam_key, bucket)
        if bucket.tokens < 1.0:
            self.dropped += 1
            return None
        bucket.tokens -= 1.0
        if logged.name:
            return self._bump(logged, message, ts)
        return self._create(obj, logged, type_, reason, message, component, host, field_path, ts)

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
        self._kept[(logged.namespace, logged.name)] = None
        while len(self._kept) > self.limit:
            (ns, name), _ = self._kept.popitem(last=False)
            if self.store.get("Event", ns, name) is not None:
                self.store.delete("Event", ns, name)
        return created
