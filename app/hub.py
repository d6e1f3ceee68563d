"""Numbers the view engine's changes, encodes each one once into a shared SSE frame kept in a ring
buffer (Last-Event-ID resume), coalesces bursts into one message per tick and wakes the clients,
each of which is only a cursor into that buffer (memory per client does not grow with its lag)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson

log = logging.getLogger(__name__)

# Each flush costs one write per client (a syscall and uvicorn's framing, tens of microseconds).
# The tick stretches with the audience so writes stay near this rate: 1,000 clients get a message
# every 100 ms instead of every 25 ms, with the same changes in it.
WRITES_PER_SECOND = 10_000
MAX_STRETCHED_TICK = 0.1  # seconds; a longer tick would eat the delivery budget (p99 <= 250 ms)
BUFFER_BYTES = 16 * 1024 * 1024  # the resume buffer's frames, whatever their number


class Engine(Protocol):
    """What the hub needs from the view engine (app/view/engine.py)."""

    def has_pending(self) -> bool: ...

    def take_ops(self) -> list[dict[str, Any]]: ...

    def state(self) -> dict[str, Any]: ...


def encode(data: Any) -> bytes:
    """Compact UTF-8 JSON on one line (orjson escapes every control character, so a data line never
    holds a raw newline); falls back to json for what orjson refuses (integers beyond 64 bits, lone
    surrogates from an escaped string in a cluster object), escaping everything beyond ASCII."""
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(data, separators=(",", ":")).encode()


def new_instance() -> str:
    """A random name for this hub's run: 72 bits, so two replicas (or two runs) never share one."""
    return secrets.token_urlsafe(9)


@dataclass(frozen=True, slots=True)
class Message:
    """One SSE message, encoded once and shared by every client."""

    seq: int
    event: Literal["snapshot", "delta"]
    frame: bytes  # the whole SSE message as sent: id, event and data lines
    data_start: int  # where the JSON starts in frame (it ends before the closing blank line)

    @classmethod
    def build(cls, instance: str, seq: int, event: Literal["snapshot", "delta"], data: bytes) -> Message:
        head = f"id: {instance}.{seq}\nevent: {event}\ndata: ".encode()
        return cls(seq, event, b"".join((head, data, b"\n\n")), len(head))

    @property
    def data(self) -> bytes:
        """The JSON (a copy: the frame alone is kept)."""
        return self.frame[self.data_start : -2]


class Client:
    """One connected stream: the seq it has been given up to (a cursor into the hub's shared buffer),
    or a pending resync (one snapshot). It holds no messages of its own."""

    __slots__ = (
        "_hub",
        "_waiter",
        "closed",
        "cursor",
        "high_water",
        "needs_snapshot",
        "on_stall",
        "ping",
        "resyncs",
        "sending_since",
    )

    def __init__(self, hub: Hub, cursor: int | None) -> None:
        self._hub = hub
        self.cursor = cursor if cursor is not None else hub.seq  # last seq handed to this client
        self.needs_snapshot = cursor is None
        self.closed = False
        self.resyncs = 0  # times this client fell behind and was reset to a snapshot
        self.high_water = 0  # the most messages it has been behind (tests check it stays bounded)
        self.ping = False  # a keep-alive comment is due
        self.sending_since: float | None = None  # loop time its current write began (None: idle)
        self.on_stall: Callable[[], None] | None = None  # how to cut its connection when a write hangs
        self._waiter: asyncio.Future[None] | None = None

    @property
    def pending(self) -> int:
        """How many messages this client is behind (0 while a snapshot is due: that holds them all)."""
        return 0 if self.needs_snapshot or self.closed else self._hub.seq - self.cursor

    @property
    def queue(self) -> list[Message]:
        """The messages it is behind, read from the shared buffer (never more than the queue limit)."""
        return self._hub.missed_since(self.cursor) or [] if self.pending else []

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> list[Message]:
        """Everything ready to send now (a pending resync turns into one snapshot message)."""
        if self.closed:
            return []
        hub = self._hub
        if not self.needs_snapshot:
            if self.cursor == hub.seq:
                return []
            missed = hub.missed_since(self.cursor)
            if missed is not None:
                self.cursor = hub.seq
                return missed
            self.resyncs += 1  # its place fell out of the buffer
        # The snapshot flushes first; the flag stays set meanwhile so the flush does not count this
        # client as behind on deltas the snapshot already holds.
        self.needs_snapshot = True
        snap = hub.snapshot_message()
        self.needs_snapshot = False
        self.cursor = snap.seq
        return [snap]

    async def wait(self) -> None:
        """Until the hub has something for this client (or drops it, or a ping is due)."""
        if self.closed or self.ping or self.needs_snapshot or self.cursor != self._hub.seq:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def next_batch(self) -> list[Message] | None:
        """Wait until there is something to send; None when the hub dropped this client."""
        while True:
            if self.closed:
                return None
            batch = self.take()
            if batch:
                return batch
            self.ping = False
            await self.wait()


