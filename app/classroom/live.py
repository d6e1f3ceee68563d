"""The app's live simulated cluster, swappable: the clock driver, the source that feeds the view,
and a proxy that the Kubernetes API mount and the action buttons act through, so kubectl and the
page keep working when a classroom scenario puts its own cluster in place."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from app.sim.clock import RealtimeDriver


class ClusterProxy:
    """Stands for whatever cluster is live now: every attribute is looked up on it at use time."""

    def __init__(self, current: Callable[[], Any]) -> None:
        object.__setattr__(self, "_current", current)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current(), name)


class LiveSim:
    """Owns the running simulated cluster: drives its clock in real time (x speed) and moves the
    source, the view and everything acting through `proxy` over to another cluster on `swap`."""

    def __init__(self, cluster: Any, source: Any, *, speed: float, reset_view: Callable[[], None]) -> None:
        self.cluster = cluster
        self.source = source
        self.speed = speed
        self.reset_view = reset_view
        self.proxy = ClusterProxy(lambda: self.cluster)
        self.on_swap: list[Callable[[Any], None]] = []
        self._driver: asyncio.Task[Any] | None = None

    @property
    def clock(self) -> Any:
        return self.cluster.clock

    def now(self) -> float:
        return self.cluster.clock.now()

    def start(self) -> None:
        """Drive the clock (inside the event loop)."""
        if self._driver is None or self._driver.done():
            driver = RealtimeDriver(self.cluster.clock, speed=self.speed)
            self._driver = asyncio.create_task(driver.run(), name="sim-clock")

    async def stop(self) -> None:
        task, self._driver = self._driver, None
        if task is None:
            return
        for _ in range(50):  # cancel again if a cancel is swallowed as the driver's wait completes
            if task.done():
                break
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)
        with contextlib.suppress(asyncio.CancelledError):
            if task.done() and not task.cancelled():
                task.result()

    async def swap(self, cluster: Any) -> None:
        """Put `cluster` in place: stop the old clock, forget the view, feed it from the new cluster
        (its lists, then its changes) and drive the new clock."""
        running = self._driver is not None
        await self.stop()
        old, self.cluster = self.cluster, cluster
        if old is not None and old is not cluster:
            old.store.retire()
        if hasattr(self.source, "switch"):
            self.source.switch(cluster, before_resync=self.reset_view)
        else:
            self.reset_view()
        for fn in self.on_swap:
            fn(cluster)
        if running:
            self.start()
