"""Soak: the server's memory and responsiveness under readers that stall and a long churn.

The server (create_app on uvicorn, the default simulated cluster with its lesson) runs in its own
process; this process drives it over HTTP like browsers would:
  1. stalled readers: N /events clients that never read, while actions go on; prints how many of
     their connections the server still holds, its RSS, and how long each action took;
  2. churn: for the given minutes, actions at a steady rate (scale, relabel, readiness, delete) and
     SSE clients that come, read a few seconds and go (some stop reading before they go); prints
     RSS every interval and the RSS slope after warm-up (flat = bounded memory).

    python -m bench.bench_soak                      # 200 stalled readers, then 10 minutes of churn
    python -m bench.bench_soak --minutes 1 --stalled 50 --every 10   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.bench_fanout import cpu_seconds, end_process, read_line, rss_mb

DEPLOYMENT = "shipping-api"


def serve(trace: bool) -> None:
    import uvicorn

    from app.server import create_app
    from app.settings import Settings

    app = create_app(Settings(port=0))
    if trace:  # what grew since the first call: GET /bench/growth
        import tracemalloc

        tracemalloc.start(1)
        first: list[Any] = []

        @app.get("/bench/growth")
        async def growth() -> list[str]:
            snap = tracemalloc.take_snapshot()
            snap = snap.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            if not first:
                first.append(snap)
                return []
            return [str(stat) for stat in snap.compare_to(first[0], "lineno")[:15]]

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=5)
    )

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.05)
        print(f"PORT {server.servers[0].sockets[0].getsockname()[1]}", flush=True)
        await task

    asyncio.run(run())


def established(port: int) -> int:
    """Server-side TCP connections on `port` (from /proc/net/tcp: local port, state ESTABLISHED)."""
    count = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(name).read_text().splitlines()[1:]:
                parts = line.split()
                if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "01":
                    count += 1
    return count


@dataclass
class Actions:
    """Actions against the server at a steady rate; latencies kept per reporting window."""

    http: httpx.AsyncClient
    rate: float
    done: int = 0
    failed: int = 0
    window: list[float] = field(default_factory=list)
    scale_times: list[float] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)  # "<action> <status>" -> count

    async def run(self, until: float) -> None:
        rng = random.Random(1)
        loop = asyncio.get_running_loop()
        start = loop.time()
        i = 0
        while loop.time() < until:
            delay = start + i / self.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            i += 1
            kind, body = await self.pick(rng, i)
            t0 = time.perf_counter()
            try:
                r = await self.http.post(f"/api/actions/{kind}", json=body)
                ok = r.status_code == 200
                if not ok:
                    self.refusals[f"{kind} {r.status_code}"] = (
                        self.refusals.get(f"{kind} {r.status_code}", 0) + 1
                    )
            except httpx.HTTPError as e:
                ok = False
                self.refusals[type(e).__name__] = self.refusals.get(type(e).__name__, 0) + 1
            took = time.perf_counter() - t0
            self.window.append(took)
            if kind == "scale":
                self.scale_times.append(took)
            self.done += ok
            self.failed += not ok

    async def pick(self, rng: random.Random, i: int) -> tuple[str, dict[str, Any]]:
        if i % 4 == 0:
            return "scale", {"namespace": "default", "name": DEPLOYMENT, "replicas": rng.randint(2, 30)}
        pods = [
            p["name"]
            for p in (await self.http.get("/api/snapshot")).json()["pods"].values()
            if p["labels"].get("app") == DEPLOYMENT and p.get("ip") and not p.get("terminating")
        ] or ["missing"]
        pod = rng.choice(pods)
        if i % 4 == 1:
            return "readiness", {"namespace": "default", "pod": pod, "passing": rng.random() < 0.5}
        if i % 4 == 2:
            value = rng.choice([DEPLOYMENT, "debug"])
            return "label", {"namespace": "default", "pod": pod, "labels": {"app": value}}
        return "delete", {"namespace": "default", "pod": pod}


async def sse_client(port: int, read_for: float, stall_for: float) -> None:
    """Read /events for read_for seconds, then stop reading for stall_for seconds, then leave."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        deadline = time.monotonic() + read_for
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(deadline - time.monotonic()):
                    if not await reader.read(1 << 16):
                        return
        await asyncio.sleep(stall_for)
    except OSError:
        return
    finally:
        writer.close()


