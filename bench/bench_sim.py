"""Benchmark of the simulated cluster at scale: the default cluster (the lesson loaded) with the web
Deployment scaled to 1,000, 3,000 and 10,000 pods, built through the controllers (Deployment ->
ReplicaSet -> scheduler / kubelet -> EndpointSlice and Endpoints controllers) on a manual clock
until every pod is Running and Ready.

It prints, with 1,000 pods as the baseline measured in the same run and the ratio to it: build
time (wall and CPU, median of the runs), bytes a pod (tracemalloc, and the process's RSS growth in
a fresh interpreter), the longest single timer callback and the most store writes one callback
made. Then /healthz latency on a real server (uvicorn, realtime clock) while it builds 10,000 pods
from one scale request, against /healthz on the same server idle.

    python -m bench.bench_sim                        # 1k, 3k, 10k; median of 3
    python -m bench.bench_sim --sizes 300 900 --runs 1 --healthz-pods 1000   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from app.sim.clock import SimClock
from app.sim.cluster import SimCluster, SimConfig
from app.sim.store import StoreEvent

NAMESPACE, DEPLOYMENT, SERVICE = "default", "web", "web-svc"


@dataclass
class Build:
    pods: int
    wall: float  # seconds from the scale to every pod Ready
    cpu: float
    longest_callback: float  # CPU seconds
    most_writes: int  # store writes made by one timer callback
    gc_cpu: float  # CPU seconds the cyclic garbage collector took during the build


def lesson_cluster() -> SimCluster:
    cluster = SimCluster(SimClock(), SimConfig())
    cluster.start()
    cluster.load_lesson()
    cluster.run_for(30)
    return cluster


def all_ready(cluster: SimCluster, pods: int) -> bool:
    status = (cluster.store.get("Deployment", NAMESPACE, DEPLOYMENT) or {}).get("status") or {}
    return status.get("readyReplicas") == pods and status.get("replicas") == pods


def scale_until_ready(cluster: SimCluster, pods: int, *, limit: float = 120.0) -> None:
    cluster.scale(NAMESPACE, DEPLOYMENT, pods)
    waited = 0.0
    while not all_ready(cluster, pods):
        if waited > limit:
            raise RuntimeError(f"{pods} pods not ready after {limit:g} simulated seconds")
        cluster.run_for(1.0)
        waited += 1.0


def measure_callbacks(cluster: SimCluster) -> Callable[[], tuple[float, int]]:
    """Time every timer callback scheduled from now on and count the store writes each makes."""
    longest = [0.0]
    most = [0]
    writes = [0]
    clock = cluster.clock
    schedule = clock.call_at

    def call_at(when: float, fn: Callable[[], object]) -> Any:
        def timed() -> object:
            before, start = writes[0], time.thread_time()  # CPU of this thread: not waits for a CPU
            try:
                return fn()
            finally:
                longest[0] = max(longest[0], time.thread_time() - start)
                most[0] = max(most[0], writes[0] - before)

        return schedule(when, timed)

    def count(_: StoreEvent) -> None:
        writes[0] += 1

    clock.call_at = call_at  # type: ignore[method-assign]
    cluster.store.subscribe(count)
    return lambda: (longest[0], most[0])


def build(pods: int) -> Build:
    cluster = lesson_cluster()
    result = measure_callbacks(cluster)
    gc.collect()
    pauses = gc_pauses()
    wall, cpu = time.perf_counter(), time.process_time()
    scale_until_ready(cluster, pods)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    gc.callbacks.remove(pauses.record)
    longest, most = result()
    return Build(pods, wall, cpu, longest, most, pauses.total_cpu)


def traced_bytes_per_pod(pods: int) -> float:
    """Memory the simulator holds for the scaled pods (everything it keeps: objects, controllers'
    records, watch history, events), by tracemalloc, over the lesson cluster before the scale."""
    cluster = lesson_cluster()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    scale_until_ready(cluster, pods)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / pods


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def rss_child(pods: int) -> None:
    """In a fresh interpreter: RSS growth from the lesson cluster to `pods` built, as JSON."""
    cluster = lesson_cluster()
    gc.collect()
    before = rss()
    scale_until_ready(cluster, pods)
    gc.collect()
    print(json.dumps({"pods": pods, "bytes": rss() - before}))


def rss_bytes_per_pod(pods: int) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_sim", "--rss-child", str(pods)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["bytes"] / pods


# ---- /healthz on a real server -----------------------------------------------------------------
class Server:
    """A real uvicorn serving create_app on a free port, its loop in a thread."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1)
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def dashboard_app(cluster: SimCluster) -> tuple[Any, Callable[[httpx.Client, int], None]]:
    """The whole dashboard (view engine, hub, simulated API) on the cluster; scaled by its action."""
    from app.server import create_app
    from app.settings import Settings

    app = create_app(Settings(port=0, sim_lesson=False, allow_actions=True), cluster=cluster)

    def scale(client: httpx.Client, pods: int) -> None:
        body = {"namespace": NAMESPACE, "name": DEPLOYMENT, "replicas": pods}
        client.post("/api/actions/scale", json=body).raise_for_status()

    return app, scale


