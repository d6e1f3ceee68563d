"""Numbers the view engine's changes (seq = SSE id), keeps a ring buffer for Last-Event-ID resume,
coalesces bursts into one message per tick, and fans out to bounded per-client queues."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What the hub needs from the view engine (app/view/engine.py)."""

    def has_pending(self) -> bool: ...

    def take_ops(self) -> list[dict[str, Any]]: ...

    def state(self) -> dict[str, Any]: ...


def encode(data: Any) -> str:
    """Compact JSON on one line (SSE data lines must not hold raw newlines; json.dumps never emits them)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Message:
    """One SSE message, encoded once and shared by every client."""

    seq: int
    event: Literal["snapshot", "delta"]
    data: str  # JSON text


class Client:
    """One connected browser: a bounded queue of messages, or a pending resync (one snapshot)."""

    def __init__(self, hub: Hub, limit: int) -> None:
        self._hub = hub
        self._limit = limit
        self.queue: deque[Message] = deque()
        self.needs_snapshot = False
        self.closed = False
        self.resyncs = 0  # times this client fell behind and was reset to a snapshot
        self.high_water = 0  # the longest the queue has been (tests check it stays bounded)
        self._wake = asyncio.Event()

    def _push(self, msg: Message) -> None:
        if self.closed or self.needs_snapshot:
            return  # the snapshot it will get already holds this message
        if len(self.queue) >= self._limit:
            self.queue.clear()
            self.needs_snapshot = True
            self.resyncs += 1
        else:
            self.queue.append(msg)
            self.high_water = max(self.high_water, len(self.queue))
        self._wake.set()

    def _close(self) -> None:
        self.closed = True
        self.queue.clear()
        self._wake.set()

    def take(self) -> list[Message]:
        """Everything ready to send now (a pending resync turns into one snapshot message)."""
        if self.closed:
            return []
        if self.needs_snapshot:
            # Take the snapshot while the flag is still set: the flush inside it must not also
            # queue deltas that the snapshot already contains.
            snap = self._hub.snapshot_message()
            self.needs_snapshot = False
            self.queue.clear()
            return [snap]
        out = list(self.queue)
        self.queue.clear()
        return out

    async def next_batch(self) -> list[Message] | None:
        """Wait until there is something to send; None when the hub dropped this client."""
        while True:
            self._wake.clear()
            if self.closed:
                return None
            batch = self.take()
            if batch:
                return batch
            await self._wake.wait()


class Hub:
    def __init__(
        self, engine: Engine, *, buffer_messages: int, client_queue_messages: int, first_seq: int = 0
    ) -> None:
        if buffer_messages < 1 or client_queue_messages < 1:
            raise ValueError("buffer_messages and client_queue_messages must be at least 1")
        self.engine = engine
        # The server starts from a time-based seq, so a browser holding an id from an earlier
        # run of the server gets a snapshot (its id is too old) instead of wrong deltas.
        self.seq = first_seq
        self.buffer: deque[Message] = deque(maxlen=buffer_messages)
        self.client_queue_messages = client_queue_messages
        self.clients: set[Client] = set()
        self._snapshot_cache: Message | None = None
        self._poked = asyncio.Event()

    # ---- producing -----------------------------------------------------------
    def flush(self) -> Message | None:
        """Number the engine's pending ops as one delta and fan it out. None when there were none."""
        ops = self.engine.take_ops()
        if not ops:
            return None
        self.seq += 1
        msg = Message(self.seq, "delta", encode({"seq": self.seq, "ops": ops}))
        self.buffer.append(msg)
        for client in self.clients:
            client._push(msg)
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
            cached = Message(self.seq, "snapshot", encode({"seq": self.seq, **self.engine.state()}))
            self._snapshot_cache = cached
        return cached

    def poke(self) -> None:
        """Say that the engine may have ops; the tick loop then flushes within one tick."""
        self._poked.set()

    async def run(self, tick_seconds: float, idle_seconds: float = 1.0) -> None:
        """Flush at most once per tick, so a burst of changes goes out as one message."""
        while True:
            # asyncio.timeout, not wait_for: 3.11's wait_for can hang when cancelled just as it wakes.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle_seconds):
                    await self._poked.wait()
            await asyncio.sleep(tick_seconds)
            self._poked.clear()
            try:
                self.flush()
            except Exception:  # a bad op must not stop every browser's stream
                log.exception("hub flush failed")

    # ---- consuming -----------------------------------------------------------
    def connect(self, last_event_id: int | None = None) -> Client:
        """A new client. It first gets the messages after last_event_id when the buffer still holds
        them all, else one snapshot (no id, an id older than the buffer, or an id from the future)."""
        self.flush()
        client = Client(self, self.client_queue_messages)
        missed = self.missed_since(last_event_id)
        if missed is None:
            client.needs_snapshot = True
        else:
            client.queue.extend(missed)
            client.high_water = len(client.queue)
        self.clients.add(client)
        client._wake.set()
        return client

    def missed_since(self, last_event_id: int | None) -> list[Message] | None:
        """Buffered messages after last_event_id, or None when they cannot all be given."""
        if last_event_id is None or last_event_id < 0 or last_event_id > self.seq:
            return None
        if last_event_id == self.seq:
            return []
        if not self.buffer or self.buffer[0].seq > last_event_id + 1:
            return None
        start = last_event_id + 1 - self.buffer[0].seq
        return list(self.buffer)[start:]

    def disconnect(self, client: Client) -> None:
        self.clients.discard(client)
        client._close()

    def drop_all(self) -> int:
        """Close every client's stream (they reconnect with Last-Event-ID). Returns how many."""
        clients = list(self.clients)
        for client in clients:
            self.disconnect(client)
        return len(clients)
