"""Fan-out benchmark: change -> delivery latency of /events at 100 and 1,000 SSE clients while the
simulated cluster takes 200 changes a second, against a baseline measured in the same run.

The server is its own process (create_app on uvicorn, as the CLI runs it); the clients are real
HTTP clients in other processes (raw asyncio sockets, chunked transfer decoded, SSE bytes scanned).
Each change is a pod label holding the wall-clock time it was written to the simulated store; a
client notes the time the bytes carrying it were read. Latency = read time - write time, over every
(client, change) pair; a pair not delivered before the deadline counts as infinitely late.

Baseline: the previous /events, kept here as a route of the same server: sse-starlette, every client
encoding its own ServerSentEvent from the shared message. Ratio = baseline p99 / p99 (median of runs).

    python -m bench.bench_fanout                                   # 100 and 1,000 clients, 3 runs
    python -m bench.bench_fanout --clients 50 --runs 1 --seconds 3 # a quick look
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import math
import os
import select
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARK = b'"bench-t":"'
BASELINE_PATH = "/bench/baseline-events"
NEW_PATH = "/events"
IMPLS = {"baseline": BASELINE_PATH, "new": NEW_PATH}


# ---- the server process ------------------------------------------------------------------------
def build_cluster(pods: int, services: int) -> Any:
    """A simulated cluster with every pod running and ready, built on a manual clock."""
    from app.sim.clock import SimClock
    from app.sim.cluster import SimCluster, SimConfig
    from bench.bench_pipeline import deployment_and_service

    cluster = SimCluster(
        SimClock(time.time()), SimConfig(nodes=max(3, pods // 2000 + 1), pod_cidr_prefix=20, max_events=1000)
    )
    cluster.start()
    per = max(1, pods // max(services, 1))
    for i in range(services):
        for obj in deployment_and_service(i, per):
            cluster.apply(obj)
    for _ in range(30):
        cluster.run_for(1.0)
    return cluster


def add_bench_routes(app: Any, cluster: Any, ping_seconds: float) -> None:
    """The baseline stream and the change driver, on the app under test."""
    from sse_starlette import EventSourceResponse, ServerSentEvent

    hub = app.state.runtime.hub
    pods = [
        (p["metadata"]["namespace"], p["metadata"]["name"])
        for p in cluster.store.list("Pod")
        if p.get("status", {}).get("podIP") and not p["metadata"].get("deletionTimestamp")
    ]
    driving: dict[str, Any] = {"task": None, "made": 0, "total": 0}

    @app.get(BASELINE_PATH)
    async def baseline_events() -> EventSourceResponse:
        async def stream() -> Any:
            client = hub.connect(None)
            try:
                while True:
                    batch = await client.next_batch()
                    if batch is None:
                        return
                    for msg in batch:
                        yield ServerSentEvent(data=msg.data.decode(), event=msg.event, id=str(msg.seq))
            finally:
                hub.disconnect(client)

        return EventSourceResponse(stream(), ping=ping_seconds, send_timeout=30.0)

    async def drive(rate: float, seconds: float) -> None:
        total = int(rate * seconds)
        driving.update(made=0, total=total)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(total):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            ns, name = pods[i % len(pods)]  # round robin: no two changes of one pod coalesce
            cluster.set_pod_labels(ns, name, {"bench-t": str(time.time_ns())})
            driving["made"] = i + 1

    @app.post("/bench/drive")
    async def start_drive(rate: float, seconds: float) -> dict[str, Any]:
        driving["task"] = asyncio.create_task(drive(rate, seconds))
        return {"total": int(rate * seconds), "pods": len(pods)}

    lag = {"max": 0.0, "sum": 0.0, "n": 0}

    async def watch_lag() -> None:  # how late the loop runs a 10 ms timer: a busy or starved server
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.01
            await asyncio.sleep(0.01)
            late = loop.time() - due
            lag["max"] = max(lag["max"], late)
            lag["sum"] += late
            lag["n"] += 1

    @app.get("/bench/status")
    async def status() -> dict[str, Any]:
        if "task" not in lag:
            lag["task"] = asyncio.create_task(watch_lag())
        task = driving["task"]
        report = {
            "driving": task is not None and not task.done(),
            "made": driving["made"],
            "clients": len(hub.clients),
            "sending": sum(1 for c in hub.clients if c.sending_since is not None),
            "lag_max_ms": lag["max"] * 1000,
            "lag_mean_ms": lag["sum"] / max(lag["n"], 1) * 1000,
        }
        lag.update(max=0.0, sum=0.0, n=0)
        return report


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from app.server import create_app
    from app.settings import Settings

    cluster = build_cluster(args.pods, args.services)
    settings = Settings(port=0, sim_lesson=False)
    app = create_app(settings, cluster=cluster)
    add_bench_routes(app, cluster, settings.ping_seconds)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2, http=args.http
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"PORT {port} PODS {cluster.store.count('Pod')}", flush=True)
        await task

    if args.profile:  # where the server's time goes (pstats file written at exit)
        import cProfile

        prof = cProfile.Profile(time.process_time)  # CPU time: a starved server is not a slow one
        prof.enable()
        try:
            asyncio.run(run())
        finally:  # uvicorn re-raises the signal that stopped it: SIGINT ends here as KeyboardInterrupt
            prof.disable()
            prof.dump_stats(args.profile)
    else:
        asyncio.run(run())


# ---- the client processes -------------------------------------------------------------------------
class Dechunk:
    """Incremental decoder of an HTTP/1.1 chunked body."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.left = 0  # > 0: data bytes left in this chunk; < 0: CRLF bytes to skip; 0: a size line

    def feed(self, data: bytes) -> bytes:
        buf = self.buf
        buf += data
        out = []
        pos = 0
        end = len(buf)
        while pos < end:
            if self.left > 0:
                take = min(self.left, end - pos)
                out.append(bytes(buf[pos : pos + take]))
                pos += take
                self.left -= take
                if self.left == 0:
                    self.left = -2
            elif self.left < 0:
                skip = min(-self.left, end - pos)
                pos += skip
                self.left += skip
            else:
                nl = buf.find(b"\r\n", pos)
                if nl < 0:
                    break
                size = int(bytes(buf[pos:nl]).split(b";")[0], 16)
                pos = nl + 2
                if size == 0:
                    break
                self.left = size
        del buf[:pos]
        return b"".join(out)


