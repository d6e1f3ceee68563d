"""Exponential backoff with jitter for reconnecting watches; pure, with an injectable random source."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays base, base*factor, base*factor^2, ... capped at `cap`, each shrunk by a random share of
    up to `jitter` (so many clients that lost the same API server do not come back in lockstep).
    `reset()` after a success starts again from `base`."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.5  # 0: exact delays; 0.5: each delay is in [raw/2, raw]
    rand: Callable[[], float] = field(default=random.random, repr=False)
    attempts: int = 0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.factor < 1 or self.cap < self.base or not 0 <= self.jitter <= 1:
            raise ValueError("need base > 0, factor >= 1, cap >= base and 0 <= jitter <= 1")

    def raw_delay(self, attempt: int) -> float:
        """The delay before jitter for the attempt-th retry (0-based)."""
        # Compare exponents instead of computing huge powers after many failures.
        if attempt > 64:
            return self.cap
        return min(self.cap, self.base * self.factor**attempt)

    def next_delay(self) -> float:
        raw = self.raw_delay(self.attempts)
        self.attempts += 1
        return raw * (1.0 - self.jitter * self.rand())

    def reset(self) -> None:
        self.attempts = 0
