"""Simulated time: a timer heap driven by hand in tests (advance) or by the event loop (RealtimeDriver),
which a lesson can hold at a simulated instant and let run to the end of a step's waits.

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
        self._in_timer = False

    @property
    def in_timer(self) -> bool:
        """True while a timer's callback runs (the simulated cluster acting on its own)."""
        return self._in_timer

    def now(self) -> float:
        if self.live_time is not None and not self._in_timer:
            # Driven by the event loop: an idle cluster's clock still moves, so an object
            # created through the API between timers gets the right creationTimestamp. Never past
            # a timer not yet run: a late driver must not make later things happen first.
            live = self.live_time()
            due = self.next_deadline()
            self._now = max(self._now, live if due is None else min(live, due))
        return self._now

    def call_at(self, when: float, fn: Callable[[], object]) -> Timer:
        timer = Timer(max(when, self._now), next(self._order), fn)
        heapq.heappush(self._heap, timer)
        if self.on_schedule is not None:
            self.on_schedule()
        return timer

    # Relative to now(): work scheduled from outside a timer (an API request reaching a controller)
    # starts at the live simulated time, not at the last instant the driver ran timers (that was
    # up to a tick ago, or seconds on an idle cluster: how stale would depend on the wall clock).
    def call_later(self, delay: float, fn: Callable[[], object]) -> Timer:
        return self.call_at(self.now() + delay, fn)

    def call_soon(self, fn: Callable[[], object]) -> Timer:
        return self.call_at(self.now(), fn)

    def next_deadline(self) -> float | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    def run_due(self, deadline: float | None = None) -> int:
        """Run every timer due at or before now (also ones they schedule for now). Returns how many ran.
        With `deadline` (a time.perf_counter() value) it stops between two timers once that has
        passed, leaving the rest due, so a driver can let its event loop run in between."""
        ran = 0
        while self._heap and self._heap[0].when <= self._now:
            if deadline is not None and ran and time.perf_counter() >= deadline:
                break
            timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            ran += 1
            self._in_timer = True
            try:
                timer.fn()
            except Exception:  # one bad callback must not stop the simulated cluster
                log.exception("simulated-cluster timer failed")
            finally:
                self._in_timer = False
        return ran

    def set_time(self, when: float) -> None:
        """Move time forward to `when` without running anything (time never goes back)."""
        self._now = max(self._now, when)

    def advance(self, seconds: float = 0.0) -> None:
        """Run timers in time order until `seconds` have passed, moving now to each timer's time."""
        self.advance_to(self._now + seconds)

    def advance_to(self, target: float, *, deadline: float | None = None) -> bool:
        """Run every timer due up to `target` in time order, each at its own time; now ends at
        `target` (or stays where it is, when that is later). With `deadline` (see run_due) it may
        stop early, now at the instant it got to: False, call again to go on."""
        target = max(target, self._now)
        while True:
            self.run_due(deadline)
            if self._due():
                return False
            nxt = self.next_deadline()
            if nxt is None or nxt > target:
                break
            self._now = nxt
        self._now = target
        self.run_due(deadline)
        return not self._due()

    def _due(self) -> bool:
        nxt = self.next_deadline()
        return nxt is not None and nxt <= self._now


class RealtimeDriver:
    """Runs a SimClock on the event loop: sim time = anchor + (monotonic elapsed) x speed, timers run
    in time order at their own times however late the loop wakes, and never past `limit`.

    `hold()` stops simulated time where it is; `run_until(t)` lets it run (at speed) up to t and
    returns once everything due by t has run, the clock then held at t; `release()` runs it freely.
    """

    def __init__(
        self,
        clock: SimClock,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        hold: bool = False,
        slice_seconds: float = 0.02,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        # Timers run for at most this long at a time: a 10,000-pod scale-up never holds the loop.
        self.slice_seconds = slice_seconds
        self.clock = clock
        self.speed = speed
        self._monotonic = monotonic
        self._wake = asyncio.Event()
        self._reached = asyncio.Event()
        self._base_sim = clock.now()
        self._base_real = monotonic()
        self.limit: float | None = self._base_sim if hold else None

    @property
    def held(self) -> bool:
        """Simulated time stands still at `limit`."""
        return self.limit is not None and self.clock.now() >= self.limit

    def _anchor(self) -> None:
        self._base_sim = self.clock.now()
        self._base_real = self._monotonic()

    def _unbounded(self) -> float:
        return self._base_sim + (self._monotonic() - self._base_real) * self.speed

    def live(self) -> float:
        """Simulated time now, as the running clock sees it (never past `limit`)."""
        t = self._unbounded()
        return t if self.limit is None else min(t, self.limit)

    def wake(self) -> None:
        """Look at the time again now (e.g. a test moved the monotonic clock it gave the driver)."""
        self._wake.set()

    def hold(self) -> None:
        """Stop simulated time where it is now (timers due now still run)."""
        self._anchor()
        self.limit = self.clock.now()
        self._wake.set()

    def release(self) -> None:
        """Let simulated time run freely from where it stands."""
        self._anchor()
        self.limit = None
        self._wake.set()

    async def run_until(self, target: float) -> None:
        """Let simulated time run (at speed, from where it stands) up to `target`; returns once the
        clock is there and every timer due by then has run. The clock is then held at `target`."""
        self._anchor()
        self.limit = max(target, self.clock.now())
        self._reached.clear()
        self._wake.set()
        await self._reached.wait()

    def _tick(self) -> None:
        """Catch the clock up with real time: due timers in time order, each at its own time, for
        at most `slice_seconds` (the loop then runs, and the next tick goes on)."""
        self.clock.live_time = None  # inside the catch-up a timer's "now" is its own time
        try:
            done = self.clock.advance_to(self.live(), deadline=time.perf_counter() + self.slice_seconds)
        finally:
            self.clock.live_time = self.live
        if done and self.limit is not None and self.clock.now() >= self.limit:
            self._reached.set()

    def _timeout(self) -> float | None:
        """Real seconds until the next thing to do: a timer, or the limit; None: until woken."""
        nxt = self.clock.next_deadline()
        if self.limit is not None and (nxt is None or nxt > self.limit):
            nxt = None if self.clock.now() >= self.limit else self.limit
        if nxt is None:
            return None
        return max(0.0, (nxt - self._unbounded()) / self.speed)

    async def run(self) -> None:
        self._anchor()
        self.clock.on_schedule = self._wake.set
        self.clock.live_time = self.live
        try:
            while True:
                self._wake.clear()
                self._tick()
                timeout = self._timeout()
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
