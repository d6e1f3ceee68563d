"""The hub on its own, with a fake view engine: numbering, resume, resync, bounded queues, ticks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from app.hub import Hub, Message


class FakeEngine:
    """Keeps a tiny view (a dict of pods) and the ops that changed it since the last take."""

    def __init__(self) -> None:
        self.pods: dict[str, Any] = {}
        self.ops: list[dict[str, Any]] = []

    def put(self, key: str, value: Any) -> None:
        self.pods[key] = value
        self.ops.append({"op": "put", "coll": "pods", "key": key, "value": value})

    def has_pending(self) -> bool:
        return bool(self.ops)

    def take_ops(self) -> list[dict[str, Any]]:
        ops, self.ops = self.ops, []
        return ops

    def state(self) -> dict[str, Any]:
        return {"meta": {}, "services": {}, "pods": dict(self.pods), "timeline": []}


def make_hub(buffer: int = 8, queue: int = 4) -> tuple[FakeEngine, Hub]:
    engine = FakeEngine()
    return engine, Hub(engine, buffer_messages=buffer, client_queue_messages=queue)


def apply(model: dict[str, Any], msg: Message) -> dict[str, Any]:
    """The browser's reducer, reduced to what the fake engine emits."""
    data = json.loads(msg.data)
    if msg.event == "snapshot":
        return data
    assert data["seq"] == model["seq"] + 1, "deltas must come in order without gaps"
    model = {**model, "pods": dict(model["pods"]), "seq": data["seq"]}
    for op in data["ops"]:
        assert op["op"] == "put"
        model["pods"][op["key"]] = op["value"]
    return model


def test_flush_numbers_ops_and_skips_empty_ticks() -> None:
    engine, hub = make_hub()
    assert hub.flush() is None
    assert hub.seq == 0
    engine.put("a", 1)
    engine.put("b", 2)
    msg = hub.flush()
    assert msg is not None and msg.seq == 1 and msg.event == "delta"
    assert [op["key"] for op in json.loads(msg.data)["ops"]] == ["a", "b"]  # one burst, one message
    assert hub.flush() is None
    assert hub.seq == 1


def test_snapshot_flushes_first_so_seq_and_state_agree() -> None:
    engine, hub = make_hub()
    engine.put("a", 1)
    snap = hub.snapshot()
    assert snap["seq"] == 1
    assert snap["pods"] == {"a": 1}
    assert not engine.has_pending()


def test_fresh_client_gets_one_snapshot_then_deltas() -> None:
    engine, hub = make_hub()
    engine.put("a", 1)
    hub.flush()
    client = hub.connect(None)
    first = client.take()
    assert [(m.event, m.seq) for m in first] == [("snapshot", 1)]
    engine.put("b", 2)
    hub.flush()
    assert [(m.event, m.seq) for m in client.take()] == [("delta", 2)]
    assert client.take() == []


def test_resume_gets_exactly_the_missed_messages() -> None:
    engine, hub = make_hub(buffer=8, queue=4)
    client = hub.connect(None)
    model = apply({}, client.take()[0])
    for i in range(2):
        engine.put(f"p{i}", i)
        hub.flush()
    for msg in client.take():
        model = apply(model, msg)
    hub.disconnect(client)
    last_seen = model["seq"]
    for i in range(2, 5):  # three changes while disconnected
        engine.put(f"p{i}", i)
        hub.flush()
    again = hub.connect(last_seen)
    missed = again.take()
    assert [(m.event, m.seq) for m in missed] == [("delta", 3), ("delta", 4), ("delta", 5)]
    for msg in missed:
        model = apply(model, msg)
    assert model == hub.snapshot()


def test_resume_at_current_seq_gets_nothing_until_next_change() -> None:
    engine, hub = make_hub()
    engine.put("a", 1)
    hub.flush()
    client = hub.connect(1)
    assert client.take() == []
    engine.put("b", 2)
    hub.flush()
    assert [m.seq for m in client.take()] == [2]