class Hub:
    def __init__(
        self,
        engine: Engine,
        *,
        buffer_messages: int,
        client_queue_messages: int,
        first_seq: int = 0,
        instance: str | None = None,
        buffer_bytes: int = BUFFER_BYTES,
    ) -> None:
        if buffer_messages < 1 or client_queue_messages < 1:
            raise ValueError("buffer_messages and client_queue_messages must be at least 1")
        self.engine = engine
        # SSE ids are "<instance>.<seq>": an id from another replica or an earlier run names
        # another instance and gets a snapshot, whatever its seq.
        self.instance = instance or new_instance()
        self.seq = first_seq
        self.buffer: deque[Message] = deque(maxlen=buffer_messages)
        self.buffer_bytes = buffer_bytes  # big messages shorten the resume window, not grow memory
        self._buffered = 0  # bytes of the frames in the buffer
        self.client_queue_messages = client_queue_messages
        self.clients: set[Client] = set()
        self._snapshot_cache: Message | None = None
        self._joined: dict[tuple[int, int], bytes] = {}  # frames of a run of messages, joined once
        self._poked = asyncio.Event()

    # ---- ids -----------------------------------------------------------------
    def event_id(self, seq: int) -> str:
        return f"{self.instance}.{seq}"

    def parse_event_id(self, raw: str | None) -> int | None:
        """The seq in an id this instance issued; None for anything else (no id, another replica's
        or an earlier run's id, a bare number, garbage): such a client gets a snapshot."""
        if not raw:
            return None
        instance, dot, seq = raw.strip().rpartition(".")
        if not dot or instance != self.instance or not seq.isdigit() or not seq.isascii():
            return None
        return int(seq)

    # ---- producing -----------------------------------------------------------
    def flush(self) -> Message | None:
        """Number the engine's pending ops as one delta and wake the clients. None when there were none."""
        ops = self.engine.take_ops()
        if not ops:
            return None
        self.seq += 1
        msg = Message.build(self.instance, self.seq, "delta", encode({"seq": self.seq, "ops": ops}))
        buffer = self.buffer
        if len(buffer) == buffer.maxlen:
            self._buffered -= len(buffer[0].frame)
        buffer.append(msg)
        self._buffered += len(msg.frame)
        while self._buffered > self.buffer_bytes and len(buffer) > 1:
            self._buffered -= len(buffer.popleft().frame)
        self._joined.clear()
        limit = self.client_queue_messages
        seq = self.seq
        for client in self.clients:
            if not client.needs_snapshot:
                behind = seq - client.cursor
                if behind > limit:  # it stopped keeping up: one snapshot instead of a backlog
                    client.needs_snapshot = True
                    client.resyncs += 1
                elif behind > client.high_water:
                    client.high_water = behind
            client.wake()
        return msg

    def snapshot(self) -> dict[str, Any]:
        """The whole view with the seq of the last change it contains (flushes first, so they agree)."""
        self.flush()
        return {"seq": self.seq, **self.engine.state()}

    def snapshot_message(self) -> Message:
        """The snapshot as an SSE message, encoded once per seq however many clients want it."""
        self.flush()
        cached = self._snapshot_cache
        if cached is None or cached.seq != self.seq:
            data = encode({"seq": self.seq, **self.engine.state()})
            cached = Message.build(self.instance, self.seq, "snapshot", data)
            self._snapshot_cache = cached
        return cached

    def frames(self, batch: list[Message]) -> bytes:
        """The bytes of a batch. Clients at the same place get the very same bytes object."""
        if len(batch) == 1:
            return batch[0].frame
        key = (batch[0].seq, batch[-1].seq)  # a batch of several is a run of buffered deltas
        joined = self._joined.get(key)
        if joined is None:
            joined = self._joined[key] = b"".join(m.frame for m in batch)
        return joined

    def poke(self) -> None:
        """Say that the engine may have ops; the tick loop then flushes within one tick."""
        self._poked.set()

    def tick(self, tick_seconds: float) -> float:
        """The tick for the current audience: tick_seconds, longer with many clients."""
        return max(tick_seconds, min(MAX_STRETCHED_TICK, len(self.clients) / WRITES_PER_SECOND))

    async def run(self, tick_seconds: float, idle_seconds: float = 1.0) -> None:
        """Flush at most once per tick, so a burst of changes goes out as one message."""
        while True:
            # asyncio.timeout, not wait_for: 3.11's wait_for can hang when cancelled just as it wakes.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle_seconds):
                    await self._poked.wait()
            await asyncio.sleep(self.tick(tick_seconds))
            self._poked.clear()
            try:
                self.flush()
            except Exception:  # a bad op must not stop every browser's stream
                log.exception("hub flush failed")

    # ---- consuming -----------------------------------------------------------
    def connect(self, last_seq: int | None = None) -> Client:
        """A new client. It first gets the messages after last_seq when the buffer still holds them
        all, else one snapshot (no seq, a seq older than the buffer, or one from the future)."""
        self.flush()
        resumable = last_seq is not None and self.missed_since(last_seq) is not None
        client = Client(self, last_seq if resumable else None)
        client.high_water = client.pending
        self.clients.add(client)
        return client

    def missed_since(self, last_seq: int | None) -> list[Message] | None:
        """Buffered messages after last_seq, or None when they cannot all be given."""
        if last_seq is None or last_seq < 0 or last_seq > self.seq:
            return None
        behind = self.seq - last_seq
        if behind == 0:
            return []
        buffer = self.buffer
        if behind > len(buffer):
            return None
        if behind == 1:
            return [buffer[-1]]
        size = len(buffer)
        return [buffer[i] for i in range(size - behind, size)]

    def disconnect(self, client: Client) -> None:
        self.clients.discard(client)
        client.closed = True
        client.wake()

    def ping_all(self) -> None:
        """Ask every client to send a keep-alive comment (proxies close idle streams)."""
        for client in self.clients:
            client.ping = True
            client.wake()

    def drop_stalled(self, now: float, send_timeout: float) -> int:
        """Disconnect every client whose current write has hung for longer than send_timeout (a
        browser that stopped reading): its connection is cut, the others never wait on it."""
        stalled = [
            c for c in self.clients if c.sending_since is not None and now - c.sending_since > send_timeout
        ]
        for client in stalled:
            self.disconnect(client)
            if client.on_stall is not None:
                try:
                    client.on_stall()
                except Exception:
                    log.exception("could not cut a stalled stream")
        return len(stalled)

    def drop_all(self) -> int:
        """Close every client's stream (they reconnect with Last-Event-ID). Returns how many."""
        clients = list(self.clients)
        for client in clients:
            self.disconnect(client)
        return len(clients)
