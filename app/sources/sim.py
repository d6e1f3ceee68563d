"""The built-in simulated cluster as a Source: a Resync per watched kind from its store, then
every store change, delivered synchronously in store order (no gap between list and watch).
`switch(cluster)` moves a running source to another cluster (a classroom scenario's)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from app.kinds import WATCHED_KINDS
from app.sim.store import ObjectStore, StoreEvent
from app.sources.base import Change, ClusterInfo, Emit, Resync, Status

SIM_INFO = ClusterInfo(mode="sim", name="simulated cluster")


class HasStore(Protocol):
    store: ObjectStore


class SimSource:
    """Feeds the view from a SimCluster in the same process."""

    def __init__(self, cluster: HasStore, info: ClusterInfo = SIM_INFO) -> None:
        self.cluster = cluster
        self.info = info
        self._emit: Emit | None = None
        self._unsubscribe: Callable[[], Any] | None = None

    def start(self, emit: Emit) -> Any:
        """Emit the current state and subscribe; returns the unsubscribe function (sync, for tests)."""
        store = self.cluster.store
        emit(Status("live", since=store.clock.now()))
        for kind in WATCHED_KINDS:
            emit(Resync(kind, list(store.list(kind))))

        def on_event(event: StoreEvent) -> None:
            if event.kind in WATCHED_KINDS:
                emit(Change(event.type, event.kind, event.obj))  # type: ignore[arg-type]

        return store.subscribe(on_event)

    def switch(self, cluster: HasStore, *, before_resync: Callable[[], None] | None = None) -> None:
        """Stop following the current cluster and follow `cluster`: `before_resync` runs in between
        (e.g. to forget the old view), then, when running, the new cluster's lists go out."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.cluster = cluster
        if before_resync is not None:
            before_resync()
        if self._emit is not None:
            self._unsubscribe = self.start(self._emit)

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        self._unsubscribe = self.start(emit)
        try:
            await asyncio.Event().wait()  # changes arrive through the subscription until cancelled
        finally:
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._unsubscribe = None
            self._emit = None
