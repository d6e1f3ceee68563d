"""The simulated clock and object store: timers, resourceVersions, no-op updates, watch history."""

import pytest

from app.sim.clock import SimClock
from app.sim.errors import ApiError
from app.sim.store import ObjectStore


def test_advance_runs_timers_in_time_order_with_time_set():
    clock = SimClock()
    seen: list[tuple[str, float]] = []
    t0 = clock.now()
    clock.call_later(5, lambda: seen.append(("b", clock.now() - t0)))
    clock.call_later(1, lambda: seen.append(("a", clock.now() - t0)))
    clock.call_later(1, lambda: clock.call_later(1, lambda: seen.append(("chained", clock.now() - t0))))
    clock.advance(3)
    assert seen == [("a", 1), ("chained", 2)]
    clock.advance(10)
    assert seen[-1] == ("b", 5)
    assert clock.now() - t0 == 13


def _pod(name: str, **labels: str) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "labels": labels}, "spec": {"containers": []}}


def test_store_versions_noop_updates_and_label_index():
    store = ObjectStore(SimClock())
    a = store.create(_pod("a", app="web"))
    assert a["metadata"]["namespace"] == "default" and a["metadata"]["generation"] == 1
    rv = a["metadata"]["resourceVersion"]
    same = store.update({**a, "metadata": {**a["metadata"]}})
    assert same["metadata"]["resourceVersion"] == rv  # nothing changed: no new version
    b = store.mutate("Pod", "default", "a", lambda o: o["metadata"]["labels"].update(app="debug"))
    assert int(b["metadata"]["resourceVersion"]) > int(rv)
    assert store.list("Pod", "default", {"app": "web"}) == []
    assert [o["metadata"]["name"] for o in store.list("Pod", "default", {"app": "debug"})] == ["a"]
    with pytest.raises(ApiError) as err:
        store.update(a)  # stale resourceVersion
    assert err.value.code == 409 and err.value.reason == "Conflict"


def test_generate_name_and_watch_history_expiry():
    store = ObjectStore(SimClock(), history_limit=3)
    start = int(store.resource_version)
    made = [
        store.create({"kind": "Service", "metadata": {"generateName": "svc-"}, "spec": {}}) for _ in range(5)
    ]
    assert all(m["metadata"]["name"].startswith("svc-") and len(m["metadata"]["name"]) == 9 for m in made)
    with pytest.raises(ApiError) as err:
        store.events_since(start)
    assert err.value.code == 410 and err.value.reason == "Expired"
    recent = store.events_since(start + 3)
    assert [e.rv for e in recent] == [start + 4, start + 5]


async def test_realtime_driver_moves_an_idle_clock():
    import asyncio

    from app.sim.clock import RealtimeDriver

    fake = [100.0]
    clock = SimClock()
    start = clock.now()
    driver = RealtimeDriver(clock, speed=2.0, monotonic=lambda: fake[0])
    task = asyncio.create_task(driver.run())
    await asyncio.sleep(0)
    fake[0] += 5  # five real seconds pass with no timer due
    assert clock.now() == start + 10  # an object created now gets the current time
    ran: list[float] = []
    clock.call_soon(lambda: ran.append(clock.now()))
    await asyncio.sleep(0.01)
    assert ran == [start + 10]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert clock.live_time is None
