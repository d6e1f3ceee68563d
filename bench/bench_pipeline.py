"""Benchmark of the whole pipeline at classroom-to-production scale: a simulated cluster of
10,000 pods behind 1,000 Services taking 200 changes a second.

It prints server CPU per change, memory per pod (view and simulator), and change -> SSE
delivery latency (p50/p99) through a real uvicorn in this process and one SSE client in another
process (bench/bench_fanout.py's reader). The timed phases run --runs times and their medians are
printed, CPU next to a JSON round trip measured just before each run, latency next to the hub's
coalescing tick (these machines are noisy: compare ratios, not seconds, between runs).

    python -m bench.bench_pipeline                 # the full size
    python -m bench.bench_pipeline --pods 500 --services 50 --seconds 2   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from app.hub import Hub
from app.kinds import WATCHED_KINDS
from app.server import create_app
from app.settings import Settings
from app.sim.clock import SimClock
from app.sim.cluster import READINESS_ANNOTATION, SimCluster, SimConfig
from app.sources.base import ClusterInfo, Resync
from app.sources.sim import SimSource
from app.view.engine import ViewEngine
from bench.bench_fanout import ClientProcesses, pct


@dataclass(frozen=True)
class Size:
    pods: int
    services: int
    rate: float  # changes a second
    seconds: float  # how long the steady phase lasts


def deployment_and_service(i: int, replicas: int) -> list[dict[str, Any]]:
    app = f"app-{i:04d}"
    container = {
        "name": "main",
        "image": "nginx:1.27",
        "ports": [{"containerPort": 8080, "name": "http"}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 10},
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app, "namespace": "default", "labels": {"app": app}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": app}},
                "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [container]}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"{app}-svc", "namespace": "default"},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": "http"}]},
        },
    ]


def build_cluster(size: Size, clock: SimClock) -> tuple[SimCluster, float, int]:
    """The cluster with every pod running and ready. Returns it, build seconds, traced bytes."""
    nodes = max(3, size.pods // 2000 + 1)
    cluster = SimCluster(clock, SimConfig(nodes=nodes, pod_cidr_prefix=20, max_events=1000))
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    cluster.start()
    per = max(1, size.pods // size.services)
    for i in range(size.services):
        for obj in deployment_and_service(i, per):
            cluster.apply(obj)
    for _ in range(30):
        cluster.run_for(1.0)
    built = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return cluster, built, traced


def view_memory(cluster: SimCluster) -> tuple[int, ViewEngine]:
    gc.collect()
    tracemalloc.start()
    engine = ViewEngine(ClusterInfo(mode="sim", name="bench"), actions_enabled=True)
    for kind in WATCHED_KINDS:
        engine.apply(Resync(kind, list(cluster.store.list(kind))))
    while engine.has_pending():  # the engine projects a bounded batch a call
        engine.take_ops()
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return traced, engine


def running_pods(cluster: SimCluster) -> list[tuple[str, str]]:
    return [
        (p["metadata"]["namespace"], p["metadata"]["name"])
        for p in cluster.store.list("Pod")
        if p.get("status", {}).get("podIP") and not p["metadata"].get("deletionTimestamp")
    ]


def change(cluster: SimCluster, pod: tuple[str, str], i: int, run: int) -> None:
    """One change that always changes something: the pod's readiness switch flipped (ripples through
    kubelet, slices, Endpoints) or a label no earlier change set."""
    ns, name = pod
    if i % 2:
        pod_obj = cluster.store.get("Pod", ns, name) or {"metadata": {}}
        annotations = pod_obj["metadata"].get("annotations") or {}
        cluster.set_probe(ns, name, passing=READINESS_ANNOTATION in annotations)
    else:
        cluster.set_pod_labels(ns, name, {"bench": f"{run}-{i}"})


def steady_cpu(size: Size, cluster: SimCluster, engine: ViewEngine, run: int) -> tuple[float, int]:
    """CPU seconds per change for cluster + view + hub (no HTTP), on the manual clock."""
    hub = Hub(engine, buffer_messages=1024, client_queue_messages=256)
    source = SimSource(cluster)
    unsubscribe = source.start(engine.apply)
    hub.flush()
    client = hub.connect(hub.seq)
    pods = running_pods(cluster)
    rng = random.Random(run)
    tick = 0.05
    per_tick = size.rate * tick
    n = 0
    due = 0.0
    start = time.process_time()
    for _ in range(int(size.seconds / tick)):
        due += per_tick
        while n < due:
            change(cluster, rng.choice(pods), n, run)
            n += 1
        cluster.run_for(tick)
        hub.flush()
        client.take()
    cpu = time.process_time() - start
    unsubscribe()
    return cpu / max(n, 1), n


def json_baseline(cluster: SimCluster) -> float:
    pod = next(iter(cluster.store.list("Pod")))
    runs = 2000
    start = time.process_time()
    for _ in range(runs):
        json.loads(json.dumps(pod))
    return (time.process_time() - start) / runs


class Server:
    """A real uvicorn serving create_app on a free port, with its loop reachable from here."""

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


def latency(
    size: Size, cluster: SimCluster, settings: Settings
) -> tuple[list[float], int, int, float, float]:
    """Label changes made on the server's loop at `rate`, each holding the time it was made; one SSE
    client in another process notes when the bytes carrying each arrive. Returns the latencies,
    the changes made, the undelivered ones, this process's CPU seconds per change, and the share
    of the time the server's thread waited for a CPU."""
    app = create_app(settings, cluster=cluster)
    pods = running_pods(cluster)
    random.Random(2).shuffle(pods)  # each change hits another pod: same-pod changes would coalesce
    srv = Server(app)
    with srv as base:
        client = ClientProcesses(int(base.rsplit(":", 1)[1]), "/events", 1, 1)
        try:
            client.start()
            time.sleep(0.5)  # the first snapshot of the whole cluster goes out first
            cpu0, wait0, t0 = time.process_time(), runqueue_wait(srv.thread), time.perf_counter()
            total = int(size.rate * size.seconds)
            start = time.perf_counter()
            for i in range(total):
                delay = start + i / size.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                ns, name = pods[i % len(pods)]

                def act(ns: str = ns, name: str = name) -> None:
                    cluster.set_pod_labels(ns, name, {"bench-t": str(time.time_ns())})

                srv.loop.call_soon_threadsafe(act)
            lat, missing = client.finish(total, 10.0)
            cpu = time.process_time() - cpu0
            starved = (runqueue_wait(srv.thread) - wait0) / (time.perf_counter() - t0)
        finally:
            client.close()
            srv.loop.call_soon_threadsafe(app.state.runtime.hub.drop_all)  # end streams before shutdown
    return lat, total, missing, cpu / max(total, 1), starved


