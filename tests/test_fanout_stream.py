"""The /events response on a stand-in ASGI connection (no sockets): frames shared by every client,
pings, big frames written in pieces, a hung write cut after the send timeout (transport aborted,
or the stream's task cancelled) while the other clients keep receiving, and streams ended when the
server exits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

import app.stream as stream_module
from app.hub import Hub
from app.stream import PING, WRITE_BYTES, EventStream, EventStreamResponse
from tests.fixtures_app import await_for
from tests.test_hub import FakeEngine

SCOPE: dict[str, Any] = {"type": "http", "method": "GET", "path": "/events", "headers": []}


class FakeTransport:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True
        self.conn.lost()


class FakeConnection:
    """What uvicorn gives an app: `receive` is a method of an object holding the transport, and a
    write to a peer that stopped reading waits until the connection is lost."""

    def __init__(self, *, with_transport: bool = True) -> None:
        self.messages: list[MutableMapping[str, Any]] = []
        self.stalled = False
        self._gone = asyncio.Event()
        if with_transport:
            self.transport = FakeTransport(self)

    def lost(self) -> None:
        self._gone.set()

    async def receive(self) -> MutableMapping[str, Any]:
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if self.stalled:
            await self._gone.wait()
        if not self._gone.is_set():
            self.messages.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(bytes(m.get("body", b"")) for m in self.messages if m["type"] == "http.response.body")

    @property
    def complete(self) -> bool:
        return any(m["type"] == "http.response.body" and not m.get("more_body") for m in self.messages)

    def events(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(event, id, data) of every whole SSE message received so far."""
        out = []
        for block in self.body.split(b"\n\n"):
            fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if line and b": " in line)
            if b"data" in fields:
                out.append((fields[b"event"].decode(), fields[b"id"].decode(), json.loads(fields[b"data"])))
        return out


def receive_without_transport(conn: FakeConnection) -> Any:
    async def receive() -> MutableMapping[str, Any]:
        return await conn.receive()

    return receive