def simulator_app(cluster: SimCluster) -> tuple[Any, Callable[[httpx.Client, int], None]]:
    """The simulator alone on the event loop (its realtime driver) with a bare /healthz: what the
    controllers cost the loop, apart from the view engine and the streams."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from app.sim.clock import RealtimeDriver

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def scale_route(request: Request) -> JSONResponse:
        cluster.scale(NAMESPACE, DEPLOYMENT, int((await request.json())["replicas"]))
        return JSONResponse({"ok": True})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(RealtimeDriver(cluster.clock).run())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    app = Starlette(
        routes=[Route("/healthz", healthz), Route("/scale", scale_route, methods=["POST"])], lifespan=lifespan
    )

    def scale(client: httpx.Client, pods: int) -> None:
        client.post("/scale", json={"replicas": pods}).raise_for_status()

    return app, scale


def healthz_latency(
    pods: int, *, whole: bool, freeze_every: float = 0.0, idle_seconds: float = 2.0, limit: float = 300.0
) -> dict[str, Any]:
    """/healthz round trips every 20 ms: first idle, then from a scale request to `pods` until the
    Deployment reports them all Ready. Returns latencies (seconds) and the build's wall time.
    whole: the dashboard, else the simulator alone; freeze_every > 0: gc.freeze() that often (a
    full collection then skips what is frozen)."""
    cluster = SimCluster(SimClock(time.time()), SimConfig())
    cluster.start()
    cluster.load_lesson()
    callbacks = measure_callbacks(cluster)
    pauses = gc_pauses()
    app, scale = (dashboard_app if whole else simulator_app)(cluster)
    stop = threading.Event()

    def freezer() -> None:
        while not stop.wait(freeze_every):
            gc.freeze()

    if freeze_every > 0:
        threading.Thread(target=freezer, daemon=True).start()
    with Server(app) as base, httpx.Client(base_url=base, timeout=60) as client:

        def probe(until: Callable[[], bool], deadline: float) -> list[float]:
            out: list[float] = []
            while not until() and time.monotonic() < deadline:
                start = time.perf_counter()
                client.get("/healthz").raise_for_status()
                out.append(time.perf_counter() - start)
                time.sleep(0.02)
            return out

        idle = probe(lambda: False, time.monotonic() + idle_seconds)
        started = time.perf_counter()
        scale(client, pods)
        busy = probe(lambda: all_ready(cluster, pods), time.monotonic() + limit)
        built = time.perf_counter() - started
        done = all_ready(cluster, pods)
    stop.set()
    gc.callbacks.remove(pauses.record)
    gc.unfreeze()
    longest, _ = callbacks()
    return {
        "idle": idle,
        "busy": busy,
        "built": built,
        "done": done,
        "longest_callback": longest,
        "longest_gc": pauses.longest,
    }


@dataclass
class GcPauses:
    """The pauses of Python's cyclic garbage collector, from gc.callbacks: the longest (wall
    seconds) and their CPU in all."""

    longest: float = 0.0
    total_cpu: float = 0.0
    _start: float = 0.0
    _start_cpu: float = 0.0

    def record(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start, self._start_cpu = time.perf_counter(), time.thread_time()
        else:
            self.longest = max(self.longest, time.perf_counter() - self._start)
            self.total_cpu += time.thread_time() - self._start_cpu


def gc_pauses() -> GcPauses:
    pauses = GcPauses()
    gc.callbacks.append(pauses.record)
    return pauses


# ---- report ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000, 3_000, 10_000], help="first = baseline")
    p.add_argument("--runs", type=int, default=3, help="build runs per size (medians are printed)")
    p.add_argument("--healthz-pods", type=int, default=10_000, help="0 skips the /healthz phase")
    p.add_argument(
        "--freeze-every",
        type=float,
        default=1.0,
        help="a second /healthz run with gc.freeze() this often (0: none)",
    )
    p.add_argument("--no-rss", action="store_true", help="skip the RSS measurement (a child process)")
    p.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.rss_child:
        rss_child(a.rss_child)
        return {}
    print(
        f"slicescope simulator bench: web scaled to {', '.join(map(str, a.sizes))} pods on the default "
        f"cluster; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; medians of {a.runs} runs"
    )
    figures: dict[str, Any] = {"sizes": {}}
    base_size = a.sizes[0]
    base: dict[str, float] = {}
    for n in a.sizes:
        runs = [build(n) for _ in range(a.runs)]
        wall = statistics.median(r.wall for r in runs)
        cpu = statistics.median(r.cpu for r in runs)
        no_gc = statistics.median(r.cpu - r.gc_cpu for r in runs)
        longest = max(r.longest_callback for r in runs)
        most = max(r.most_writes for r in runs)
        traced = traced_bytes_per_pod(n)
        resident = float("nan") if a.no_rss else rss_bytes_per_pod(n)
        if n == base_size:
            base = {"wall": wall, "cpu": cpu, "no_gc": no_gc}
        row = {
            "wall_s": wall,
            "cpu_s": cpu,
            "wall_ratio": wall / base["wall"],
            "cpu_ratio": cpu / base["cpu"],
            "cpu_without_gc_s": no_gc,
            "cpu_without_gc_ratio": no_gc / base["no_gc"],
            "us_per_pod": cpu / n * 1e6,
            "traced_bytes_per_pod": traced,
            "rss_bytes_per_pod": resident,
            "longest_callback_ms": longest * 1000,
            "most_writes_per_callback": most,
        }
        figures["sizes"][n] = row
        print(
            f"  {n:>6} pods: build {wall:6.2f} s wall, {cpu:6.2f} s CPU ({row['us_per_pod']:.0f} µs a pod), "
            f"{no_gc:.2f} s without the garbage collector; x{row['wall_ratio']:.1f} wall, "
            f"x{row['cpu_ratio']:.1f} CPU, x{row['cpu_without_gc_ratio']:.1f} CPU without GC of {base_size} "
            f"(size x{n / base_size:g}); {traced:,.0f} B a pod traced, {resident:,.0f} B RSS; "
            f"longest callback {row['longest_callback_ms']:.1f} ms CPU, at most {most} writes in one"
        )
    if a.healthz_pods:
        runs = [("simulator", False, 0.0), ("dashboard", True, 0.0)]
        if a.freeze_every > 0:
            runs.append(("dashboard_freeze", True, a.freeze_every))
        for label, whole, every in runs:
            h = healthz_latency(a.healthz_pods, whole=whole, freeze_every=every)
            idle, busy = h["idle"], h["busy"]
            f = figures[f"healthz_{label}"] = {
                "idle_p50_ms": pct(idle, 0.5) * 1000,
                "idle_p99_ms": pct(idle, 0.99) * 1000,
                "busy_p50_ms": pct(busy, 0.5) * 1000,
                "busy_p99_ms": pct(busy, 0.99) * 1000,
                "busy_max_ms": max(busy, default=float("nan")) * 1000,
                "built_s": h["built"],
                "done": h["done"],
                "longest_callback_ms": h["longest_callback"] * 1000,
                "longest_gc_ms": h["longest_gc"] * 1000,
            }
            what = (
                "the whole dashboard"
                if whole
                else "the simulator alone (its realtime driver, a bare /healthz)"
            )
            how = f", gc.freeze() every {every:g} s" if every else ""
            print(
                f"  /healthz on {what}{how}, building {a.healthz_pods} pods from one scale request "
                f"({'built' if h['done'] else 'NOT built'} in {h['built']:.1f} s, {len(busy)} probes): "
                f"p50 {f['busy_p50_ms']:.1f} ms, p99 {f['busy_p99_ms']:.1f} ms, "
                f"max {f['busy_max_ms']:.1f} ms; idle p50 {f['idle_p50_ms']:.1f} ms, "
                f"p99 {f['idle_p99_ms']:.1f} ms (p99 x{f['busy_p99_ms'] / f['idle_p99_ms']:.1f} idle); "
                f"longest timer callback {f['longest_callback_ms']:.1f} ms, "
                f"longest garbage-collector pause {f['longest_gc_ms']:.1f} ms"
            )
    return figures


if __name__ == "__main__":
    main()
