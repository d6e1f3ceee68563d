"""Memory and time to live of slicescope watching a real-cluster-shaped API: RSS a pod over an empty
cluster at 10,000 and 100,000 pods, and seconds from start to "live" (every list in).

Each run starts a fake API (bench/fakeapi.py, its own process; pods cloned from a real v1.36 capture,
one Service per 20 pods, EndpointSlices of 100) and then `python -m app --kubeconfig` as a user would,
and reads the server's RSS from /proc once it is live and has settled. The baseline is the same server
watching an empty cluster, measured in the same run; per pod = (RSS - empty RSS) / pods. Median of 3.

    python -m bench.bench_memory                      # 10,000 and 100,000 pods
    python -m bench.bench_memory --sizes 2000 --runs 1   # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.bench_ingest import machine
from bench.fakeapi import ROOT, fake_api

PER_SERVICE = 20  # pods a Service: 100,000 pods -> 5,000 Services


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc: clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def health(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return json.loads(resp.read())
    except OSError:
        return None


def settle(pid: int, *, quiet: float = 3.0, timeout: float = 120.0) -> int:
    """RSS once it has stopped moving by more than 1% for `quiet` seconds (the view's first
    projection runs in the hub's ticks after the lists are in)."""
    deadline = time.monotonic() + timeout
    last, since = rss_kb(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = rss_kb(pid)
        if abs(now - last) > last * 0.01:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    return rss_kb(pid)


def one(pods: int, namespaces: int) -> tuple[int, int, float, float]:
    """(settled RSS KB, peak RSS KB, seconds to live, CPU seconds to live) of slicescope watching
    `pods` pods (CPU time does not depend on how busy the machine is; wall time does)."""
    services = pods // PER_SERVICE
    with fake_api(pods, services, namespaces, process=True) as api, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = api.write_kubeconfig(Path(tmp) / "kubeconfig")
        port = free_port()
        args = [sys.executable, "-m", "app", "--kubeconfig", str(kubeconfig), "--port", str(port)]
        args += ["--log-level", "warning"]
        started = time.monotonic()
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"slicescope exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
                state = health(port)
                if state and state.get("connection") == "live":
                    break
                if time.monotonic() - started > 600:
                    raise RuntimeError("slicescope never went live")
                time.sleep(0.1)
            live = time.monotonic() - started
            cpu = cpu_seconds(proc.pid)
            rss = settle(proc.pid)
            return rss, rss_kb(proc.pid, "VmHWM"), live, cpu
        finally:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(20)
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    print(f"machine: {machine()}")
    print(f"one Service per {PER_SERVICE} pods, {args.namespaces} namespaces; median of {args.runs}")
    results: dict[int, list[tuple[int, int, float, float]]] = {0: [], **{n: [] for n in args.sizes}}
    for run in range(args.runs):
        for n in (0, *args.sizes):
            results[n].append(one(n, args.namespaces))
            rss, peak, live, cpu = results[n][-1]
            print(
                f"  run {run + 1}: {n:7d} pods: RSS {rss / 1024:7.1f} MB (peak {peak / 1024:7.1f} MB), "
                f"live in {live:5.1f} s ({cpu:.1f} s CPU)"
            )
    empty = statistics.median(r[0] for r in results[0])
    empty_cpu = statistics.median(r[3] for r in results[0])
    print(f"empty cluster (baseline)     : RSS {empty / 1024:7.1f} MB, live after {empty_cpu:.1f} s CPU")
    for n in args.sizes:
        rss = statistics.median(r[0] for r in results[n])
        peak = statistics.median(r[1] for r in results[n])
        live = statistics.median(r[2] for r in results[n])
        cpu = statistics.median(r[3] for r in results[n])
        per_pod = (rss - empty) * 1024 / n
        print(
            f"{n:7d} pods, {n // PER_SERVICE:5d} Services : RSS {rss / 1024:7.1f} MB = "
            f"{rss / empty:5.1f}x empty; {per_pod:6.0f} B a pod over empty (peak {peak / 1024:.0f} MB); "
            f"live in {live:5.1f} s, {cpu:.1f} s CPU ({cpu - empty_cpu:.1f} s over empty)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