@pytest.mark.parametrize("last_id", [0, 1, 2, 99, -5])
def test_too_old_or_future_id_gets_a_snapshot(last_id: int) -> None:
    engine, hub = make_hub(buffer=3)
    for i in range(6):  # seq 1..6, the buffer keeps 4..6, so resume works from id 3 on
        engine.put(f"p{i}", i)
        hub.flush()
    assert [m.seq for m in hub.buffer] == [4, 5, 6]
    client = hub.connect(last_id if last_id < 10 else hub.seq + 1)
    got = client.take()
    assert [(m.event, m.seq) for m in got] == [("snapshot", 6)]
    assert json.loads(got[0].data)["pods"] == hub.snapshot()["pods"]


def test_oldest_resumable_id_is_one_before_the_buffer() -> None:
    engine, hub = make_hub(buffer=3)
    for i in range(6):
        engine.put(f"p{i}", i)
        hub.flush()
    assert [m.seq for m in hub.connect(3).take()] == [4, 5, 6]
    assert [m.event for m in hub.connect(2).take()] == ["snapshot"]
    future = hub.connect(7).take()
    assert [m.event for m in future] == ["snapshot"]


def test_overflowing_client_is_resynced_with_bounded_memory() -> None:
    engine, hub = make_hub(buffer=1000, queue=4)
    slow = hub.connect(None)
    model = apply({}, slow.take()[0])
    fast = hub.connect(None)
    fast.take()
    for i in range(500):  # the slow client never reads while 500 messages go out
        engine.put(f"p{i % 7}", i)
        hub.flush()
        fast.take()
        assert len(slow.queue) <= 4
    assert slow.high_water <= 4
    assert slow.resyncs >= 1
    got = slow.take()
    assert [(m.event, m.seq) for m in got] == [("snapshot", 500)]
    model = apply(model, got[0])
    assert model == hub.snapshot()
    assert fast.resyncs == 0
    # after the resync it follows deltas again
    engine.put("z", 1)
    hub.flush()
    assert [(m.event, m.seq) for m in slow.take()] == [("delta", 501)]


def test_resync_snapshot_does_not_also_queue_its_own_changes() -> None:
    engine, hub = make_hub(queue=1)
    client = hub.connect(None)
    client.take()
    for i in range(3):
        engine.put(f"p{i}", i)
        hub.flush()
    assert client.needs_snapshot
    engine.put("late", 9)  # pending, not yet flushed: the snapshot flushes and includes it
    got = client.take()
    assert [(m.event, m.seq) for m in got] == [("snapshot", 4)]
    assert client.take() == []


def test_snapshot_message_is_encoded_once_per_seq() -> None:
    engine, hub = make_hub()
    engine.put("a", 1)
    first = hub.snapshot_message()
    assert hub.snapshot_message() is first
    engine.put("b", 2)
    assert hub.snapshot_message() is not first


async def test_run_coalesces_a_burst_into_one_message_per_tick() -> None:
    engine, hub = make_hub()
    client = hub.connect(None)
    assert [m.event for m in await asyncio.wait_for(client.next_batch(), 1)] == ["snapshot"]
    task = asyncio.create_task(hub.run(0.05))
    try:
        for i in range(10):
            engine.put(f"p{i}", i)
            hub.poke()
        batch = await asyncio.wait_for(client.next_batch(), 2)
        assert [m.seq for m in batch] == [1]
        assert len(json.loads(batch[0].data)["ops"]) == 10
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_drop_all_ends_waiting_clients() -> None:
    _, hub = make_hub()
    client = hub.connect(0)
    waiter = asyncio.create_task(client.next_batch())
    await asyncio.sleep(0)
    assert hub.drop_all() == 1
    assert await asyncio.wait_for(waiter, 1) is None
    assert not hub.clients


async def test_run_stops_when_cancelled_right_after_a_poke() -> None:
    """Python 3.11's wait_for swallows a cancel that lands as it wakes; the tick loop must not."""
    _, hub = make_hub()
    task = asyncio.create_task(hub.run(0.02))
    await asyncio.sleep(0)
    hub.poke()
    await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()


