"""The classroom's scenario session: starts a scenario on a fresh cluster and swaps it in as the live
one, plays `next` on the live simulated clock (held between steps, so each step ends exactly where its
checks look), rebuilds for back/restart, and publishes the ScenarioState (docs/view-model.md,
meta.classroom) after every change."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from app.classroom.live import LiveSim
from app.scenarios.checks import describe, evaluate_all
from app.scenarios.commands import suggested_commands
from app.scenarios.format import Scenario
from app.scenarios.loader import ScenarioError
from app.scenarios.runner import ScenarioRunner

log = logging.getLogger(__name__)

REFRESH_SECONDS = 0.5  # how often checks and highlights are re-read while a scenario is on
NO_SIM = "scenarios run on the simulated cluster; this dashboard shows another source"
NOT_STARTED = "no scenario is running; start one first"
BUSY = "a step is still running; wait for it to finish"


class SessionProblem(Exception):
    """A request the session cannot do now: an HTTP status and a message for {"error": ...}."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code  # for the page: "busy" when a step is still playing out


def scenario_cluster_factory(start: float, seed: int, max_endpoints_per_slice: int) -> Callable[[], Any]:
    """Fresh SimClusters on manual clocks that all start at `start`: a rebuild is the same run again."""

    def make() -> Any:
        from app.sim.clock import SimClock
        from app.sim.cluster import SimCluster, SimConfig

        config = SimConfig(max_endpoints_per_slice=max_endpoints_per_slice, seed=seed)
        return SimCluster(SimClock(start), config)

    return make


