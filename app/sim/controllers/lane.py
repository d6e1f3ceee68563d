"""The idle lane: work that reads a whole Service (the endpoint controllers' syncs) runs after
everything else due at the same simulated instant, so a burst of pod changes costs one pass.

Every controller of one clock shares the lane (`lane_for(clock)`): one timer, one turn at a time,
each turn one bounded batch of one queue, so no single timer callback grows with the cluster.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from app.sim.clock import SimClock, Timer

# A turn waits behind other due timers at most this many times in a row: a guard against a
# timer that keeps rescheduling itself for "now", never reached by the controllers' own work.
MAX_DEFERRALS = 10_000

Turn = Callable[[], bool]  # runs one batch; True when it has more work waiting

_LANES: weakref.WeakKeyDictionary[SimClock, IdleLane] = weakref.WeakKeyDictionary()


class IdleLane:
    def __init__(self, clock: SimClock) -> None:
        # Weak: the clock holds the lane (through _LANES and its timers); a strong reference back
        # would keep every retired cluster alive.
        self._clock_ref = weakref.ref(clock)
        self._waiting: dict[Turn, None] = {}  # insertion-ordered set of queues wanting a turn
        self._timer: Timer | None = None
        self._deferred = 0
        self.turns = 0  # how many turns ran (tests and benchmarks read it)

    @property
    def _clock(self) -> SimClock:
        clock = self._clock_ref()
        if clock is None:
            raise RuntimeError("the clock of this lane is gone")
        return clock

    def request(self, turn: Turn) -> None:
        """Give `turn` a turn once nothing else is due (it may ask again when it has more)."""
        self._waiting[turn] = None
        if self._timer is None:
            self._timer = self._clock.call_soon(self._run)

    def _run(self) -> None:
        self._timer = None
        if not self._waiting:
            return
        clock = self._clock
        due = clock.next_deadline()
        if due is not None and due <= clock.now() and self._deferred < MAX_DEFERRALS:
            self._deferred += 1
            self._timer = clock.call_soon(self._run)  # behind everything due now
            return
        self._deferred = 0
        turn = next(iter(self._waiting))
        del self._waiting[turn]
        self.turns += 1
        try:
            if turn():
                self._waiting[turn] = None  # to the back: other queues get a turn first
        finally:
            if self._waiting and self._timer is None:
                self._timer = self._clock.call_soon(self._run)


def lane_for(clock: SimClock) -> IdleLane:
    """The lane every controller on `clock` shares."""
    lane = _LANES.get(clock)
    if lane is None:
        lane = _LANES[clock] = IdleLane(clock)
    return lane
