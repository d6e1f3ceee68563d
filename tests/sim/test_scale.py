"""The simulated cluster at scale, on a manual clock: nodes sized for 10,000 pods, a full cluster
explained by the scheduler, and no timer callback (no stretch of event-loop time) that grows with
the cluster: work is done in bounded batches and whole-Service syncs run once per instant."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.sim.clock import RealtimeDriver, SimClock
from app.sim.cluster import SimCluster, SimConfig
from app.sim.controllers import endpoints as endpoints_mod
from app.sim.controllers import endpointslice as endpointslice_mod
from app.sim.controllers.common import condition, is_ready
from app.sim.controllers.lane import lane_for
from app.sim.store import StoreEvent

WEB = {"app": "web"}


@dataclass
class CallbackMeter:
    """Store writes made inside each timer callback of a clock (wrapped as they are scheduled)."""

    writes: list[int] = field(default_factory=list)
    total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    _current: int = 0
    _inside: bool = False

    def attach(self, cluster: SimCluster) -> None:
        clock = cluster.clock
        schedule = clock.call_at

        def call_at(when: float, fn: Callable[[], object]) -> Any:
            def measured() -> object:
                self._current, self._inside = 0, True
                try:
                    return fn()
                finally:
                    self._inside = False
                    self.writes.append(self._current)

            return schedule(when, measured)

        clock.call_at = call_at  # type: ignore[method-assign]
        cluster.store.subscribe(self._on_write)

    def _on_write(self, event: StoreEvent) -> None:
        self.total += 1
        self.by_kind[event.kind] += 1
        if self._inside:
            self._current += 1


def built(replicas: int, *, meter: CallbackMeter | None = None, **config: Any) -> SimCluster:
    """The lesson cluster with web scaled to `replicas`, every pod started and its probe run."""
    c = SimCluster(SimClock(), SimConfig(**config))
    c.start()
    c.load_lesson()
    c.run_for(30)
    if meter is not None:
        meter.attach(c)
    c.scale("default", "web", replicas)
    c.run_for(10)
    return c


def web_pods(c: SimCluster) -> list[dict]:
    return c.store.list("Pod", "default", WEB)


# ---- capacity -----------------------------------------------------------------------------------
def test_default_nodes_hold_ten_thousand_pods_with_the_lesson_look() -> None:
    c = SimCluster()
    c.start()
    nodes = c.store.list("Node")
    assert len(nodes) == 3
    assert sum(int(n["status"]["allocatable"]["pods"]) for n in nodes) >= 10_000
    c.load_lesson()
    c.run_for(30)
    ips = sorted(p["status"]["podIP"] for p in c.store.list("Pod"))
    assert len(ips) == 7 and all(ip.startswith("10.244.") for ip in ips)
    assert {p["spec"]["nodeName"] for p in c.store.list("Pod")} == {"node-1", "node-2", "node-3"}


def test_two_thousand_pods_built_through_the_controllers() -> None:
    c = built(2_000)
    pods = web_pods(c)
    assert len(pods) == 2_000 and all(is_ready(p) for p in pods)
    assert len({p["status"]["podIP"] for p in pods}) == 2_000
    slices = c.store.list("EndpointSlice", "default", {"kubernetes.io/service-name": "web-svc"})
    assert sorted(len(s["endpoints"]) for s in slices) == [100] * 20
    assert all(e["conditions"]["ready"] for s in slices for e in s["endpoints"])
    ep = c.store.require("Endpoints", "default", "web-svc")
    assert sum(len(s.get("addresses") or ()) for s in ep["subsets"]) == 1000  # the Endpoints cap
    assert ep["metadata"]["annotations"]["endpoints.kubernetes.io/over-capacity"] == "truncated"
    deploy = c.store.require("Deployment", "default", "web")
    assert deploy["status"]["readyReplicas"] == 2_000 and deploy["status"]["availableReplicas"] == 2_000


# ---- a full cluster -------------------------------------------------------------------------------
def test_pending_pods_carry_the_schedulers_reason_when_the_cluster_is_full() -> None:
    c = SimCluster(config=SimConfig(nodes=3, pod_cidr_prefix=28))  # 13 pods a node
    c.start()
    c.load_lesson()  # 7 pods
    c.run_for(30)
    c.scale("default", "web", 40)  # 4 + 40 pods for 39 places
    c.run_for(10)
    pending = [p for p in web_pods(c) if not p["spec"].get("nodeName")]
    assert len(pending) == 5
    for pod in pending:
        cond = condition(pod, "PodScheduled")
        assert cond is not None and cond["status"] == "False" and cond["reason"] == "Unschedulable"
        assert cond["message"] == (
            "0/3 nodes are available: 3 Too many pods. "
            "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.."
        )
        assert pod["status"]["phase"] == "Pending" and "podIP" not in pod["status"]
    failed = [e for e in c.store.list("Event") if e["reason"] == "FailedScheduling"]
    assert {e["involvedObject"]["name"] for e in failed} == {p["metadata"]["name"] for p in pending}
    # Room appears (two pods of another Deployment go): as many waiting pods are placed.
    c.scale("default", "shipping-api", 2)
    c.run_for(60)
    still = [p for p in web_pods(c) if not p["spec"].get("nodeName")]
    assert len(still) == 3


def test_a_not_ready_node_is_named_in_the_reason() -> None:
    c = SimCluster(config=SimConfig(nodes=2, pod_cidr_prefix=28))
    c.start()

    def not_ready(node: dict) -> None:
        node["status"]["conditions"][0].update(status="False", reason="KubeletNotReady")

    c.store.mutate("Node", "", "node-2", not_ready)
    c.load_lesson()
    c.scale("default", "web", 20)
    c.run_for(10)
    pending = [p for p in web_pods(c) if not p["spec"].get("nodeName")]
    assert pending
    assert condition(pending[0], "PodScheduled")["message"] == (
        "0/2 nodes are available: 1 Too many pods, "
        "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. "
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling.."
    )


# ---- bounded callbacks and linear work ----------------------------------------------------------
def test_no_timer_callback_grows_with_the_cluster() -> None:
    small, big = CallbackMeter(), CallbackMeter()
    built(300, meter=small)
    c = built(3_000, meter=big)
    assert len(web_pods(c)) == 3_000
    # Pods are created, bound, started and deleted 50 to a callback; one callback writes at most
    # a batch of pods and their events, or one Service's slices.
    assert max(big.writes) <= 200
    assert max(big.writes) <= max(small.writes) + 50
    # Scaling down is batched the same way.
    down = CallbackMeter()
    down.attach(c)
    c.scale("default", "web", 0)
    c.run_for(60)
    assert web_pods(c) == []
    assert max(down.writes) <= 200


def test_store_writes_and_endpoint_work_are_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    made: Counter[str] = Counter()

    def counted(module: Any, name: str) -> None:
        real = getattr(module, name)

        def wrapper(*args: Any) -> Any:
            made[name] += 1
            return real(*args)

        monkeypatch.setattr(module, name, wrapper)

    counted(endpointslice_mod, "slice_member")
    counted(endpoints_mod, "member")
    per_pod = {}
    for n in (500, 2_000):
        made.clear()
        meter = CallbackMeter()
        c = built(n, meter=meter)
        # Events are bounded apart (at most max_events kept, the oldest deleted).
        writes = meter.total - meter.by_kind["Event"]
        per_pod[n] = (writes / n, made["slice_member"] / n, made["member"] / n)
        turns = lane_for(c.clock).turns
        assert turns < 40  # whole-Service syncs: a few per simulated instant, not one per pod change
    (w1, s1, m1), (w2, s2, m2) = per_pod[500], per_pod[2_000]
    assert w2 <= w1 * 1.05  # store writes a pod: the same at any size
    # Each pod's endpoint record is remade once per change that matters (created, IP, ready).
    assert s2 <= 4 and m2 <= 4 and s2 <= s1 * 1.1 and m2 <= m1 * 1.1


def test_deleting_a_big_deployment_is_batched() -> None:
    c = built(1_500)
    meter = CallbackMeter()
    meter.attach(c)
    c.delete("Deployment", "default", "web")
    c.run_for(60)
    assert web_pods(c) == [] and c.store.list("ReplicaSet", "default", WEB) == []
    assert max(meter.writes) <= 200


async def test_the_realtime_driver_lets_the_event_loop_run_between_timers() -> None:
    """With a zero time slice the driver runs one due timer, then lets the loop run: a scale-up's
    hundreds of batches never hold the loop together (and with the default 20 ms slice, a handful
    of batches at most do)."""
    c = SimCluster(SimClock())
    c.start()
    c.load_lesson()
    c.run_for(30)
    ran = 0
    schedule = c.clock.call_at

    def call_at(when: float, fn: Callable[[], object]) -> Any:
        def counted() -> object:
            nonlocal ran
            ran += 1
            return fn()

        return schedule(when, counted)

    c.clock.call_at = call_at  # type: ignore[method-assign]
    c.scale("default", "web", 1000)
    seen: list[int] = []
    driver = RealtimeDriver(c.clock, speed=1.0, hold=True, slice_seconds=0.0)  # time stands still
    task = asyncio.create_task(driver.run())
    for _ in range(400):
        await asyncio.sleep(0)
        seen.append(ran)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    steps = [b - a for a, b in itertools.pairwise(seen)]
    assert seen[-1] > 50  # the scale-up's callbacks ran ...
    assert max(steps) <= 1  # ... one between two turns of the loop
