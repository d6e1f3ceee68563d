"""Simulated time: a timer heap driven by hand in tests (advance) or by the event loop in demos.

Everything in the simulator that "takes time" (controllers reacting, pods starting, probes,
graceful deletion) is a timer on this clock, so tests never sleep and run deterministically.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# 2026-01-01T00:00:00Z: a fixed start for manual clocks so test output is reproducible.
MANUAL_EPOCH = 1767225600.0


@dataclass(order=True)
class Timer:
    when: float
    order: int
    fn: Callable[[], object] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class SimClock:
    """Time in epoch seconds plus due callbacks. Starts still; `advance` moves it."""

    def __init__(self, start: float = MANUAL_EPOCH) -> None:
        self._now = start
        self._heap: list[Timer] = []
        self._order = itertools.count()
        # Set by a realtime driver so a timer scheduled from an HTTP handler wakes it.
        self.on_schedule: Callable[[], None] | None = None
        # Set by a realtime driver: the simulated time right now, between the driver's wake-ups.
        self.live_time: Callable[[], float] | None = None

    def now(self) -> float:
        if self.live_time is not None:
            # Driven by the event loop: an idle cluster's clock still moves, so an object
            # created through the API between timers gets the right creationTimestamp.
            self._now = max(self._now, self.live_time())
        return self._now

    def call_at(self, when: float, fn: Callable[[], object]) -> Timer:
        timer = Timer(max(when, self._now), next(self._order), fn)
        heapq.heappush(self._heap, timer)
        if self.on_schedule is not None:
            self.on_schedule()
        return timer

    def call_later(self, delay: float, fn: Callable[[], object]) -> Timer:
        return self.call_at(self._now + delay, fn)

    def call_soon(self, fn: Callable[[], object]) -> Timer:
        return self.call_at(self._now, fn)

    def next_deadline(self) -> float | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    def run_due(self) -> int:
        """Run every timer due at or before now (also ones they schedule for now). Returns how many ran."""
        ran = 0
        while self._heap and self._heap[0].when <= self._now:
            timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            ran += 1
            try:
                timer.fn()
            except Exception:  # one bad callback must not stop the simulated cluster
                log.exception("simulated-cluster timer failed")
        return ran

    def set_time(self, when: float) -> None:
        """Move time forward to `when` without running anything (time never goes back)."""
        self._now = max(self._now, when)

    def advance(self, seconds: float = 0.0) -> None:
        """Run timers in time order until `seconds` have passed, moving now to each timer's time."""
        target = self._now + seconds
        while True:
            self.run_due()
            nxt = self.next_deadline()
            if nxt is None or nxt > target:
                break
            self._now = nxt
        self._now = target
        self.run_due()


class RealtimeDriver:
    """Runs a SimClock on the event loop: sim time = start + (monotonic elapsed) x speed."""

    def __init__(
        self,
        clock: SimClock,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.clock = clock
        self.speed = speed
        self._monotonic = monotonic
        self._wake = asyncio.Event()

    async def run(self) -> None:
        base_sim = self.clock.now()
        base_real = self._monotonic()

        def live() -> float:
            return base_sim + (self._monotonic() - base_real) * self.speed

        self.clock.on_schedule = self._wake.set
        self.clock.live_time = live
        try:
            while True:
                self.clock.set_time(live())
                self.clock.run_due()
                nxt = self.clock.next_deadline()
                self._wake.clear()
                timeout = None if nxt is None else max(0.0, (nxt - self.clock.now()) / self.speed)
                if timeout == 0.0:
                    await asyncio.sleep(0)
                    continue
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
                # lands as the wait completes, and the driver would then never stop.
                try:
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                except TimeoutError:
                    pass
        finally:
            self.clock.on_schedule = None
            self.clock.live_time = None
