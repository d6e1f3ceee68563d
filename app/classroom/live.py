"""The app's live simulated cluster, swappable: the clock driver, the source that feeds the view,
and a proxy that the Kubernetes API mount and the action buttons act through, so kubectl and the
page keep working when a classroom scenario puts its own cluster in place.

A lesson holds simulated time between its steps (`pause`) and lets each step's waits play out on
the simulated clock (`play`), so a step ends in the state its checks describe however fast the
clock runs or however late the machine wakes. A change made from outside (kubectl, the page's
buttons) lets time run freely again, so what the class does plays out."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from app.sim.clock import RealtimeDriver

TICK_SECONDS = 0.25  # real seconds between `on_tick` calls while a step's wait plays out


class ClusterProxy:
    """Stands for whatever cluster is live now: every attribute is looked up on it at use time."""

    def __init__(self, current: Callable[[], Any]) -> None:
        object.__setattr__(self, "_current", current)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current(), name)


class LiveSim:
    """Owns the running simulated cluster: drives its clock in real time (x speed) and moves the
    source, the view and everything acting through `proxy` over to another cluster on `swap`."""

    def __init__(
        self,
        cluster: Any,
        source: Any,
        *,
        speed: float,
        reset_view: Callable[[], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cluster = cluster
        self.source = source
        self.speed = speed
        self.reset_view = reset_view
        self.proxy = ClusterProxy(lambda: self.cluster)
        self.on_swap: list[Callable[[Any], None]] = []
        self.monotonic = monotonic  # real time for the clock driver (tests give their own)
        # called when a change from outside the lesson let a paused clock run again
        self.on_resume: list[Callable[[], None]] = []
        self.scripted = False  # the lesson's own actions are being applied (they do not resume)
        self._paused = False
        self._playing = False
        self._driver: RealtimeDriver | None = None
        self._task: asyncio.Task[Any] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._watch(cluster)

    @property
    def clock(self) -> Any:
        return self.cluster.clock

    @property
    def driver(self) -> RealtimeDriver | None:
        """What drives the clock now (None when not started)."""
        return self._driver

    @property
    def paused(self) -> bool:
        """Simulated time is held (a lesson waits for its next step)."""
        return self._paused and not self._playing

    def now(self) -> float:
        return self.cluster.clock.now()

    def start(self) -> None:
        """Drive the clock (inside the event loop)."""
        if self._task is None or self._task.done():
            self._driver = RealtimeDriver(
                self.cluster.clock, speed=self.speed, monotonic=self.monotonic, hold=self._paused
            )
            self._task = asyncio.create_task(self._driver.run(), name="sim-clock")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._driver = None
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

    # ---- lesson time -------------------------------------------------------------------
    def pause(self) -> None:
        """Hold simulated time where it is (what is due now still happens)."""
        self._paused = True
        if self._driver is not None:
            self._driver.hold()

    def resume(self) -> None:
        """Let simulated time run freely again."""
        self._paused = False
        if self._driver is not None:
            self._driver.release()

    async def play(self, sim_seconds: float, on_tick: Callable[[], None] | None = None) -> None:
        """Let `sim_seconds` of simulated time pass (at the clock's speed) and return when the clock
        stands there with everything due by then done; it is then held there. Without a running
        driver (a cluster not being driven) the time is fast-forwarded at once."""
        driver, task = self._driver, self._task
        self._paused = True
        if driver is None or task is None or task.done():
            self.cluster.clock.advance(max(0.0, sim_seconds))
            return
        reached = asyncio.create_task(driver.run_until(self.cluster.clock.now() + max(0.0, sim_seconds)))
        self._playing = True
        try:
            while not reached.done():
                await asyncio.wait({reached, task}, timeout=TICK_SECONDS, return_when=asyncio.FIRST_COMPLETED)
                if task.done() and not reached.done():
                    raise RuntimeError("the simulated clock stopped")
                if on_tick is not None and not reached.done():
                    on_tick()
        finally:
            self._playing = False
            if not reached.done():
                reached.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reached

    # ---- swapping clusters ---------------------------------------------------------------
    async def swap(self, cluster: Any) -> None:
        """Put `cluster` in place: stop the old clock, forget the view, feed it from the new cluster
        (its lists, then its changes) and drive the new clock (held if time is paused)."""
        running = self._task is not None
        await self.stop()
        old, self.cluster = self.cluster, cluster
        if old is not None and old is not cluster:
            old.store.retire()
        self._watch(cluster)
        if hasattr(self.source, "switch"):
            self.source.switch(cluster, before_resync=self.reset_view)
        else:
            self.reset_view()
        for fn in self.on_swap:
            fn(cluster)
        if running:
            self.start()

    def _watch(self, cluster: Any) -> None:
        """Notice changes made from outside the lesson while time is held."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        store = getattr(cluster, "store", None)
        if store is not None and hasattr(store, "subscribe"):
            self._unsubscribe = store.subscribe(lambda _event: self._changed(cluster))

    def _changed(self, cluster: Any) -> None:
        if not self._paused or self.scripted or cluster is not self.cluster or cluster.clock.in_timer:
            return
        self.resume()
        try:  # after the write has reached every subscriber (the view among them)
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for fn in self.on_resume:
            if loop is not None:
                loop.call_soon(fn)
            else:
                fn()
