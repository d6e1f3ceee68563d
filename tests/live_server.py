"""Run an ASGI app on a real uvicorn, on a free loopback port, in a background thread.

In-process clients cannot read endless streams (SSE, watch), so stream tests go through this.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


@contextlib.contextmanager
def live_server(app: Any, *, startup_timeout: float = 60.0, send_buffer: int | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1:<free port>; yields the base URL (no trailing slash).
    `send_buffer` fixes the kernel's send buffer of every connection (bytes; Linux doubles it): a
    client that stops reading then blocks the server's writes at once, whatever the machine."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer is not None:  # accepted connections inherit it (and lose autotuning)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        finally:
            _cancel_leftovers(loop)
            loop.close()

    thread = threading.Thread(target=run, name="live-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Tasks an app left behind (sse-starlette's per-loop signal watcher, say) end with the loop
    instead of being destroyed while pending."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