class ScenarioSession:
    """One scenario at a time on the live simulated cluster (`live`, None for other sources)."""

    def __init__(
        self,
        library: dict[str, Scenario],
        *,
        live: LiveSim | None,
        presenting: bool,
        publish: Callable[[dict[str, Any] | None], None],
        make_default: Callable[[], Any],
        seed: int = 0,
        max_endpoints_per_slice: int = 100,
        speed: float = 1.0,
    ) -> None:
        self.library = library
        self.live = live
        self.presenting = presenting
        self._publish = publish
        self.make_default = make_default
        self.seed = seed
        self.max_endpoints_per_slice = max_endpoints_per_slice
        self.speed = speed
        self.runner: ScenarioRunner | None = None
        self.error: str | None = None
        self._factory: Callable[[], Any] | None = None
        self._running: int | None = None  # index of the step playing out now
        self._step_task: asyncio.Task[Any] | None = None
        self._lock = asyncio.Lock()
        self._published: Any = object()
        if live is not None:
            live.on_resume.append(self.publish)  # the class changed the cluster: time runs again

    # ---- what the page sees --------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._running is not None

    @property
    def cluster_factory(self) -> Callable[[], Any] | None:
        """How the running scenario's clusters are made (a rebuild is the same run again)."""
        return self._factory

    def listing(self) -> dict[str, Any]:
        return {
            "scenarios": [
                {"name": s.name, "title": s.title, "summary": s.summary, "steps": len(s.steps)}
                for s in self.library.values()
            ],
            "active": self.state(),
        }

    def state(self) -> dict[str, Any] | None:
        """ScenarioState (docs/view-model.md); while a step runs, that step with its checks pending
        (they are judged when its waits have played out); after it, the checks as they stand (the
        clock is held, so that is the step's end until someone changes the cluster)."""
        runner = self.runner
        if runner is None:
            return None
        sc = runner.scenario
        index = self._running if self._running is not None else runner.position - 1
        step = sc.steps[index] if index >= 0 else None
        following = index + 1
        try:
            checks = _pending(step) if self._running is not None else _checks(runner, step)
            highlight = runner.highlight_of(step)
            store = runner.cluster.store
            commands = suggested_commands(
                sc, step, lambda ns, name: store.get("Service", ns, name) is not None
            )
        except Exception:  # a state that cannot be read is shown empty, never fatal
            log.exception("could not evaluate the scenario's checks")
            checks, highlight, commands = [], runner.highlight_of(None), suggested_commands(sc, None)
        return {
            "name": sc.name,
            "title": sc.title,
            "summary": sc.summary,
            "step": index + 1,
            "total": len(sc.steps),
            "stepTitle": step.title if step else None,
            "narration": step.narration if step else None,
            "next": sc.steps[following].title if following < len(sc.steps) else None,
            "highlight": highlight,
            "checks": checks,
            "busy": self.busy,
            "clock": "paused" if self.live is not None and self.live.paused and not self.busy else "running",
            "error": self.error,
            "commands": commands,
        }

    def classroom(self) -> dict[str, Any] | None:
        """meta.classroom: null when neither presenting nor running a scenario."""
        state = self.state()
        if state is None and not self.presenting:
            return None
        return {"presenting": self.presenting, "scenario": state}

    def publish(self) -> None:
        """Send meta.classroom to every browser when it changed."""
        value = self.classroom()
        if value != self._published:
            self._published = value
            self._publish(value)

    async def refresh_forever(self, interval: float = REFRESH_SECONDS) -> None:
        """Re-read checks and highlights now and then: the class may change the cluster meanwhile."""
        while True:
            await asyncio.sleep(interval)
            if self.runner is not None and not self._lock.locked():
                self.publish()

    # ---- the controls ----------------------------------------------------------------
    def _need_live(self) -> LiveSim:
        if self.live is None:
            raise SessionProblem(409, NO_SIM)
        return self.live

    def _need_runner(self) -> ScenarioRunner:
        if self.runner is None:
            raise SessionProblem(409, NOT_STARTED)
        return self.runner

    async def start(self, name: Any) -> dict[str, Any] | None:
        live = self._need_live()
        if not isinstance(name, str) or not name:
            raise SessionProblem(400, '"name" is required (a scenario name)')
        scenario = self.library.get(name)
        if scenario is None:
            known = ", ".join(self.library)
            raise SessionProblem(404, f"no scenario named {name!r}; choose one of {known}")
        async with self._lock:
            await self._cancel_step()
            factory = scenario_cluster_factory(time.time(), self.seed, self.max_endpoints_per_slice)
            runner = await self._build(scenario, factory, 0)
            self._factory = factory
            await self._put_in_place(live, runner)
        return self.state()

    async def next(self) -> dict[str, Any] | None:
        async with self._lock:
            runner = self._need_runner()
            if self.busy:
                raise SessionProblem(409, BUSY, "busy")
            if runner.at_end:
                raise SessionProblem(409, "the scenario is at its last step; restart or stop it")
            self._running = runner.position
            self.error = None
            self._step_task = asyncio.create_task(self._run_step(runner), name="scenario-step")
            self.publish()
        return self.state()

    async def back(self) -> dict[str, Any] | None:
        """To the step before; while a step plays out, to the state before that step."""
        async with self._lock:
            runner = self._need_runner()
            target = runner.position if self.busy else max(0, runner.position - 1)
            await self._rebuild(runner, target)
        return self.state()

    async def restart(self) -> dict[str, Any] | None:
        async with self._lock:
            await self._rebuild(self._need_runner(), 0)
        return self.state()

    async def stop(self) -> None:
        """Leave the scenario: the default lesson cluster comes back."""
        live = self._need_live()
        async with self._lock:
            await self._cancel_step()
            if self.runner is None:
                return None
            self.runner = None
            self._factory = None
            self.error = None
            cluster = await asyncio.to_thread(self.make_default)
            live.resume()
            await live.swap(cluster)
            self.publish()
        return None

    async def close(self) -> None:
        await self._cancel_step()

    # ---- inside ----------------------------------------------------------------------
    async def _build(self, scenario: Scenario, factory: Callable[[], Any], position: int) -> ScenarioRunner:
        """A runner at `position`, built (setup, then steps fast-forwarded) off the event loop."""

        def build() -> ScenarioRunner:
            runner = ScenarioRunner(scenario, factory)
            if position:
                runner.goto(position)
            return runner

        try:
            return await asyncio.to_thread(build)
        except ScenarioError as e:
            raise SessionProblem(422, str(e)) from None

    async def _rebuild(self, runner: ScenarioRunner, position: int) -> None:
        await self._cancel_step()
        assert self._factory is not None
        fresh = await self._build(runner.scenario, self._factory, position)
        await self._put_in_place(self._need_live(), fresh)

    async def _put_in_place(self, live: LiveSim, runner: ScenarioRunner) -> None:
        self.runner = runner
        self.error = None
        live.pause()  # the scenario's cluster stands where its set-up (or last step) left it
        await live.swap(runner.cluster)
        self.publish()

    async def _cancel_step(self) -> None:
        task, self._step_task = self._step_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._running = None

    async def _run_step(self, runner: ScenarioRunner) -> None:
        live = self._need_live()
        live.pause()  # the step starts where the last one ended, even if the class moved time on
        live.scripted = True
        try:
            await runner.next_live(self._sleep)
        except asyncio.CancelledError:
            raise
        except ScenarioError as e:
            self.error = str(e)
        except Exception as e:
            log.exception("a scenario step failed")
            self.error = f"the step failed: {e}"
        finally:
            live.scripted = False
            if self.runner is runner:
                live.pause()
                self._running = None
                self.publish()

    async def _sleep(self, sim_seconds: float) -> None:
        """A step's wait on the live simulated clock, publishing the state as it goes."""
        live = self._need_live()
        live.scripted = False
        try:
            await live.play(sim_seconds, on_tick=self.publish)
        finally:
            live.scripted = True


def _checks(runner: ScenarioRunner, step: Any) -> list[dict[str, Any]]:
    if step is None:
        return []
    return [
        {"text": r.text, "ok": r.ok, "pending": False, "problems": list(r.problems)}
        for r in evaluate_all(runner.cluster.store, step.expect)
    ]


def _pending(step: Any) -> list[dict[str, Any]]:
    """A playing step's checks: not judged yet (ok false, no problems), marked pending."""
    if step is None:
        return []
    return [{"text": describe(c), "ok": False, "pending": True, "problems": []} for c in step.expect]
