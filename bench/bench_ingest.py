"""Ingest: pod watch events per CPU-second from HTTP bytes to a flushed delta, against the official
client's model path on the same bytes.

A fake API (bench/fakeapi.py, its own process) serves a real-cluster-shaped cluster; slicescope's
pipeline runs in this process exactly as the server builds it (kube source with its reader threads
-> recorder tap -> view engine -> hub flushing every tick). The fake then sends a burst of pod
readiness flips (pod MODIFIED events, ~5 KB each as the real API serves them); the figure is events
divided by this process's CPU time (all threads) until the last one is in a flushed delta. The
baseline decodes the very same watch lines with `kubernetes.watch.Watch().unmarshal_event(line,
"V1Pod")`, the official client's model path. Median of 3 of each, with the ratio.

    python -m bench.bench_ingest                         # 10,000 pods, 1,000 Services, 30,000 events
    python -m bench.bench_ingest --pods 2000 --events 5000 --runs 1    # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import platform
import pstats
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson

from app.server import build_runtime
from app.settings import Settings
from app.sources.base import Change, SourceItem
from app.sources.watching import WatchConfig
from bench.fakeapi import FakeApi, fake_api


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"


def raw_watch_lines(api: FakeApi, path: str, rv: str, expect: int) -> list[bytes]:
    """The watch stream from `rv` as the API sends it (one JSON event a line)."""
    url = f"{api.url}{path}?watch=true&resourceVersion={rv}&timeoutSeconds=5"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {api.token}"})
    lines: list[bytes] = []
    with urllib.request.urlopen(req, timeout=120) as resp:
        for line in resp:
            if line.strip():
                lines.append(line)
                if len(lines) >= expect:
                    break
    return lines


def official_client(lines: list[bytes]) -> float:
    """CPU seconds the official client takes to turn the lines into V1Pod watch events."""
    from kubernetes import watch

    texts = [line.decode() for line in lines]  # Watch.stream hands unmarshal_event decoded lines
    w = watch.Watch()
    t0 = time.process_time()
    for text in texts:
        event = w.unmarshal_event(text, "V1Pod")
        assert event["object"].metadata.name
    return time.process_time() - t0


class Counter:
    """Counts the pod Changes the source emits, and wakes the bench at a target."""

    def __init__(self) -> None:
        self.pods = 0
        self.target = 0
        self.reached = asyncio.Event()

    def see(self, item: SourceItem) -> None:
        if isinstance(item, Change) and item.kind == "Pod":
            self.pods += 1
            if self.pods >= self.target:
                self.reached.set()


async def slicescope_run(
    api: FakeApi, kubeconfig: Path, events: int, profile: str | None
) -> tuple[float, int]:
    """Start the pipeline, wait until live, then time a burst. Returns (CPU seconds, events)."""
    settings = Settings(source="kube", kubeconfig=str(kubeconfig), tick_seconds=0.025)
    rt = build_runtime(settings)
    rt.source.config = WatchConfig(timeout_seconds=3600)
    counter = Counter()
    emit = rt.recorder.tap(rt.emit)

    def counted(item: SourceItem) -> None:
        counter.see(item)
        emit(item)

    tasks = [
        asyncio.create_task(rt.source.run(counted), name="source"),
        asyncio.create_task(rt.hub.run(settings.tick_seconds), name="hub"),
    ]
    try:
        deadline = time.monotonic() + 600
        while rt.connection.state != "live":
            if time.monotonic() > deadline:
                raise RuntimeError(f"never live: {rt.connection}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        rt.hub.flush()
        counter.target = counter.pods + events
        counter.reached.clear()
        prof = cProfile.Profile() if profile else None
        t0 = time.process_time()
        if prof:
            prof.enable()
        burst = asyncio.get_running_loop().run_in_executor(None, api.burst, events)
        await counter.reached.wait()
        rt.hub.flush()
        cpu = time.process_time() - t0
        if prof:
            prof.disable()
            pstats.Stats(prof).sort_stats(profile).print_stats(25)
        await burst
        return cpu, events
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--services", type=int, default=1_000)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", choices=("tottime", "cumulative"), help="profile one slicescope run")
    args = parser.parse_args(argv)

    print(f"machine: {machine()}")
    print(
        f"cluster: {args.pods} pods, {args.services} Services in {args.namespaces} namespaces; "
        f"burst of {args.events} pod MODIFIED events a run; median of {args.runs}"
    )
    ours: list[float] = []
    theirs: list[float] = []
    with (
        fake_api(args.pods, args.services, args.namespaces, process=True, history=10) as api,
        tempfile.TemporaryDirectory() as tmp,
    ):
        kubeconfig = api.write_kubeconfig(Path(tmp) / "kubeconfig")
        for run in range(args.runs):
            start_rv = api.stats()["resourceVersion"]
            cpu, n = asyncio.run(
                slicescope_run(api, kubeconfig, args.events, args.profile if run == 0 else None)
            )
            ours.append(n / cpu)
            lines = raw_watch_lines(api, "/api/v1/pods", start_rv, n)
            assert len(lines) == n, (len(lines), n)
            size = sum(map(len, lines)) / n
            theirs.append(n / official_client(lines))
            parsed = time.process_time()
            for line in lines:
                orjson.loads(line)
            parse_only = n / (time.process_time() - parsed)
            print(
                f"  run {run + 1}: slicescope {ours[-1]:8.0f} events/CPU-s   "
                f"official client {theirs[-1]:6.0f}   "
                f"(orjson parse alone {parse_only:.0f}/s; {size / 1000:.1f} KB an event)"
            )
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"slicescope, HTTP bytes -> flushed delta : {a:9.0f} pod events per CPU-second")
    print(f"official client, unmarshal_event(V1Pod) : {b:9.0f} pod events per CPU-second")
    print(f"ratio                                   : {a / b:9.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
