"""The realtime clock driver a classroom runs on: timers run in time order at their own times however
late the event loop wakes; `hold` stops simulated time; `run_until` plays it to an instant and holds
it there; an API write between wake-ups never lands after a timer not yet run."""

from __future__ import annotations

import asyncio

from app.sim.clock import RealtimeDriver, SimClock


class Fake:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _spin() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_late_wake_up_runs_timers_in_order_each_at_its_own_time() -> None:
    clock, fake = SimClock(), Fake()
    t0 = clock.now()
    seen: list[tuple[str, float]] = []

    def probe(name: str, period: float, times: int) -> None:
        def fire() -> None:
            seen.append((name, clock.now() - t0))
            if len([s for s in seen if s[0] == name]) < times:
                clock.call_later(period, fire)

        clock.call_later(period, fire)

    probe("a", 5, 3)
    probe("b", 7, 2)
    driver = RealtimeDriver(clock, speed=2.0, monotonic=fake)
    task = asyncio.create_task(driver.run())
    try:
        await _spin()
        fake.now += 30  # the loop slept through 60 simulated seconds
        driver.wake()
        await _spin()
        # as if the clock had been advanced by hand: chained timers keep their period
        assert seen == [("a", 5), ("b", 7), ("a", 10), ("b", 14), ("a", 15)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_hold_and_run_until_play_time_to_an_instant_and_keep_it_there() -> None:
    clock, fake = SimClock(), Fake()
    t0 = clock.now()
    fired: list[float] = []
    for at in (3, 8, 12):
        clock.call_later(at, lambda: fired.append(clock.now() - t0))
    driver = RealtimeDriver(clock, speed=1.0, monotonic=fake, hold=True)
    task = asyncio.create_task(driver.run())
    try:
        fake.now += 50
        driver.wake()
        await _spin()
        assert clock.now() == t0 and fired == [] and driver.held  # held: nothing moves

        playing = asyncio.create_task(driver.run_until(t0 + 10))
        await _spin()
        assert not playing.done() and fired == []  # real time has not moved since
        fake.now += 4
        driver.wake()
        await _spin()
        assert fired == [3] and not playing.done()
        fake.now += 100  # very late: still stops at 10, with the timer at 8 run and 12 not
        driver.wake()
        await asyncio.wait_for(playing, 5)
        assert fired == [3, 8] and clock.now() == t0 + 10 and driver.held

        driver.release()
        fake.now += 2.5
        driver.wake()
        await _spin()
        assert fired == [3, 8, 12] and clock.now() == t0 + 12.5  # runs on from where it stood
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_write_between_wake_ups_never_lands_after_a_pending_timer() -> None:
    clock, fake = SimClock(), Fake()
    t0 = clock.now()
    clock.call_later(5, lambda: None)
    driver = RealtimeDriver(clock, speed=1.0, monotonic=fake)
    task = asyncio.create_task(driver.run())
    try:
        await _spin()
        fake.now += 9  # the driver has not woken for the timer at 5 yet
        assert clock.now() - t0 == 5  # an object created now is stamped no later than that timer
        driver.wake()
        await _spin()
        assert clock.now() - t0 == 9
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
