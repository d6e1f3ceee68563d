"""A SimCluster behind the Kubernetes API on a real uvicorn: the cluster runs on the server's event
loop (RealtimeDriver at high speed), the test thread reaches it only through `call`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.routing import Mount

from app.sim.api import create_k8s_api, write_kubeconfig
from app.sim.clock import RealtimeDriver, SimClock
from app.sim.cluster import SimCluster, SimConfig
from tests.live_server import live_server

T = TypeVar("T")
TOKEN = "test-token-0123456789"


@dataclass
class LiveCluster:
    cluster: SimCluster
    url: str  # the API root, e.g. http://127.0.0.1:PORT/k8s
    kubeconfig: Path
    loop: asyncio.AbstractEventLoop

    def call(self, fn: Callable[[], T]) -> T:
        """Run fn on the server's loop (the store is not thread-safe) and return its result."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=30)

    def advance(self, seconds: float) -> None:
        """Move a manual clock (speed=None) forward, running what falls due, on the server's loop."""
        self.call(lambda: self.cluster.clock.advance(seconds))

    def kubectl(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 60,
        kubeconfig: Path | None = None,
        stdin: str | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        config = str(kubeconfig or self.kubeconfig)
        env = {**os.environ, "KUBECONFIG": config, "NO_COLOR": "1"}
        proc = subprocess.run(
            ["kubectl", "--kubeconfig", config, *args],
            capture_output=True,
            input=stdin,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
            cwd=cwd,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc


def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll until predicate() is truthy (no fixed sleeps in tests); returns its value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or predicate}: last value {last!r}")


def _keep_clock_fresh(clock: SimClock, every: float) -> None:
    """RealtimeDriver only moves sim time when a timer is due; a steady tick keeps `now` current for
    objects created through the API (creationTimestamp) while the cluster is otherwise idle."""

    def tick() -> None:
        clock.call_later(every, tick)

    clock.call_later(every, tick)


@contextlib.contextmanager
def live_cluster(
    tmp_path: Path,
    *,
    speed: float | None = 20.0,
    nodes: int = 3,
    bookmark_interval: float = 60.0,
    cluster_type: type[SimCluster] = SimCluster,
) -> Iterator[LiveCluster]:
    """speed=None: the simulated clock only moves when the test advances it (`lc.advance`)."""
    clock = SimClock(start=time.time())
    cluster = cluster_type(clock, SimConfig(nodes=nodes))
    api = create_k8s_api(cluster, TOKEN, bookmark_interval=bookmark_interval)
    holder: dict[str, asyncio.AbstractEventLoop] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        holder["loop"] = asyncio.get_running_loop()
        cluster.start()
        if speed is None:
            yield
            return
        _keep_clock_fresh(clock, 0.5)
        task = asyncio.create_task(RealtimeDriver(clock, speed).run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(routes=[Mount("/k8s", app=api)], lifespan=lifespan)
    with live_server(app) as base:
        url = f"{base}/k8s"
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url, TOKEN)
        yield LiveCluster(cluster, url, kubeconfig, holder["loop"])
