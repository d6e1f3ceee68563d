"""The event recorder's caches follow the live objects: a long churn of pods coming and going
leaves them no bigger than a short one (entries about deleted objects go with them)."""

from __future__ import annotations

from app.sim.clock import SimClock
from app.sim.cluster import SimCluster, SimConfig


def _cache_sizes(c: SimCluster) -> int:
    ev = c.events
    return len(ev._similar) + len(ev._logged) + len(ev._spam) + sum(map(len, ev._keys_of.values()))


def test_pod_churn_does_not_fill_the_event_caches() -> None:
    c = SimCluster(SimClock(), SimConfig(max_events=200))
    c.start()
    c.load_lesson()
    c.run_for(30)
    sizes = []
    for round_ in range(60):
        c.scale("default", "web", 25)
        c.run_for(20)
        c.scale("default", "web", 3)
        c.run_for(40)  # the grace period is over: the pods are gone
        if round_ in (14, 59):
            sizes.append(_cache_sizes(c))
    assert len(c.store.list("Pod", "default", {"app": "web"})) == 3
    assert c.store.count("Event") <= 200
    # 1,320 pods came and went; what the caches hold is what the last rounds left, not all of it
    assert sizes[1] <= sizes[0] * 1.1, sizes
