"""Records core/v1 Event objects in the store as the controllers and the kubelet do, aggregating
repeats into a count and keeping at most `limit` events (the oldest are deleted)."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any

from app.sim.clock import SimClock
from app.sim.errors import ApiError
from app.sim.store import ObjectStore
from app.timefmt import rfc3339

Obj = dict[str, Any]
# (namespace, involved uid, kind, name, fieldPath, type, reason, message, component)
_AggKey = tuple[str, str, str, str, str, str, str, str, str]


class EventRecorder:
    """`record(...)` writes to the store: call it from a controller's timer pass, never from a
    store subscription callback."""

    def __init__(self, store: ObjectStore, clock: SimClock, *, limit: int = 1000) -> None:
        self.store = store
        self.clock = clock
        self.limit = max(1, limit)
        self._names: OrderedDict[_AggKey, tuple[str, str]] = OrderedDict()  # -> (namespace, name)
        self._seq = itertools.count()

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
        md = obj.get("metadata") or {}
        namespace = md.get("namespace") or "default"
        key: _AggKey = (
            namespace,
            md.get("uid", ""),
            obj.get("kind", ""),
            md.get("name", ""),
            field_path,
            type_,
            reason,
            message,
            component,
        )
        now = rfc3339(self.clock.now())
        known = self._names.get(key)
        if known is not None and self.store.get("Event", *known) is not None:
            self._names.move_to_end(key)

            def bump(ev: Obj) -> None:
                ev["count"] = int(ev.get("count") or 1) + 1
                ev["lastTimestamp"] = now

            try:
                return self.store.mutate("Event", known[0], known[1], bump)
            except ApiError:
                pass
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
        stamp = int(self.clock.now() * 1e9) + next(self._seq)
        event: Obj = {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {"name": f"{md.get('name', 'event')}.{stamp:x}", "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host,
        }
        try:
            created = self.store.create(event)
        except ApiError:
            return None
        self._names[key] = (namespace, created["metadata"]["name"])
        while len(self._names) > self.limit:
            _, (ns, name) = self._names.popitem(last=False)
            if self.store.get("Event", ns, name) is not None:
                self.store.delete("Event", ns, name)
        return created