def stalled_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    return sock


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def soak(server: subprocess.Popen[str], port: int, a: argparse.Namespace) -> dict[str, float]:
    figures: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
        base_conns = established(port)
        if a.trace:
            await http.get("/bench/growth")
        print(f"  idle: RSS {rss_mb(server.pid):.0f} MB")

        # 1. stalled readers
        stalled = [stalled_socket(port) for _ in range(a.stalled)]
        actions = Actions(http, a.rate)
        loop = asyncio.get_running_loop()
        phase_end = loop.time() + a.stalled_seconds
        runner = asyncio.create_task(actions.run(phase_end))
        print(f"  {a.stalled} readers that never read, {a.rate:g} actions/s:")
        t0 = loop.time()
        while not runner.done():
            await asyncio.sleep(min(a.every / 2, 5))
            held = max(0, established(port) - base_conns - 1)
            print(
                f"    t={loop.time() - t0:5.0f} s  stalled connections held {held:4}/{a.stalled}  "
                f"RSS {rss_mb(server.pid):6.1f} MB  actions {actions.done} (p99 {p99(actions.window):.3f} s)"
            )
            actions.window.clear()
        await runner
        figures["stalled_held_at_end"] = float(max(0, established(port) - base_conns - 1))
        figures["scale_action_max_s"] = max(actions.scale_times, default=float("nan"))
        figures["scale_action_median_s"] = statistics.median(actions.scale_times or [float("nan")])
        print(
            f"    scale actions: median {figures['scale_action_median_s']:.3f} s, "
            f"max {figures['scale_action_max_s']:.3f} s"
        )
        for sock in stalled:
            sock.close()

        # 2. churn
        print(f"  churn for {a.minutes:g} min: {a.rate:g} actions/s, {a.churn:g} SSE clients/s come and go")
        actions = Actions(http, a.rate)
        end = loop.time() + a.minutes * 60
        runner = asyncio.create_task(actions.run(end))
        clients: set[asyncio.Task[None]] = set()
        rng = random.Random(2)
        samples: list[tuple[float, float]] = []
        t0 = loop.time()
        next_report = t0
        cpu0 = cpu_seconds(server.pid)
        while loop.time() < end:
            for _ in range(rng.randint(0, int(2 * a.churn))):
                stall = rng.uniform(0, 20) if rng.random() < 0.2 else 0.0
                task = asyncio.create_task(sse_client(port, rng.uniform(1, 10), stall))
                clients.add(task)
                task.add_done_callback(clients.discard)
            await asyncio.sleep(1.0)
            now = loop.time()
            if now >= next_report:
                rss = rss_mb(server.pid)
                samples.append((now - t0, rss))
                print(
                    f"    t={now - t0:5.0f} s  RSS {rss:6.1f} MB  clients {len(clients):3}  "
                    f"actions {actions.done} (failed {actions.failed}, p99 {p99(actions.window):.3f} s)"
                )
                actions.window.clear()
                next_report += a.every
        await runner
        for task in list(clients):
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
        cpu = cpu_seconds(server.pid) - cpu0
        warm = [(t, r) for t, r in samples if t >= a.warmup * 60] or samples
        if len(warm) >= 2:
            slope = statistics.linear_regression([t for t, _ in warm], [r for _, r in warm]).slope * 60
        else:
            slope = float("nan")
        figures.update(
            rss_after_warmup_mb=warm[0][1],
            rss_end_mb=samples[-1][1],
            rss_slope_mb_per_min=slope,
            actions=float(actions.done),
            server_cpu_cores=cpu / (a.minutes * 60),
        )
        print(
            f"  RSS after {a.warmup:g} min warm-up {figures['rss_after_warmup_mb']:.1f} MB -> end "
            f"{figures['rss_end_mb']:.1f} MB, slope {slope:+.2f} MB/min over the rest; "
            f"{actions.done} actions ({actions.failed} refused: {actions.refusals}), "
            f"server {figures['server_cpu_cores']:.2f} cores"
        )
        if a.trace:
            print("  grew most since the start (tracemalloc, by line):")
            for line in (await http.get("/bench/growth")).json():
                print(f"    {line}")
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", nargs="?", default="", help=argparse.SUPPRESS)
    p.add_argument("--stalled", type=int, default=200, help="readers that never read")
    p.add_argument("--stalled-seconds", type=float, default=60.0)
    p.add_argument("--minutes", type=float, default=10.0, help="length of the churn")
    p.add_argument("--warmup", type=float, default=2.0, help="minutes of churn before RSS counts")
    p.add_argument("--rate", type=float, default=6.0, help="actions a second")
    p.add_argument("--churn", type=float, default=3.0, help="SSE clients arriving a second")
    p.add_argument("--every", type=float, default=30.0, help="seconds between reports")
    p.add_argument("--trace", action="store_true", help="print what grew most in the server (slow)")
    a = p.parse_args(argv)
    if a.cmd == "serve":
        serve(a.trace)
        return {}
    print(
        f"slicescope soak: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
        f"server: the default simulated cluster"
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_soak", "serve", *(["--trace"] if a.trace else [])],
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        port = int(read_line(server, "PORT ", 120))
        return asyncio.run(soak(server, port, a))
    finally:
        end_process(server, signal.SIGTERM, 30)


if __name__ == "__main__":
    main()
