"""Helpers for the record/replay tests: a recorded lesson session on the manual clock with the live
views after every item, a view engine that snapshots after each item, and a fake time for replays."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.recording import Recorder
from app.sim.clock import SimClock
from app.sim.cluster import SimCluster
from app.sources.base import ClusterInfo, SourceItem
from app.sources.sim import SimSource
from app.view.engine import ViewEngine

Views = dict[str, Any]  # {"services": ..., "pods": ...}


class Watcher:
    """A ViewEngine fed item by item, keeping the published views after each item."""

    def __init__(self, info: ClusterInfo, now: Callable[[], float] = lambda: 0.0) -> None:
        self.engine = ViewEngine(info, actions_enabled=False, now=now)
        self.views: list[Views] = []
        self.items: list[SourceItem] = []

    def apply(self, item: SourceItem) -> None:
        self.engine.apply(item)
        self.engine.take_ops()
        self.items.append(item)
        self.views.append(self.current())

    def current(self) -> Views:
        state = self.engine.state()
        return copy.deepcopy({"services": state["services"], "pods": state["pods"]})

    @property
    def meta(self) -> dict[str, Any]:
        return self.engine.state()["meta"]


@dataclass
class Session:
    """A recorded session: the file, the live views after each item with the item's offset `t`,
    and the offsets (seconds since start) at which things were done to the cluster."""

    path: Path
    times: list[float] = field(default_factory=list)
    views: list[Views] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def view_at(self, t: float) -> Views:
        """The live view after the last item recorded at or before `t`."""
        last = max(i for i, ti in enumerate(self.times) if ti <= t)
        return self.views[last]


def pod_names(cluster: SimCluster, app: str) -> list[str]:
    return sorted(
        p["metadata"]["name"]
        for p in cluster.store.list("Pod")
        if (p["metadata"].get("labels") or {}).get("app") == app
    )


def record_lesson(path: Path, *, record_from_start: bool = True) -> Session:
    """The lesson on a SimCluster (manual clock): pods start, one is relabelled out of its Service,
    one fails its readiness probe, one is deleted. Recorded through Recorder.tap into a live engine.
    With record_from_start=False the recording is started mid-session (the page's button)."""
    clock = SimClock()
    cluster = SimCluster(clock)
    cluster.start()
    source = SimSource(cluster)
    start = clock.now()
    live = Watcher(source.info, now=clock.now)
    recorder = Recorder(source.info, clock=clock.now, opening=live.engine.opening_items)
    session = Session(path)

    def apply(item: SourceItem) -> None:
        live.apply(item)
        if recorder.recording:
            session.times.append(clock.now() - recorder_started[0])
            session.views.append(live.views[-1])

    recorder_started = [start]
    if record_from_start:
        recorder.start(path)
    unsubscribe = source.start(recorder.tap(apply))
    try:
        clock.advance(1)
        cluster.load_lesson()
        cluster.run_for(30)
        if not record_from_start:
            recorder_started[0] = clock.now()
            recorder.start(path)
            session.times.append(0.0)  # the state it begins with is the live view at that moment
            session.views.append(live.current())
        base = recorder_started[0]
        relabelled, failing, deleted = pod_names(cluster, "shipping-api")[:3]
        session.names = {"relabelled": relabelled, "failing": failing, "deleted": deleted}
        session.marks["relabel"] = clock.now() - base
        cluster.set_pod_labels("default", relabelled, {"app": "debug"})
        cluster.run_for(20)
        session.marks["probe"] = clock.now() - base
        cluster.set_probe("default", failing, passing=False)
        cluster.run_for(40)  # failureThreshold x periodSeconds before Ready turns False
        session.marks["delete"] = clock.now() - base
        cluster.delete_pod("default", deleted)
        cluster.run_for(60)
        session.marks["end"] = clock.now() - base
    finally:
        unsubscribe()
        recorder.stop()
    return session


class FakeTime:
    """A monotonic clock that only moves when the replay sleeps (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def settle(done: Callable[[], bool], *, steps: int = 100_000) -> None:
    """Let the event loop run until done() (no wall-clock waiting: the replay sleeps on FakeTime)."""
    for _ in range(steps):
        if done():
            return
        await asyncio.sleep(0)
    raise AssertionError("the replay did not get there")