class Conn:
    """One SSE client: response head, chunked body, then the change stamps it carries."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.head = b""
        self.dechunk: Dechunk | None = None
        self.ready_ns = 0  # when its first message (the snapshot) had arrived
        self.first = b""
        self.leftover = b""
        self.seen: set[int] = set()
        self.error = ""

    def feed(self, data: bytes, now: int, lat: array.array) -> None:
        if not self.head:
            self.first += data
            end = self.first.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head, data = self.first[:end], self.first[end + 4 :]
            self.first = b""
            if not self.head.startswith(b"HTTP/1.1 200"):
                self.error = self.head.split(b"\r\n", 1)[0].decode(errors="replace")
                return
            if b"transfer-encoding: chunked" in self.head.lower():
                self.dechunk = Dechunk()
        body = self.dechunk.feed(data) if self.dechunk is not None else data
        if not self.ready_ns:
            self.first += body
            if b"\n\n" in self.first or b"\r\n\r\n" in self.first:
                self.ready_ns = now  # the snapshot: the changes it holds are older than this client
                self.first = b""
            return
        text = self.leftover + body if self.leftover else body
        pos = 0
        seen = self.seen
        while True:
            i = text.find(MARK, pos)
            if i < 0:
                self.leftover = text[max(pos, len(text) - len(MARK) + 1) :]
                return
            j = text.find(b'"', i + len(MARK))
            if j < 0:
                self.leftover = text[i:]
                return
            stamp = int(text[i + len(MARK) : j])
            pos = j + 1
            if stamp >= self.ready_ns and stamp not in seen:
                seen.add(stamp)
                lat.append((now - stamp) / 1e9)


def clients(args: argparse.Namespace) -> None:
    """Connect n clients, say READY, read {"expect", "deadline"} from stdin, then read until every
    client saw every change or the deadline; write the latencies to a file and report. One thread,
    non-blocking sockets and a selector: the cheapest reader Python has, so the clients keep up."""
    sel = selectors.DefaultSelector()
    conns: list[Conn] = []
    lat = array.array("d")
    request = f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
    request += "Accept: text/event-stream\r\n\r\n"
    errors: list[str] = []

    def pump(timeout: float) -> None:
        for key, _ in sel.select(timeout):
            conn: Conn = key.data
            try:
                data = conn.sock.recv(1 << 18)
            except OSError as e:
                data, conn.error = b"", f"{type(e).__name__}: {e}"
            if data:
                conn.feed(data, time.time_ns(), lat)
            else:
                conn.error = conn.error or "the server closed the stream"
            if conn.error:
                errors.append(conn.error)
                sel.unregister(conn.sock)
                conn.sock.close()

    for i in range(args.n):
        try:
            sock = socket.create_connection((args.host, args.port), timeout=30)
            sock.sendall(request.encode())
            sock.setblocking(False)
        except OSError as e:
            errors.append(f"connect: {e}")
            continue
        conn = Conn(sock)
        conns.append(conn)
        sel.register(sock, selectors.EVENT_READ, conn)
        if i % 20 == 19:
            pump(0.01)
    deadline = time.monotonic() + 120
    while sum(1 for c in conns if c.ready_ns) + len(errors) < args.n and time.monotonic() < deadline:
        pump(0.05)
    ready = sum(1 for c in conns if c.ready_ns and not c.error)
    print(f"READY {ready} {len(errors)}", flush=True)
    order: dict[str, Any] = {}
    while not order:  # keep reading while the changes are made
        pump(0.02)
        if select.select([sys.stdin], [], [], 0)[0]:
            order = json.loads(sys.stdin.readline())
    while time.time() < order["deadline"]:
        if all(len(c.seen) >= order["expect"] for c in conns if c.ready_ns and not c.error):
            break
        pump(0.02)
    for c in conns:
        c.sock.close()
    with open(args.out, "wb") as f:
        lat.tofile(f)
    report = {"ready": ready, "errors": errors[:5], "error_count": len(errors)}
    print("RESULT " + json.dumps(report), flush=True)


# ---- the parent ---------------------------------------------------------------------------------
def read_line(proc: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the process ended before {prefix!r} (exit {proc.poll()})")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
    raise RuntimeError(f"no {prefix!r} within {timeout:.0f} s")


def end_process(proc: subprocess.Popen[str], sig: int, wait: float = 20) -> None:
    """Signal it, wait for it (kill after `wait` seconds), close its pipes."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runqueue_seconds(pid: int) -> float:
    """Time the process's main thread spent runnable but waiting for a CPU (Linux schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return math.nan


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def http_json(port: int, method: str, path: str) -> dict[str, Any]:
    import httpx

    r = httpx.request(method, f"http://127.0.0.1:{port}{path}", timeout=300)
    r.raise_for_status()
    return r.json()


def pct(values: list[float], missing: int, q: float) -> float:
    """Percentile with undelivered pairs counted as infinitely late."""
    total = len(values) + missing
    if total == 0:
        return float("nan")
    rank = min(total - 1, int(q * total))
    return values[rank] if rank < len(values) else math.inf


@dataclass
class Measure:
    impl: str
    clients: int
    p50: float
    p99: float
    delivered: float  # share of (client, change) pairs delivered before the deadline
    server_cores: float  # server CPU seconds per wall second while the changes were made
    client_cores: float  # the same for all client processes together
    cpu_us_per_delivery: float  # server CPU from the first change to the last delivery, per pair delivered
    starved: float  # share of the changes' time the server was ready to run but had no CPU
    rss_mb: float


class ClientProcesses:
    """n SSE clients of `path` spread over processes: start() connects them all (each has its
    snapshot), finish(expect, grace) lets them read until every client saw `expect` changes or
    the grace ran out, and gives the latencies (sorted) and the undelivered (client, change) pairs."""

    def __init__(self, port: int, path: str, n: int, processes: int) -> None:
        self.n = n
        self.ready = 0
        self.procs: list[subprocess.Popen[str]] = []
        self.files: list[str] = []
        per = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
        for count in (c for c in per if c):
            out = tempfile.NamedTemporaryFile(prefix="fanout-", suffix=".lat", delete=False)
            out.close()
            self.files.append(out.name)
            cmd = [sys.executable, "-m", "bench.bench_fanout", "clients", "--port", str(port)]
            cmd += ["--path", path, "--n", str(count), "--out", out.name]
            self.procs.append(
                subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
            )

    def start(self) -> None:
        for proc in self.procs:
            ok, failed = read_line(proc, "READY ", 180).split()
            self.ready += int(ok)
            if int(failed):
                print(f"    {failed} clients of one process failed to connect", file=sys.stderr)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(proc.pid) for proc in self.procs)

    def finish(self, expect: int, grace: float) -> tuple[list[float], int]:
        order = json.dumps({"expect": expect, "deadline": time.time() + grace}) + "\n"
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(order)
            proc.stdin.flush()
        for proc in self.procs:
            read_line(proc, "RESULT ", grace + 60)
        lat: list[float] = []
        for name in self.files:
            values = array.array("d")
            with open(name, "rb") as f:
                values.frombytes(f.read())
            lat.extend(values)
        lat.sort()
        missing = max(0, self.ready * expect - len(lat)) + (self.n - self.ready) * expect
        return lat, missing

    def close(self) -> None:
        for proc in self.procs:
            end_process(proc, signal.SIGKILL)
        for name in self.files:
            with contextlib.suppress(OSError):
                os.unlink(name)


def measure(server: subprocess.Popen[str], port: int, impl: str, n: int, a: argparse.Namespace) -> Measure:
    clients = ClientProcesses(port, IMPLS[impl], n, a.client_procs)
    try:
        clients.start()
        time.sleep(1.0)  # let the snapshots drain
        cpu0, client_cpu0, t0 = cpu_seconds(server.pid), clients.cpu_seconds(), time.monotonic()
        wait0 = runqueue_seconds(server.pid)
        total = http_json(port, "POST", f"/bench/drive?rate={a.rate}&seconds={a.seconds}")["total"]
        while (status := http_json(port, "GET", "/bench/status"))["driving"]:
            if a.verbose:
                print(f"      {status}")
            time.sleep(0.1 if not a.verbose else 1.0)
        cpu1, client_cpu1, t1 = cpu_seconds(server.pid), clients.cpu_seconds(), time.monotonic()
        wait1 = runqueue_seconds(server.pid)
        lat, missing = clients.finish(total, a.grace)
        cpu2 = cpu_seconds(server.pid)
        return Measure(
            impl,
            n,
            pct(lat, missing, 0.50),
            pct(lat, missing, 0.99),
            len(lat) / max(1, n * total),
            (cpu1 - cpu0) / max(t1 - t0, 1e-9),
            (client_cpu1 - client_cpu0) / max(t1 - t0, 1e-9),
            (cpu2 - cpu0) / max(len(lat), 1) * 1e6,
            (wait1 - wait0) / max(t1 - t0, 1e-9),
            rss_mb(server.pid),
        )
    finally:
        clients.close()
        deadline = time.monotonic() + 30
        while http_json(port, "GET", "/bench/status")["clients"] and time.monotonic() < deadline:
            time.sleep(0.1)


def ms(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value * 1000:.0f}"


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("serve")
    s.add_argument("--pods", type=int, default=1000)
    s.add_argument("--services", type=int, default=100)
    s.add_argument("--profile", default="")
    s.add_argument("--http", default="auto")
    c = sub.add_parser("clients")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--path", default=NEW_PATH)
    c.add_argument("--n", type=int, required=True)
    c.add_argument("--out", required=True)
    p.add_argument("--clients", default="100,1000", help="comma-separated client counts")
    p.add_argument("--rate", type=float, default=200.0, help="changes a second")
    p.add_argument("--seconds", type=float, default=10.0, help="how long changes are made in each run")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--grace", type=float, default=30.0, help="seconds after the last change to deliver it")
    p.add_argument("--pods", type=int, default=1000)
    p.add_argument("--services", type=int, default=100)
    p.add_argument("--client-procs", type=int, default=2)
    p.add_argument("--impls", default="baseline,new")
    p.add_argument("--profile", default="", help="write the server's cProfile stats here")
    p.add_argument("--verbose", action="store_true", help="print the server's state every second")
    p.add_argument("--http", default="auto", help="uvicorn's HTTP implementation (auto: as the CLI runs)")
    a = p.parse_args(argv)
    if a.cmd == "serve":
        serve(a)
        return {}
    if a.cmd == "clients":
        clients(a)
        return {}

    counts = [int(x) for x in a.clients.split(",")]
    impls = [x for x in a.impls.split(",") if x]
    print(
        f"slicescope fan-out bench: {a.pods} pods / {a.services} services, {a.rate:g} changes/s for "
        f"{a.seconds:g} s, clients {counts} in {a.client_procs} processes, {a.runs} runs; "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    cmd = [sys.executable, "-m", "bench.bench_fanout", "serve", "--pods", str(a.pods)]
    cmd += ["--services", str(a.services), "--http", a.http] + (["--profile", a.profile] if a.profile else [])
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
    results: dict[tuple[str, int], list[Measure]] = {}
    try:
        head = read_line(server, "PORT ", 600).split()
        port = int(head[0])
        print(f"  server pid {server.pid} on 127.0.0.1:{port}, {head[2]} pods")
        for run in range(a.runs):
            for n in counts:
                for impl in impls:
                    m = measure(server, port, impl, n, a)
                    results.setdefault((impl, n), []).append(m)
                    print(
                        f"  run {run + 1} {impl:8} {n:5} clients: "
                        f"p50 {ms(m.p50):>6} ms  p99 {ms(m.p99):>6} ms"
                        f"  delivered {m.delivered:6.1%}  server {m.server_cores:.2f} cores, "
                        f"clients {m.client_cores:.2f} cores, "
                        f"server CPU {m.cpu_us_per_delivery:.1f} us a delivery, "
                        f"waited for a CPU {m.starved:.0%} of the time  "
                        f"RSS {m.rss_mb:.0f} MB",
                        flush=True,
                    )
    finally:
        end_process(server, signal.SIGINT if a.profile else signal.SIGTERM, 120 if a.profile else 20)

    figures: dict[str, float] = {}
    print(f"median of {a.runs} (change -> SSE bytes read by the client; undelivered counts as late):")
    for n in counts:
        row = {}
        for impl in impls:
            runs = results[(impl, n)]
            row[impl] = (
                statistics.median(m.p50 for m in runs),
                statistics.median(m.p99 for m in runs),
                statistics.median(m.cpu_us_per_delivery for m in runs),
            )
            figures[f"{impl}_{n}_p50_ms"] = row[impl][0] * 1000
            figures[f"{impl}_{n}_p99_ms"] = row[impl][1] * 1000
            figures[f"{impl}_{n}_cpu_us_per_delivery"] = row[impl][2]
        line = f"  {n:5} clients:"
        for impl in impls:
            p50, p99, cpu = row[impl]
            line += f"  {impl} p50 {ms(p50)} ms, p99 {ms(p99)} ms, {cpu:.1f} us CPU a delivery;"
        if "baseline" in row and "new" in row:
            ratio = row["baseline"][1] / row["new"][1] if row["new"][1] else math.nan
            cpu_ratio = row["baseline"][2] / row["new"][2] if row["new"][2] else math.nan
            figures[f"p99_ratio_{n}"] = ratio
            figures[f"cpu_ratio_{n}"] = cpu_ratio
            line += f"  baseline/new: p99 {ratio:.1f}x, CPU {cpu_ratio:.1f}x"
        starved = statistics.median(m.starved for impl in impls for m in results[(impl, n)])
        figures[f"starved_{n}"] = starved
        print(line + f"  (the server waited for a CPU {starved:.0%} of the time)")
    return figures


if __name__ == "__main__":
    main()
