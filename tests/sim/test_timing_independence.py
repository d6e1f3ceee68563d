"""What the simulated cluster does must not depend on how its work is interleaved or on the wall
clock: timers due at one instant run in any order, queues take batches of any size, the realtime
driver stops between any two timers and wakes late, and a scale-up still packs its slices as
Kubernetes does, and work asked for from outside starts at the live simulated time."""

from __future__ import annotations

import asyncio
import heapq
import random
from collections.abc import Callable

import pytest

from app.sim.clock import RealtimeDriver, SimClock, Timer
from app.sim.cluster import SimCluster, SimConfig
from app.sim.controllers import endpointslice
from app.sim.controllers.common import WorkQueue
from app.sim.controllers.keyqueue import KeyQueue
from app.sim.controllers.replicaset import ReplicaSetController
from app.timefmt import rfc3339


class ShuffledClock(SimClock):
    """A SimClock whose timers due at the same instant run in a random order, and whose
    advance_to may stop after any timer (as the realtime driver does when its slice is over)."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng

    def call_at(self, when: float, fn: Callable[[], object]) -> Timer:
        timer = Timer(max(when, self._now), self.rng.randrange(1 << 40), fn)
        heapq.heappush(self._heap, timer)
        return timer

    def run_for(self, seconds: float) -> None:
        target = self.now() + seconds
        while not self.advance_to(target, deadline=-1.0 if self.rng.random() < 0.5 else None):
            self.now()  # between two slices: a reader looks at the time


def _randomise_batches(c: SimCluster, rng: random.Random, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(endpointslice, "APPLY_BATCH", rng.choice([1, 3, 10]))
    for controller in c.controllers:
        for queue in vars(controller).values():
            if isinstance(queue, WorkQueue):
                queue._batch = rng.choice([1, 2, 7, 50])
            elif isinstance(queue, KeyQueue):
                queue._budget = rng.choice([1, 40, 2_000])
        if isinstance(controller, ReplicaSetController):
            controller.batch = rng.choice([1, 9, 50])


def _slice_sizes(c: SimCluster, service: str) -> list[int]:
    slices = c.store.list("EndpointSlice", "default", {"kubernetes.io/service-name": service})
    return sorted((len(s["endpoints"]) for s in slices), reverse=True)


@pytest.mark.parametrize("seed", range(8))
def test_a_scale_up_packs_slices_the_same_however_the_work_interleaves(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    clock = ShuffledClock(rng)
    c = SimCluster(clock, SimConfig())
    c.start()
    _randomise_batches(c, rng, monkeypatch)
    c.load_lesson()
    clock.run_for(30)
    assert _slice_sizes(c, "web-svc") == [3]
    c.scale("default", "web", 150)
    # time moves in steps of any size, as a late event loop would move it
    for _ in range(40):
        clock.run_for(rng.choice([0.001, 0.004, 0.3, 1.0, 2.5]))
    assert len(c.store.list("Pod", "default", {"app": "web"})) == 150
    assert _slice_sizes(c, "web-svc") == [100, 50]  # what Kubernetes packed every time


async def test_work_asked_for_from_outside_starts_at_the_live_time() -> None:
    """A scale on an idle cluster: the driver last ran timers seconds ago (of the wall clock), yet
    the ReplicaSet's new pods are created at the simulated time the scale arrived."""
    c = SimCluster(SimClock(), SimConfig())
    c.start()
    c.load_lesson()
    c.run_for(60)  # every pod ready, probes passing: nothing is due for a while
    wall = [1000.0]
    driver = RealtimeDriver(c.clock, speed=1.0, monotonic=lambda: wall[0])
    task = asyncio.create_task(driver.run())
    try:
        for _ in range(5):
            await asyncio.sleep(0)
        wall[0] += 7.0  # seven seconds pass; no timer was due, so the driver slept through them
        arrived = driver.live()  # (reading the clock itself would move it)
        c.scale("default", "web", 4)  # as an API request would (outside any timer)
        for _ in range(50):
            await asyncio.sleep(0)
        pods = c.store.list("Pod", "default", {"app": "web"})
        created = sorted(p["metadata"]["creationTimestamp"] for p in pods)
        assert len(pods) == 4
        assert created[-1] == rfc3339(arrived)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
