"""GET /events: server-sent events written straight from the hub's pre-encoded frames (one encoding
shared by every browser), with Last-Event-ID resume, keep-alive pings, and streams cut when a write
hangs (a browser that stopped reading) or when the server shuts down."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.hub import Client, Hub

SEND_TIMEOUT = 5.0  # seconds one write may hang before the browser counts as gone
PING = b": ping\n\n"
WRITE_BYTES = 64 * 1024  # frames go out in pieces this big, so a stalled peer pins little memory
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class EventStream:
    """The /events route and its housekeeping task (pings, stalled writes, server shutdown)."""

    def __init__(self, hub: Hub, *, ping_seconds: float, send_timeout: float = SEND_TIMEOUT) -> None:
        self.hub = hub
        self.ping_seconds = ping_seconds
        self.send_timeout = send_timeout

    def router(self) -> APIRouter:
        router = APIRouter()
        hub = self.hub

        @router.get("/events")
        async def events(request: Request, lastEventId: str | None = None) -> Response:
            # The header (EventSource's own retry) is newer than a query id put in the URL at creation.
            last = hub.parse_event_id(request.headers.get("last-event-id"))
            if last is None:
                last = hub.parse_event_id(lastEventId)
            return EventStreamResponse(hub, last)

        return router

    async def run(self) -> None:
        """Ping every client now and then, cut the ones whose write hangs, and end every stream when
        the server is asked to exit (uvicorn waits for open responses before it stops)."""
        loop = asyncio.get_running_loop()
        step = max(0.05, min(0.5, self.ping_seconds, self.send_timeout / 4))
        next_ping = loop.time() + self.ping_seconds
        while True:
            await asyncio.sleep(step)
            now = loop.time()
            self.hub.drop_stalled(now, self.send_timeout)
            if now >= next_ping:
                self.hub.ping_all()
                next_ping = now + self.ping_seconds
            if self.hub.clients and _server_exiting():
                self.hub.drop_all()


class EventStreamResponse(Response):
    """One browser's stream: hub frames written as they come, until the hub drops the client or
    the browser goes away."""

    media_type = "text/event-stream"

    def __init__(self, hub: Hub, last_seq: int | None) -> None:
        self.status_code = 200
        self.background = None
        self.hub = hub
        self.last_seq = last_seq
        self.init_headers(HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        hub = self.hub
        client = hub.connect(self.last_seq)
        cut = _Cut(receive)
        client.on_stall = cut
        listener = asyncio.create_task(_until_disconnect(receive, hub, client), name="sse-disconnect")
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await _pump(hub, client, send)
        except asyncio.CancelledError:
            if not cut.cancelled:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            return
        finally:
            hub.disconnect(client)
            listener.cancel()
            await asyncio.wait({listener})  # never raises: a cancel of this task still comes through
        if not cut.used:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _pump(hub: Hub, client: Client, send: Send) -> None:
    loop = asyncio.get_running_loop()
    while not client.closed:
        batch = client.take()
        if batch:
            data = hub.frames(batch)
        elif client.ping:
            data = PING
        else:
            await client.wait()
            continue
        client.ping = False
        client.sending_since = loop.time()
        if len(data) <= WRITE_BYTES:
            await send({"type": "http.response.body", "body": data, "more_body": True})
        else:
            for piece in _pieces(data):
                client.sending_since = loop.time()
                await send({"type": "http.response.body", "body": piece, "more_body": True})
        client.sending_since = None


def _pieces(data: bytes) -> Iterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(data), WRITE_BYTES):
        yield view[start : start + WRITE_BYTES]


async def _until_disconnect(receive: Receive, hub: Hub, client: Client) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    hub.disconnect(client)


class _Cut:
    """Cuts a connection whose write hangs. uvicorn's `receive` is a method of its request cycle,
    which holds the connection's transport: aborting it frees the unsent bytes at once (closing it
    would wait for a peer that never reads). Any other server: the stream's task is cancelled."""

    def __init__(self, receive: Receive) -> None:
        transport = getattr(getattr(receive, "__self__", None), "transport", None)
        self.abort: Callable[[], None] | None = getattr(transport, "abort", None)
        self.task = asyncio.current_task()
        self.used = False
        self.cancelled = False

    def __call__(self) -> None:
        self.used = True
        if self.abort is not None:
            self.abort()
        elif self.task is not None:
            self.cancelled = True
            self.task.cancel()


def _server_exiting() -> bool:
    """Whether the uvicorn serving this process was told to exit (its SIGTERM handler is a method
    of the Server; absent when it runs outside the main thread, as in tests)."""
    handler = signal.getsignal(signal.SIGTERM)
    return bool(getattr(getattr(handler, "__self__", None), "should_exit", False))
