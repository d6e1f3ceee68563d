"""Watch streams: one JSON event a line, from a resourceVersion (history replayed from the store),
selector transitions as ADDED/DELETED, BOOKMARKs, timeoutSeconds, and 410 Expired as an ERROR event
inside the 200 stream. Each watch has a bounded buffer; a watcher that falls too far behind is ended."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from app.kinds import KINDS
from app.sim.api.selectors import FieldRequirement, Requirement, fields_match, labels_match
from app.sim.errors import ApiError
from app.sim.store import ObjectStore, StoreEvent

Obj = dict[str, Any]
# encode(event type, object, first event?) -> the event's "object"
Encoder = Callable[[str, Obj, bool], Obj]


@dataclass
class WatchRequest:
    kind: str
    namespace: str | None = None
    labels: list[Requirement] = field(default_factory=list)
    fields: list[FieldRequirement] = field(default_factory=list)
    resource_version: str | None = None
    send_initial_events: bool = False
    bookmarks: bool = False
    timeout_seconds: float = 1800.0

    def matches(self, obj: Obj) -> bool:
        md = obj.get("metadata") or {}
        if self.namespace is not None and (md.get("namespace") or "") != self.namespace:
            return False
        return labels_match(self.labels, md.get("labels")) and fields_match(self.fields, obj)


def bookmark_object(kind: str, rv: str, *, initial_events_end: bool = False) -> Obj:
    """The near-empty object a BOOKMARK carries (shaped like the real server's, per kind)."""
    info = KINDS[kind]
    md: Obj = {"resourceVersion": rv}
    if initial_events_end:
        md["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj: Obj = {"kind": kind, "apiVersion": info.api_version, "metadata": md}
    if kind == "Pod":
        obj.update(spec={"containers": None}, status={})
    elif kind == "EndpointSlice":
        obj.update(addressType="", endpoints=None, ports=None)
    return obj


def line(event_type: str, obj: Obj) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _key(obj: Obj) -> tuple[str, str]:
    md = obj.get("metadata") or {}
    return (md.get("namespace") or "", md.get("name") or "")


class _Filter:
    """Turns store events into what a filtered watcher sees (label changes become ADDED/DELETED)."""

    def __init__(self, req: WatchRequest) -> None:
        self.req = req
        self.filtered = bool(req.labels or req.fields)
        self.state: dict[tuple[str, str], bool] = {}

    def seed(self, objs: list[Obj]) -> None:
        for o in objs:
            self.state.setdefault(_key(o), self.req.matches(o))

    def apply(self, ev: StoreEvent) -> str | None:
        req = self.req
        md = ev.obj.get("metadata") or {}
        if req.namespace is not None and (md.get("namespace") or "") != req.namespace:
            return None
        if not self.filtered:
            return ev.type
        key = _key(ev.obj)
        now = req.matches(ev.obj)
        before = self.state.get(key, False if ev.type == "ADDED" else now)
        if ev.type == "DELETED":
            self.state.pop(key, None)
            return "DELETED" if before or now else None
        self.state[key] = now
        if now and before:
            return ev.type
        if now:
            return "ADDED"
        if before:
            return "DELETED"
        return None


async def watch_events(
    store: ObjectStore,
    req: WatchRequest,
    encode: Encoder,
    *,
    bookmark_interval: float = 60.0,
    buffer_limit: int = 10_000,
) -> AsyncIterator[bytes]:
    """Yield watch lines until timeout, overflow or client disconnect (the generator is then closed)."""
    buffer: deque[StoreEvent] = deque()
    wake = asyncio.Event()
    overflow = False

    def on_event(ev: StoreEvent) -> None:
        nonlocal overflow
        if ev.kind != req.kind or overflow:
            return
        if len(buffer) >= buffer_limit:
            overflow = True
        else:
            buffer.append(ev)
        wake.set()

    # Everything up to the first await runs synchronously with the store: no event can slip between
    # reading history and subscribing.
    flt = _Filter(req)
    initial: list[Obj] = []
    replay: list[StoreEvent] = []
    error: ApiError | None = None
    rv = req.resource_version
    if req.send_initial_events or not rv or rv == "0":
        initial = [o for o in store.list(req.kind, req.namespace) if req.matches(o)]
    else:
        try:
            replay = store.events_since(int(rv), req.kind)
        except ApiError as exc:
            error = exc
    current = store.list(req.kind, req.namespace)
    unsubscribe = store.subscribe(on_event) if error is None else None
    unretire = store.on_retire(wake.set)
    start_rv = store.resource_version
    first = True
    try:
        if error is not None:
            yield line("ERROR", error.status())
            return
        for obj in initial:
            flt.state[_key(obj)] = True
            yield line("ADDED", encode("ADDED", obj, first))
            first = False
        for ev in replay:
            kind = flt.apply(ev)
            if kind is not None:
                yield line(kind, encode(kind, ev.obj, first))
                first = False
        flt.seed(current)
        if req.send_initial_events and req.bookmarks:
            yield line("BOOKMARK", bookmark_object(req.kind, start_rv, initial_events_end=True))
        deadline = time.monotonic() + max(req.timeout_seconds, 0.0)
        next_bookmark = time.monotonic() + bookmark_interval
        while True:
            while buffer:
                ev = buffer.popleft()
                if int(ev.rv) <= int(start_rv):
                    continue
                kind = flt.apply(ev)
                if kind is not None:
                    yield line(kind, encode(kind, ev.obj, first))
                    first = False
            if overflow or store.retired:
                return
            now = time.monotonic()
            if now >= deadline:
                return
            if req.bookmarks and now >= next_bookmark:
                yield line("BOOKMARK", bookmark_object(req.kind, store.resource_version))
                next_bookmark = now + bookmark_interval
                continue
            wait = deadline - now
            if req.bookmarks:
                wait = min(wait, next_bookmark - now)
            wake.clear()
            if buffer or overflow:
                continue
            try:
                async with asyncio.timeout(max(wait, 0.0)):
                    await wake.wait()
            except TimeoutError:
                pass
    finally:
        unretire()
        if unsubscribe is not None:
            unsubscribe()