def test_ids_carry_the_instance_and_only_this_instance_resumes() -> None:
    engine, hub = make_hub()
    other = Hub(FakeEngine(), buffer_messages=8, client_queue_messages=4)
    assert hub.instance != other.instance and "." not in hub.instance
    engine.put("a", 1)
    msg = hub.flush()
    assert msg is not None and msg.frame.startswith(f"id: {hub.instance}.1\nevent: delta\ndata: ".encode())
    assert msg.frame.endswith(b"\n\n") and msg.frame.count(b"\n") == 4  # data is one line
    assert hub.parse_event_id(hub.event_id(1)) == 1
    for foreign in (other.event_id(1), "1", "", None, f"{hub.instance}.x", f"{hub.instance}.-1", "..."):
        assert hub.parse_event_id(foreign) is None, foreign
    assert hub.parse_event_id(f"{hub.instance}.\u0661") is None  # a non-ASCII digit is not a seq


def test_a_client_holds_a_place_in_the_shared_buffer_not_messages() -> None:
    engine, hub = make_hub(buffer=100, queue=50)
    reader, idle = hub.connect(None), hub.connect(None)
    reader.take(), idle.take()
    for i in range(30):
        engine.put(f"p{i}", i)
        hub.flush()
        if i % 10 == 9:
            batch = reader.take()
            assert len(batch) == 10 and hub.frames(batch) is hub.frames(list(batch))  # joined once
    assert idle.pending == 30 and len(idle.queue) == 30 and idle.high_water == 30
    assert all(a is b for a, b in zip(idle.queue, list(hub.buffer)[-30:], strict=True))  # shared, not copied
    assert reader.pending == 0 and reader.take() == []


def test_a_hung_write_is_dropped_after_the_send_timeout() -> None:
    _, hub = make_hub()
    hung, busy, idle = hub.connect(None), hub.connect(None), hub.connect(None)
    cut: list[str] = []
    hung.on_stall = lambda: cut.append("hung")
    hung.sending_since, busy.sending_since = 100.0, 103.0
    assert hub.drop_stalled(104.9, send_timeout=5.0) == 0
    assert hub.drop_stalled(105.1, send_timeout=5.0) == 1
    assert cut == ["hung"] and hung.closed and hub.clients == {busy, idle}
    assert hub.drop_stalled(108.1, send_timeout=5.0) == 1 and hub.clients == {idle}


def test_the_tick_stretches_with_the_audience() -> None:
    _, hub = make_hub()
    assert hub.tick(0.025) == 0.025
    for _ in range(1000):
        hub.connect(None)
    assert hub.tick(0.025) == pytest.approx(0.1)
    assert hub.tick(0.5) == 0.5  # a longer configured tick stays as it is


def test_the_resume_buffer_is_bounded_in_bytes_too() -> None:
    engine = FakeEngine()
    hub = Hub(engine, buffer_messages=1000, client_queue_messages=1000, buffer_bytes=50_000)
    stuck = hub.connect(None)
    stuck.take()
    for i in range(40):
        engine.put(f"p{i}", "x" * 10_000)  # about 10 kB a message
        hub.flush()
    assert 3 <= len(hub.buffer) <= 5
    assert sum(len(m.frame) for m in hub.buffer) <= 50_000
    assert [m.seq for m in hub.buffer] == list(range(41 - len(hub.buffer), 41))
    assert [m.event for m in stuck.take()] == ["snapshot"]  # its place fell out: a snapshot, not a gap
    oldest = hub.buffer[0].seq
    assert hub.missed_since(oldest - 1) is not None and hub.missed_since(oldest - 2) is None


@pytest.mark.parametrize("value", ["\u2028 <ok> \n\r", 2**70, "lone \ud800 surrogate", {1: "int key"}])
def test_any_view_value_encodes_to_one_data_line(value: Any) -> None:
    engine, hub = make_hub()
    engine.put("odd", value)
    msg = hub.flush()
    assert msg is not None and msg.frame.count(b"\n") == 4  # id, event, data, blank line
    assert json.loads(msg.data)["ops"][0]["value"] == (json.loads(json.dumps(value)))
