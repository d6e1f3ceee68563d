"""A controller work queue on the simulated clock: keys coalesce into one `call_soon` timer,
failed syncs are retried later, and the controller's own store writes can be told apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.sim.clock import SimClock, Timer
from app.sim.controllers.podutil import Key

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.005, 0.05, 0.5, 1.0, 5.0)


class KeyQueue:
    def __init__(self, clock: SimClock, sync: Callable[[Key], None], name: str) -> None:
        self._clock = clock
        self._sync = sync
        self._name = name
        self._pending: dict[Key, None] = {}  # insertion-ordered set
        self._timer: Timer | None = None
        self._failures: dict[Key, int] = {}
        self.writing = False  # True while the controller writes to the store

    def add(self, key: Key) -> None:
        self._pending[key] = None
        if self._timer is None:
            self._timer = self._clock.call_soon(self._run)

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

    def _run(self) -> None:
        self._timer = None
        while self._pending:
            keys = list(self._pending)
            self._pending.clear()
            for key in keys:
                try:
                    self._sync(key)
                    self._failures.pop(key, None)
                except Exception:
                    n = self._failures.get(key, 0)
                    log.exception("%s: sync of %s/%s failed (attempt %d)", self._name, key[0], key[1], n + 1)
                    if n < len(RETRY_DELAYS):
                        self._failures[key] = n + 1
                        self._clock.call_later(RETRY_DELAYS[n], lambda k=key: self.add(k))
                    else:
                        self._failures.pop(key, None)