def runqueue_wait(thread: threading.Thread) -> float:
    """Seconds the thread spent ready to run but without a CPU (Linux schedstat)."""
    try:
        return int(Path(f"/proc/self/task/{thread.native_id}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pods", type=int, default=10_000)
    p.add_argument("--services", type=int, default=1_000)
    p.add_argument("--rate", type=float, default=200.0, help="changes a second")
    p.add_argument("--seconds", type=float, default=5.0, help="length of each steady phase")
    p.add_argument("--runs", type=int, default=3, help="runs of each timed phase (medians are printed)")
    a = p.parse_args(argv)
    size = Size(a.pods, a.services, a.rate, a.seconds)
    print(
        f"slicescope pipeline bench: {size.pods} pods, {size.services} services, {size.rate:g} changes/s; "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; medians of {a.runs} runs"
    )

    cluster, built, sim_bytes = build_cluster(size, SimClock(time.time()))
    pods = cluster.store.count("Pod")
    print(f"  build (controllers on the manual clock): {built:.1f} s for {pods} pods")
    view_bytes, engine = view_memory(cluster)
    settings = Settings(port=0, sim_lesson=False)
    cpu_runs, base_runs, http_runs, p50_runs, p99_runs, starved_runs = [], [], [], [], [], []
    delivered = sent = 0
    for run in range(a.runs):
        base = json_baseline(cluster)  # the baseline next to each run: the machine's speed right then
        cpu, n = steady_cpu(size, cluster, engine, run)
        lat, total, missing, http_cpu, starved = latency(size, cluster, settings)
        starved_runs.append(starved)
        cpu_runs.append(cpu)
        base_runs.append(base)
        http_runs.append(http_cpu)
        p50_runs.append(pct(lat, missing, 0.50))
        p99_runs.append(pct(lat, missing, 0.99))
        delivered, sent = delivered + len(lat), sent + total
        print(
            f"  run {run + 1}: CPU per change {cpu * 1000:.3f} ms ({cpu / base:.1f}x a JSON round trip), "
            f"with HTTP {http_cpu * 1000:.3f} ms; SSE p50 {p50_runs[-1] * 1000:.1f} ms, "
            f"p99 {p99_runs[-1] * 1000:.1f} ms; delivered {len(lat)}/{total}; "
            f"the server waited for a CPU {starved:.0%} of the time"
        )

    ratios = [c / b for c, b in zip(cpu_runs, base_runs, strict=True)]
    figures = {
        "pods": float(pods),
        "view_bytes_per_pod": view_bytes / max(pods, 1),
        "sim_bytes_per_pod": sim_bytes / max(pods, 1),
        "cpu_ms_per_change": statistics.median(cpu_runs) * 1000,
        "json_roundtrip_ms": statistics.median(base_runs) * 1000,
        "cpu_ratio_vs_json_roundtrip": statistics.median(ratios),
        "process_cpu_ms_per_change_with_http": statistics.median(http_runs) * 1000,
        "latency_p50_ms": statistics.median(p50_runs) * 1000,
        "latency_p99_ms": statistics.median(p99_runs) * 1000,
        "delivered": float(delivered),
        "sent": float(sent),
    }
    tick_ms = settings.tick_seconds * 1000
    print(
        f"  memory per pod: view {figures['view_bytes_per_pod']:.0f} B (target <= 1024 B), "
        f"simulator {figures['sim_bytes_per_pod']:.0f} B"
    )
    print(
        f"  server CPU per change (sim + view + hub, {n} changes): {figures['cpu_ms_per_change']:.3f} ms "
        f"= {figures['cpu_ratio_vs_json_roundtrip']:.1f}x one JSON round trip of a pod "
        f"({figures['json_roundtrip_ms']:.3f} ms)"
    )
    print(
        f"  server process CPU per change through uvicorn, one SSE client in another process: "
        f"{figures['process_cpu_ms_per_change_with_http']:.3f} ms"
    )
    print(
        f"  change -> SSE latency: p50 {figures['latency_p50_ms']:.1f} ms, "
        f"p99 {figures['latency_p99_ms']:.1f} ms "
        f"(= {figures['latency_p50_ms'] / tick_ms:.2f}x / {figures['latency_p99_ms'] / tick_ms:.2f}x "
        f"the {tick_ms:.0f} ms coalescing tick); delivered {delivered}/{sent}; the server waited for "
        f"a CPU {statistics.median(starved_runs):.0%} of the time"
    )
    return figures


if __name__ == "__main__":
    main()
