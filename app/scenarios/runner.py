"""Steps a Scenario on a simulated cluster: next, back, goto and restart. Going back rebuilds the
state by replaying the setup and the earlier steps on a fresh cluster (see docs/scenarios.md)."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from app.scenarios.checks import CheckResult, evaluate_all
from app.scenarios.format import (
    Action,
    Apply,
    Delete,
    DeletePod,
    Flap,
    Label,
    PodRef,
    Readiness,
    Scale,
    Scenario,
    Step,
    Wait,
)
from app.scenarios.loader import ScenarioError

if TYPE_CHECKING:
    from app.sim.cluster import SimCluster

Obj = dict[str, Any]
ClusterFactory = Callable[[], "SimCluster"]


def default_cluster_factory(seed: int = 0, max_endpoints_per_slice: int = 100) -> ClusterFactory:
    """A factory of fresh SimClusters on a manual SimClock that starts at the same instant every time,
    so a replay is the same run again."""

    def make() -> SimCluster:
        from app.sim.clock import SimClock
        from app.sim.cluster import SimCluster, SimConfig

        return SimCluster(SimClock(), SimConfig(max_endpoints_per_slice=max_endpoints_per_slice, seed=seed))

    return make


def _ready(pod: Obj) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


class ScenarioRunner:
    """Holds the cluster a scenario runs on and where in the scenario it stands.

    `position` counts the steps done: 0 is the state right after setup, len(steps) the end.
    Each step's actions run in order; `wait` and the gaps inside `flap` pass simulated time through
    `cluster.run_for`, so the cluster reaches the state the step's `expect` describes at once.
    `back`, `goto` (to an earlier step) and `restart` build a fresh cluster from `cluster_factory`
    and replay; `on_reset(cluster)` is then called so whoever watches the old cluster can switch.
    """

    def __init__(
        self,
        scenario: Scenario,
        cluster_factory: ClusterFactory | None = None,
        on_reset: Callable[[SimCluster], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.cluster_factory = cluster_factory or default_cluster_factory()
        self.on_reset = on_reset
        self.position = 0
        self._busy = False
        self.remembered: dict[str, list[tuple[str, str]]] = {}
        self.cluster: SimCluster = self._fresh()

    # ---- navigation ---------------------------------------------------------------
    @property
    def total(self) -> int:
        return len(self.scenario.steps)

    @property
    def at_end(self) -> bool:
        return self.position >= self.total

    @property
    def current_step(self) -> Step | None:
        """The step whose actions were run last (None right after setup)."""
        return self.scenario.steps[self.position - 1] if self.position else None

    def next(self) -> Step | None:
        """Run the next step, fast-forwarding simulated time through its waits; returns the step,
        or None when the scenario is already at its end."""
        step = self._begin_step()
        if step is None:
            return None
        try:
            for seconds in self._step_plan(step, self.position):
                self.cluster.run_for(seconds)
        finally:
            self._busy = False
        self.position += 1
        return step

    async def next_live(self, sleep: Callable[[float], Awaitable[object]]) -> Step | None:
        """Run the next step at the pace of a running cluster: each wait is `await sleep(seconds)`
        (simulated seconds; the caller turns them into real time, e.g. divided by the sim speed)
        while something else drives the clock, so a class sees the changes happen one by one."""
        step = self._begin_step()
        if step is None:
            return None
        try:
            for seconds in self._step_plan(step, self.position):
                await sleep(seconds)
        finally:
            self._busy = False
        self.position += 1
        return step

    def _begin_step(self) -> Step | None:
        if self._busy:
            raise RuntimeError("a step is already running")
        if self.at_end:
            return None
        self._busy = True
        return self.scenario.steps[self.position]

    def back(self) -> Step | None:
        """Go to the state after the previous step (rebuilt by replay). Returns the new current step."""
        if self.position > 0:
            self.goto(self.position - 1)
        return self.current_step

    def restart(self) -> None:
        self.goto(0)

    def goto(self, position: int) -> None:
        """Reach the state after `position` steps: forward by running steps, backward by replaying."""
        if not 0 <= position <= self.total:
            raise ValueError(f"position must be between 0 and {self.total}, got {position}")
        if self._busy:
            raise RuntimeError("a step is already running")
        if position < self.position or position == 0:
            self.cluster = self._fresh()
            self.position = 0
            if self.on_reset is not None:
                self.on_reset(self.cluster)
        while self.position < position:
            self.next()

    # ---- what the page needs --------------------------------------------------------
    def check(self) -> list[CheckResult]:
        """The current step's expectations evaluated against the cluster now."""
        step = self.current_step
        return evaluate_all(self.cluster.store, step.expect) if step else []

    def highlight(self) -> dict[str, list[Any]]:
        """The current step's highlight with pod rules resolved to pod keys and their IPs."""
        return self.highlight_of(self.current_step)

    def highlight_of(self, step: Step | None) -> dict[str, list[Any]]:
        """A step's highlight with its pod rules resolved against the cluster as it is now."""
        out: dict[str, list[Any]] = {"services": [], "selectors": [], "pods": [], "ips": []}
        if step is None:
            return out
        hl = step.highlight
        out["services"] = list(hl.services)
        out["selectors"] = [dict(s) for s in hl.selectors]
        ips = list(hl.ips)
        for ref in hl.pods:
            for pod in self._resolve(ref, required=False):
                md = pod["metadata"]
                key = f"{md.get('namespace', '')}/{md['name']}"
                if key not in out["pods"]:
                    out["pods"].append(key)
                ip = (pod.get("status") or {}).get("podIP")
                if ip and ip not in ips:
                    ips.append(ip)
        out["ips"] = ips
        return out

    def state(self) -> dict[str, Any]:
        """A JSON-able summary for the classroom panel: where we are, what to say, what to show."""
        step = self.current_step
        return {
            "scenario": {
                "name": self.scenario.name,
                "title": self.scenario.title,
                "summary": self.scenario.summary,
            },
            "position": self.position,
            "total": self.total,
            "step": None if step is None else {"title": step.title, "narration": step.narration},
            "next": None if self.at_end else self.scenario.steps[self.position].title,
            "highlight": self.highlight(),
            "checks": [r.as_dict() for r in self.check()],
        }

    # ---- running --------------------------------------------------------------------
    def _fresh(self) -> SimCluster:
        self.remembered = {}
        cluster = self.cluster_factory()
        cluster.start()
        setup = self.scenario.setup
        try:
            if setup.lesson:
                cluster.load_lesson()
            for manifest in setup.manifests:
                cluster.apply(copy.deepcopy(manifest))
            cluster.run_for(setup.wait)
        except ScenarioError:
            raise
        except Exception as e:
            raise ScenarioError(self.scenario.source, None, f"setup failed: {e}", "setup") from e
        return cluster

    def _step_plan(self, step: Step, index: int) -> Iterator[float]:
        """Run the step's actions in order, yielding each stretch of simulated time to let pass."""
        for i, action in enumerate(step.actions):
            try:
                yield from self._run(action)
            except Exception as e:
                raise ScenarioError(
                    self.scenario.source,
                    step.line or None,
                    f"step {index + 1} ({step.title!r}) failed: {e}",
                    f"steps[{index}].actions[{i}]",
                ) from e

    def _run(self, action: Action) -> Iterator[float]:
        c = self.cluster
        if isinstance(action, Wait):
            yield action.seconds
            return
        if isinstance(action, Apply):
            for manifest in action.manifests:
                c.apply(copy.deepcopy(manifest))
        elif isinstance(action, Scale):
            c.scale(action.namespace, action.name, action.replicas)
        elif isinstance(action, Delete):
            c.delete(action.kind, action.namespace, action.name)
        elif isinstance(action, Label):
            for ns, name in self._pick(action.pod, action.remember):
                c.set_pod_labels(ns, name, dict(action.labels))
        elif isinstance(action, Readiness):
            for ns, name in self._pick(action.pod, action.remember):
                c.set_probe(ns, name, action.passing)
        elif isinstance(action, DeletePod):
            for ns, name in self._pick(action.pod, action.remember):
                c.delete_pod(ns, name, grace_seconds=action.grace_seconds)
        elif isinstance(action, Flap):
            targets = self._pick(action.pod, action.remember)
            for _ in range(action.times):
                for passing in (False, True):
                    for ns, name in targets:
                        if c.store.get("Pod", ns, name) is not None:
                            c.set_probe(ns, name, passing)
                    yield action.period
            return
        c.run_for(0)  # let the controllers react to what just happened

    def _pick(self, ref: PodRef, remember: str | None) -> list[tuple[str, str]]:
        keys = [(p["metadata"].get("namespace", ""), p["metadata"]["name"]) for p in self._resolve(ref)]
        if remember:
            self.remembered[remember] = keys
        return keys

    def _resolve(self, ref: PodRef, *, required: bool = True) -> list[Obj]:
        store = self.cluster.store
        if ref.ref is not None:
            pods = [p for ns, name in self.remembered.get(ref.ref, []) if (p := store.get("Pod", ns, name))]
        else:
            candidates = sorted(
                (
                    p
                    for p in store.list("Pod", ref.namespace, ref.selector or None)
                    if not (p.get("metadata") or {}).get("deletionTimestamp")
                ),
                key=lambda p: p["metadata"]["name"],
            )
            ready = [p for p in candidates if _ready(p)]
            not_ready = [p for p in candidates if not _ready(p)]
            chosen = {
                "first": candidates[:1],
                "last": candidates[-1:],
                "first-ready": ready[:1],
                "last-ready": ready[-1:],
                "first-not-ready": not_ready[:1],
                "all": candidates,
            }
            pods = chosen[ref.pick]
        if not pods and required:
            raise LookupError(f"no pod found for the {ref.describe()}")
        return pods
