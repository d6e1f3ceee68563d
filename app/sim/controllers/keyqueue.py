"""A controller work queue on the simulated clock for whole-Service syncs: keys coalesce, run in
the idle lane (after the rest of the control plane at the same instant) in bounded batches,
failed syncs are retried later, and the controller's own store writes can be told apart.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.sim.clock import SimClock
from app.sim.controllers.lane import lane_for
from app.sim.controllers.podutil import Key

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.005, 0.05, 0.5, 1.0, 5.0)
# Work one turn may do, in the units a sync returns (pods looked at); one key always runs.
TURN_BUDGET = 2_000


class KeyQueue:
    def __init__(
        self,
        clock: SimClock,
        sync: Callable[[Key], int | None],
        name: str,
        *,
        budget: int = TURN_BUDGET,
    ) -> None:
        self._clock = clock
        self._sync = sync
        self._name = name
        self._budget = budget
        self._lane = lane_for(clock)
        self._pending: OrderedDict[Key, None] = OrderedDict()  # popitem(last=False) is O(1)
        self._requested = False
        self._failures: dict[Key, int] = {}
        self.writing = False  # True while the controller writes to the store

    def add(self, key: Key) -> None:
        self._pending[key] = None
        if not self._requested:
            self._requested = True
            self._lane.request(self._turn)

    def __len__(self) -> int:
        return len(self._pending)

    @contextmanager
    def own_writes(self) -> Iterator[None]:
        """Mark store writes made inside the block as the controller's own."""
        prev = self.writing
        self.writing = True
        try:
            yield
        finally:
            self.writing = prev

    def _turn(self) -> bool:
        """Sync keys until the budget is spent; True when keys are left for another turn."""
        spent = 0
        while self._pending and spent < self._budget:
            key, _ = self._pending.popitem(last=False)
            try:
                spent += self._sync(key) or 1
                self._failures.pop(key, None)
            except Exception:
                spent += 1
                n = self._failures.get(key, 0)
                log.exception("%s: sync of %s/%s failed (attempt %d)", self._name, key[0], key[1], n + 1)
                if n < len(RETRY_DELAYS):
                    self._failures[key] = n + 1
                    self._clock.call_later(RETRY_DELAYS[n], lambda k=key: self.add(k))
                else:
                    self._failures.pop(key, None)
        self._requested = bool(self._pending)
        return self._requested
