"""Serve the simulated cluster's Kubernetes API on a real uvicorn for the kube source's integration
tests: the sim clock driven in real time on the server's loop, a way to run code on that loop,
a TCP proxy that can take the API server away and bring it back, and a 403 middleware."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from app.kinds import WATCHED_KINDS
from app.sim.api import create_k8s_api, write_kubeconfig
from app.sim.clock import RealtimeDriver
from app.sim.cluster import SimCluster, SimConfig
from tests.live_server import live_server

T = TypeVar("T")
TOKEN = "test-token-123"


class DrivenApp:
    """The API app plus a lifespan that runs the cluster's clock in real time on the server loop."""

    def __init__(self, api: Any, cluster: SimCluster, speed: float) -> None:
        self.api = api
        self.cluster = cluster
        self.speed = speed
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "lifespan":
            await self.api(scope, receive, send)
            return
        task: asyncio.Task[None] | None = None
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                self.loop = asyncio.get_running_loop()
                task = asyncio.create_task(RealtimeDriver(self.cluster.clock, self.speed).run())
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await send({"type": "lifespan.shutdown.complete"})
                return


def forbid(api: Any, fragment: str, resource: str, group: str) -> Any:
    """Answer every request whose path contains `fragment` with a real-looking 403 Status."""

    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and fragment in scope["path"]:
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f'{resource}.{group} is forbidden: User "learner" cannot list resource '
                f'"{resource}" in API group "{group}" at the cluster scope',
                "reason": "Forbidden",
                "details": {"group": group, "kind": resource},
                "code": 403,
            }
            body = json.dumps(status).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await api(scope, receive, send)

    return app


class TcpProxy:
    """127.0.0.1:port -> upstream; stop() drops the listener and every open connection (the API
    server "goes away"), start() listens on the same port again."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        for r, w in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(r, w))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        self._writers.clear()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


@dataclass
class SimApi:
    cluster: SimCluster
    app: DrivenApp
    url: str  # the real uvicorn
    kubeconfig: Path  # points at the proxy when there is one
    proxy: TcpProxy | None

    async def call(self, fn: Callable[[], T]) -> T:
        """Run fn on the server's loop (the cluster is not thread-safe) and return its result."""
        assert self.app.loop is not None

        async def run() -> T:
            return fn()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self.app.loop))

    async def snapshot(self) -> dict[tuple[str, str, str], str]:
        """(kind, namespace, name) -> resourceVersion of everything the dashboard watches."""

        def read() -> dict[tuple[str, str, str], str]:
            out = {}
            for kind in WATCHED_KINDS:
                for o in self.cluster.store.list(kind):
                    md = o["metadata"]
                    out[(kind, md.get("namespace", "") or "", md["name"])] = md["resourceVersion"]
            return out

        return await self.call(read)


@contextlib.asynccontextmanager
async def sim_api(
    tmp_path: Path,
    *,
    with_proxy: bool = False,
    wrap: Callable[[Any], Any] | None = None,
    speed: float = 4.0,
) -> AsyncIterator[SimApi]:
    cluster = SimCluster(config=SimConfig(nodes=2, pod_start_seconds=1.0))
    cluster.start()
    cluster.load_lesson()
    api = create_k8s_api(cluster, TOKEN, bookmark_interval=2.0)
    app = DrivenApp(wrap(api) if wrap else api, cluster, speed)
    # uvicorn runs in its own thread; the context manager blocks only while starting and stopping.
    with live_server(app) as url:
        proxy = None
        server = url
        if with_proxy:
            proxy = TcpProxy(int(url.rsplit(":", 1)[1]))
            await proxy.start()
            server = f"http://127.0.0.1:{proxy.port}"
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server, TOKEN)
        try:
            yield SimApi(cluster, app, url, kubeconfig, proxy)
        finally:
            if proxy is not None:
                await proxy.stop()
