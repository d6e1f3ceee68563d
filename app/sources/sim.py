"""The built-in simulated cluster as a Source: a Resync per watched kind from its store, then
every store change, delivered synchronously in store order (no gap between list and watch)."""

from __future__ import annotations

import asyncio
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

    async def run(self, emit: Emit) -> None:
        unsubscribe = self.start(emit)
        try:
            await asyncio.Event().wait()  # changes arrive through the subscription until cancelled
        finally:
            unsubscribe()