@asynccontextmanager
async def serving(
    hub: Hub, *, ping_seconds: float = 60.0, send_timeout: float = 60.0
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """The housekeeping task running; yields a list the test adds its streams' tasks to."""
    house = asyncio.create_task(EventStream(hub, ping_seconds=ping_seconds, send_timeout=send_timeout).run())
    streams: list[asyncio.Task[None]] = []
    try:
        yield streams
    finally:
        hub.drop_all()
        await asyncio.wait_for(asyncio.gather(*streams, return_exceptions=True), 30)
        house.cancel()
        await asyncio.gather(house, return_exceptions=True)


def open_stream(hub: Hub, conn: FakeConnection, last_seq: int | None = None, *, plain: bool = False) -> Any:
    receive = receive_without_transport(conn) if plain else conn.receive
    return asyncio.create_task(EventStreamResponse(hub, last_seq)(SCOPE, receive, conn.send))


async def test_every_client_gets_the_same_bytes_object_and_resumes_with_its_instance_id() -> None:
    engine = FakeEngine()
    hub = Hub(engine, buffer_messages=16, client_queue_messages=8)
    sent: list[list[bytes]] = []
    async with serving(hub) as streams:
        conns = [FakeConnection() for _ in range(3)]
        streams += [open_stream(hub, c) for c in conns]
        await await_for(lambda: all(c.events() for c in conns), within=30, what="three snapshots")
        engine.put("a", 1)
        hub.flush()
        await await_for(
            lambda: all(len(c.events()) == 2 for c in conns), within=30, what="the delta everywhere"
        )
        sent = [[m["body"] for m in c.messages[1:]] for c in conns]
        for conn in conns:
            (snap_event, snap_id, snap), (event, event_id, data) = conn.events()
            assert (snap_event, snap_id) == ("snapshot", f"{hub.instance}.{snap['seq']}")
            assert (event, event_id, data) == ("delta", f"{hub.instance}.1", json.loads(hub.buffer[-1].data))
        # one encoding: the very same bytes objects went to every client
        assert all(a is b for a, b in zip(sent[0], sent[1], strict=True))
        assert all(a is b for a, b in zip(sent[0], sent[2], strict=True))

        engine.put("b", 2)
        hub.flush()
        late = FakeConnection()
        streams.append(open_stream(hub, late, hub.parse_event_id(f"{hub.instance}.1")))
        await await_for(lambda: late.events(), within=30, what="the resumed stream")
        assert [(e, i) for e, i, _ in late.events()] == [("delta", f"{hub.instance}.2")]


async def test_an_idle_stream_gets_pings() -> None:
    hub = Hub(FakeEngine(), buffer_messages=4, client_queue_messages=4)
    async with serving(hub, ping_seconds=0.05) as streams:
        conn = FakeConnection()
        streams.append(open_stream(hub, conn))
        await await_for(lambda: conn.body.count(PING) >= 2, within=30, what="two pings")
        assert conn.body.startswith(b"id: ")  # the snapshot came first


async def test_a_big_frame_goes_out_in_pieces() -> None:
    engine = FakeEngine()
    hub = Hub(engine, buffer_messages=4, client_queue_messages=4)
    engine.put("big", "x" * (3 * WRITE_BYTES))
    async with serving(hub) as streams:
        conn = FakeConnection()
        streams.append(open_stream(hub, conn))
        await await_for(lambda: conn.events(), within=30, what="the big snapshot")
        bodies = [m["body"] for m in conn.messages if m["type"] == "http.response.body"]
        assert len(bodies) >= 4 and all(len(b) <= WRITE_BYTES for b in bodies)
        assert conn.events()[0][2]["pods"]["big"] == "x" * (3 * WRITE_BYTES)


@pytest.mark.parametrize("plain", [False, True], ids=["transport-aborted", "task-cancelled"])
async def test_a_hung_write_is_cut_after_the_send_timeout_and_the_others_keep_receiving(plain: bool) -> None:
    engine = FakeEngine()
    hub = Hub(engine, buffer_messages=64, client_queue_messages=4)
    async with serving(hub, send_timeout=0.2) as streams:
        stalled, healthy = FakeConnection(with_transport=not plain), FakeConnection()
        streams += [open_stream(hub, stalled, plain=plain), open_stream(hub, healthy)]
        await await_for(lambda: stalled.events() and healthy.events(), within=30, what="both snapshots")
        stalled.stalled = True
        (stuck,) = [c for c in hub.clients if c.on_stall is not None and c.on_stall.task is streams[0]]
        engine.put("a", 1)
        hub.flush()
        await await_for(lambda: stuck.sending_since is not None, within=30, what="the stalled write to start")
        i = 1
        deadline = asyncio.get_running_loop().time() + 30
        while stuck in hub.clients:  # the others are served meanwhile
            assert asyncio.get_running_loop().time() < deadline, "the hung write was never cut"
            engine.put(f"p{i}", i)
            hub.flush()
            await await_for(
                lambda: healthy.events()[-1][2]["seq"] == hub.seq, within=30, what="the healthy client"
            )
            assert stuck.pending <= hub.client_queue_messages
            i += 1
            await asyncio.sleep(0.01)
        await asyncio.wait_for(streams[0], 30)  # the stalled stream's task ends, without an error
        assert streams[0].exception() is None
        assert stuck.closed and not stalled.complete
        if not plain:
            assert stalled.transport.aborted
        assert [e[2]["seq"] for e in healthy.events()[1:]] == list(range(1, hub.seq + 1))
        assert not healthy.complete


async def test_streams_end_when_the_server_is_told_to_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    hub = Hub(FakeEngine(), buffer_messages=4, client_queue_messages=4)
    exiting = False
    monkeypatch.setattr(stream_module, "_server_exiting", lambda: exiting)
    async with serving(hub, ping_seconds=0.05) as streams:
        conns = [FakeConnection(), FakeConnection()]
        streams += [open_stream(hub, c) for c in conns]
        await await_for(lambda: all(c.events() for c in conns), within=30, what="the snapshots")
        exiting = True
        await asyncio.wait_for(asyncio.gather(*streams), 30)
        assert all(c.complete for c in conns), "each response was ended properly"
        assert not hub.clients
