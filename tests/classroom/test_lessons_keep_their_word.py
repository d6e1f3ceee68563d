"""Every built-in lesson, stepped on the live (driven) simulated clock as the classroom runs it, ends
each step with all its checks passing, at sim speeds 1, 5 and 20, however late the machine wakes and
however long the teacher waits between steps; while a step plays its checks are pending, never
failed; and each step ends in the very state a fast-forwarded run reaches. Real time here is a fake
monotonic clock moved in uneven jumps (a loaded machine), so this runs in well under a second per
lesson."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from app.classroom.live import LiveSim
from app.classroom.session import ScenarioSession
from app.scenarios import builtin_scenarios
from app.scenarios.runner import ScenarioRunner
from app.sim.clock import SimClock
from app.sim.cluster import SimCluster
from tests.fixtures_app import await_for

LIBRARY = builtin_scenarios()


class FakeTime:
    """Real time for the clock driver: moved by `pump` in jumps, as a busy machine's event loop
    wakes late; every jump wakes the driver."""

    def __init__(self, live: LiveSim, jumps: tuple[float, float], seed: int) -> None:
        self.now = 1000.0
        self.live = live
        self.jumps = jumps
        self.rng = random.Random(seed)
        self.moved = 0

    def __call__(self) -> float:
        return self.now

    async def pump(self) -> None:
        while True:
            self.now += self.rng.uniform(*self.jumps)
            self.moved += 1
            driver = self.live.driver
            if driver is not None:
                driver.wake()
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    async def let_pass(self, jumps: int) -> None:
        """Let `jumps` jumps of real time pass (a teacher talking between two steps)."""
        until = self.moved + jumps
        await await_for(lambda: self.moved >= until, within=30, interval=0.001, what="real time to pass")


def pod_states(cluster: Any) -> dict[str, tuple[bool, bool]]:
    """Each pod's (ready, terminating): what must match a fast-forwarded run."""
    out = {}
    for p in cluster.store.list("Pod"):
        md = p["metadata"]
        conds = (p.get("status") or {}).get("conditions") or ()
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
        out[f"{md.get('namespace')}/{md['name']}"] = (ready, bool(md.get("deletionTimestamp")))
    return out


async def step_through(name: str, speed: float, jumps: tuple[float, float], seed: int) -> list[str]:
    """Start `name`, step it to the end on the driven clock; returns the problems seen."""
    published: list[Any] = []
    live = LiveSim(
        SimCluster(SimClock()), None, speed=speed, reset_view=lambda: None, monotonic=lambda: fake()
    )
    fake = FakeTime(live, jumps, seed)
    session = ScenarioSession(
        LIBRARY, live=live, presenting=False, publish=published.append, make_default=lambda: None
    )
    live.start()
    pump = asyncio.create_task(fake.pump())
    problems: list[str] = []
    try:
        state = await session.start(name)
        assert state is not None and state["clock"] == "paused"
        twin = ScenarioRunner(LIBRARY[name], session.cluster_factory)  # the fast-forwarded run
        for n in range(1, len(LIBRARY[name].steps) + 1):
            await fake.let_pass(fake.rng.randrange(0, 40))  # the teacher talks; time is held
            playing = await session.next()
            assert playing is not None and playing["busy"] and playing["step"] == n
            assert all(c["pending"] and not c["ok"] and not c["problems"] for c in playing["checks"])
            await await_for(lambda: not session.busy, within=30, interval=0.001, what=f"step {n} to end")
            state = session.state()
            assert state is not None and state["step"] == n and state["clock"] == "paused"
            assert state["error"] is None, state["error"]
            problems += [
                f"{name} step {n}: {c['text']}: {c['problems']}" for c in state["checks"] if not c["ok"]
            ]
            twin.next()
            if pod_states(live.cluster) != pod_states(twin.cluster):
                problems.append(f"{name} step {n}: pods differ from a fast-forwarded run")
            seen = [p["scenario"] for p in published if p and p["scenario"] and p["scenario"]["step"] == n]
            failed_while_playing = [
                c for s in seen if s["busy"] for c in s["checks"] if not c["pending"] or c["problems"]
            ]
            assert not failed_while_playing, f"{name} step {n}: judged while playing: {failed_while_playing}"
        await fake.let_pass(50)  # held at the last step's end: nothing moves on
        assert all(c["ok"] for c in (session.state() or {})["checks"]) or problems
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await session.close()
        await live.stop()
    return problems


SPEEDS = (1.0, 5.0, 20.0)
LOADS = {"quiet": (0.005, 0.05), "loaded": (0.05, 3.0)}  # real seconds between the driver's wake-ups
BIG = "scaling-past-100"  # 1050 pods: the loaded case only (the clock's logic is the same for all)
CASES = [
    (name, speed, load)
    for name in sorted(LIBRARY)
    for speed in SPEEDS
    for load in sorted(LOADS)
    if name != BIG or load == "loaded"
]


@pytest.mark.parametrize(("name", "speed", "load"), CASES)
async def test_every_lesson_settles_with_its_checks_passing(name: str, speed: float, load: str) -> None:
    problems = await step_through(name, speed, LOADS[load], seed=hash((name, speed, load)) & 0xFFFF)
    assert not problems, problems


async def test_a_change_from_outside_lets_time_run_and_the_next_step_holds_it_again() -> None:
    live = LiveSim(SimCluster(SimClock()), None, speed=20.0, reset_view=lambda: None)
    session = ScenarioSession(
        LIBRARY, live=live, presenting=False, publish=lambda _v: None, make_default=lambda: None
    )
    live.start()
    try:
        await session.start("readiness")
        await session.next()
        await await_for(lambda: not session.busy, within=30, what="step 1 to end")
        clock = live.cluster.clock
        held_at = clock.now()
        await asyncio.sleep(0.2)  # 4 simulated seconds, were the clock running
        assert clock.now() == held_at and (session.state() or {})["clock"] == "paused"
        # kubectl (or a button on the page) changes the cluster: time runs again so it plays out
        pod = sorted(p["metadata"]["name"] for p in live.cluster.store.list("Pod", "default"))[0]
        live.proxy.set_pod_labels("default", pod, {"app": "debug"})
        assert live.paused is False
        await await_for(lambda: clock.now() > held_at + 1, within=30, what="the clock to run again")
        assert (session.state() or {})["clock"] == "running"
        await session.next()
        await await_for(lambda: not session.busy, within=30, what="step 2 to end")
        assert live.paused and (session.state() or {})["clock"] == "paused"
    finally:
        await session.close()
        await live.stop()
