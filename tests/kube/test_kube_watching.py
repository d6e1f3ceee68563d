"""The watch loop's layers against scripted transports and a fake clock: the real v1.36 watch streams,
paging, 410 relists, backoff, the inactivity timeout. Nothing here sleeps."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from app.kinds import KINDS
from app.sources.backoff import Backoff
from app.sources.watching import (
    ApiError,
    Clock,
    ConnectionProblem,
    Expired,
    InactivityTimeout,
    Target,
    WatchConfig,
    continuous_watch,
    infinite_watch,
    list_all,
    new_state,
    parse_event,
    watch_events,
)
from tests.kube.fakes import (
    EOF,
    HANG,
    FakeClock,
    FakeTransport,
    RecordingSink,
    Script,
    event,
    expired,
    fixture_json,
    fixture_lines,
    pod,
    until,
)

PODS = Target(KINDS["Pod"])
SLICES = Target(KINDS["EndpointSlice"], "default")


def clock_of(fake: FakeClock) -> Clock:
    return Clock(now=fake.now, sleep=fake.sleep, rand=fake.rand)


async def collect(agen) -> list:
    out = []
    async with contextlib.aclosing(agen):
        async for item in agen:
            out.append(item)
    return out


# --- layer 1: lines -> events -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "changes", "bookmarks", "last_rv"),
    [
        ("watch-pods.jsonl", 10, 1, "334"),
        ("watch-endpointslices.jsonl", 5, 2, "327"),
        ("watch-endpoints.jsonl", 5, 0, "328"),
    ],
)
async def test_fixture_streams_parse_and_bookmarks_only_move_the_resource_version(
    name: str, changes: int, bookmarks: int, last_rv: str
) -> None:
    kind = {"watch-pods.jsonl": "Pod", "watch-endpointslices.jsonl": "EndpointSlice"}.get(name, "Endpoints")
    target = Target(KINDS[kind], "default")
    transport = FakeTransport()
    transport.scripts[target.path()] = [Script(fixture_lines(name), end=EOF)]
    events = await collect(watch_events(transport, target, "286", WatchConfig(), clock_of(FakeClock())))
    assert [e.type for e in events].count("BOOKMARK") == bookmarks
    assert len([e for e in events if e.type != "BOOKMARK"]) == changes
    assert events[-1].resource_version == last_rv
    assert transport.streams[0].closed

    # One round of the loop: bookmarks reach no one, but the next watch starts after them.
    transport.scripts[target.path()] = [Script(fixture_lines(name), end=EOF)]
    sink = RecordingSink()
    state = new_state(WatchConfig(), clock_of(FakeClock()))
    state.resource_version = "286"
    await continuous_watch(transport, target, sink, WatchConfig(), clock_of(FakeClock()), state)
    assert len(sink.of("changed")) == changes
    assert all(t in ("ADDED", "MODIFIED", "DELETED") for t, _ in sink.of("changed"))
    assert state.resource_version == last_rv


def test_parse_event_reads_the_fixture_shapes_and_skips_garbage() -> None:
    lines = fixture_lines("watch-pods.jsonl")
    first = parse_event(lines[0])
    assert first is not None and first.type == "MODIFIED"
    assert first.obj["metadata"]["name"] == "shipping-api-8465d5b4d7-g4r8r"
    assert first.resource_version == "289"
    bookmark = parse_event(lines[-1])
    assert bookmark is not None and bookmark.type == "BOOKMARK" and bookmark.resource_version == "334"
    assert parse_event(b"") is None
    assert parse_event(b"{not json") is None
    assert parse_event(b'["a list"]') is None


async def test_error_event_410_raises_expired_and_other_errors_raise_api_error() -> None:
    transport = FakeTransport()
    other = event("ERROR", {"kind": "Status", "code": 500, "reason": "InternalError", "message": "boom"})
    transport.scripts[PODS.path()] = [Script([expired()]), Script([other])]
    with pytest.raises(Expired):
        await collect(watch_events(transport, PODS, "5", WatchConfig(), clock_of(FakeClock())))
    with pytest.raises(ApiError) as info:
        await collect(watch_events(transport, PODS, "5", WatchConfig(), clock_of(FakeClock())))
    assert info.value.status == 500 and "boom" in str(info.value)
    assert all(s.closed for s in transport.streams)


async def test_410_answer_to_the_watch_request_is_expired_too() -> None:
    transport = FakeTransport()
    transport.scripts[PODS.path()] = [Script(error=ApiError(410, "Gone", "too old"))]
    with pytest.raises(Expired):
        await collect(watch_events(transport, PODS, "5", WatchConfig(), clock_of(FakeClock())))


# --- layer 2: paging ------------------------------------------------------------------------------


async def test_list_pages_with_limit_and_continue_and_normalizes_items() -> None:
    transport = FakeTransport()
    real = fixture_json("list-pods.json")["items"][0]
    assert "managedFields" in real["metadata"] and "kind" not in real
    objs = [real] + [{"metadata": {"name": f"p{i:04}", "resourceVersion": "1"}} for i in range(1200)]
    transport.objects[PODS.path()] = objs
    transport.list_rv[PODS.path()] = "777"
    items, rv = await list_all(transport, PODS, 500)
    assert rv == "777"
    assert len(items) == 1201
    assert [c for _, _, c in transport.list_calls] == [None, "500", "1000"]
    assert all(limit == 500 for _, limit, _ in transport.list_calls)
    assert items[0]["kind"] == "Pod" and items[0]["apiVersion"] == "v1"
    assert "managedFields" not in items[0]["metadata"]
    assert items[0]["status"]["podIP"] == real["status"]["podIP"]


async def test_an_expired_continue_token_starts_the_list_again() -> None:
    transport = FakeTransport()
    transport.objects[PODS.path()] = [pod(f"p{i}", "1") for i in range(5)]

    calls = 0
    original = transport.list

    async def flaky(target, *, limit, cont):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ApiError(410, "Expired", "The provided continue parameter is too old")
        return await original(target, limit=limit, cont=cont)

    transport.list = flaky  # type: ignore[method-assign]
    items, _ = await list_all(transport, PODS, 2)
    assert len(items) == 5
    assert calls == 5  # page 1, expired page 2, then pages 1-3 again


# --- layer 4: the loop ----------------------------------------------------------------------------


async def run_until(coro, predicate) -> None:
    task = asyncio.ensure_future(coro)
    try:
        await until(lambda: predicate() or task.done())
        if task.done():
            task.result()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_410_relists_and_the_new_list_drops_objects_deleted_meanwhile() -> None:
    transport = FakeTransport()
    transport.objects[PODS.path()] = [pod("a", "10"), pod("b", "11"), pod("c", "12")]
    transport.list_rv[PODS.path()] = "12"
    transport.scripts[PODS.path()] = [
        Script([event("MODIFIED", pod("a", "13"))], end=EOF),
        Script([expired("13")]),
    ]
    sink = RecordingSink()
    clock = FakeClock()

    def after_first_list() -> bool:
        if len(sink.of("listed")) == 1 and transport.watch_calls:
            # While the watch is down, b and c are deleted and d is created.
            transport.objects[PODS.path()] = [pod("a", "13"), pod("d", "20")]
            transport.list_rv[PODS.path()] = "20"
        return len(sink.of("listed")) >= 2

    await run_until(infinite_watch(transport, PODS, sink, WatchConfig(), clock_of(clock)), after_first_list)
    assert sink.of("listed") == [["a", "b", "c"], ["a", "d"]]
    assert sink.of("changed") == [("MODIFIED", "a")]
    # watched from the list's rv, then from the last event's rv (the stream ended normally; the
    # server was checked not to have gone back first), then relisted
    assert [rv for _, rv in transport.watch_calls[:2]] == ["12", "13"]
    assert [limit for _, limit, _ in transport.list_calls] == [250, 1, 250]


def test_backoff_grows_caps_stays_within_jitter_bounds_and_resets() -> None:
    low = Backoff(base=1, factor=2, cap=30, jitter=0.5, rand=lambda: 1.0)
    high = Backoff(base=1, factor=2, cap=30, jitter=0.5, rand=lambda: 0.0)
    assert [high.next_delay() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert [low.next_delay() for _ in range(7)] == [0.5, 1, 2, 4, 8, 15, 15]
    import random

    rng = random.Random(7)
    b = Backoff(base=1, factor=2, cap=30, jitter=0.5, rand=rng.random)
    delays = [b.next_delay() for _ in range(200)]
    for i, d in enumerate(delays):
        raw = min(30, 2**i) if i < 64 else 30
        assert raw / 2 <= d <= raw
    assert len({round(d, 6) for d in delays[10:]}) > 100  # jittered, not lockstep
    b.reset()
    assert 0.5 <= b.next_delay() <= 1
    assert Backoff(base=1, cap=30, rand=lambda: 0.0).raw_delay(10_000) == 30
    with pytest.raises(ValueError):
        Backoff(base=0)


async def test_connection_failures_back_off_exponentially_and_a_working_watch_resets() -> None:
    transport = FakeTransport()
    transport.list_errors[PODS.path()] = [ConnectionProblem("connection refused")] * 3
    transport.objects[PODS.path()] = [pod("a", "1")]
    transport.scripts[PODS.path()] = [
        # a working stream (an event arrives), then it breaks, then the server is gone again
        Script([event("ADDED", pod("b", "101"))], end=ConnectionProblem("reset")),
        Script(error=ConnectionProblem("refused")),
        Script(error=ConnectionProblem("refused")),
    ]
    sink = RecordingSink()
    clock = FakeClock(rand=0.0)
    await run_until(
        infinite_watch(transport, PODS, sink, WatchConfig(backoff_jitter=0.5), clock_of(clock)),
        lambda: len(clock.sleeps) >= 6,
    )
    assert clock.sleeps[:6] == [1, 2, 4, 1, 2, 4]
    assert sink.kinds()[:5] == ["down"] * 3 + ["listed", "up"]
    # After the list, every reconnect resumes from the last resourceVersion, never relisting (a
    # one-item list checks first that the server has not gone back).
    assert [limit for _, limit, _ in transport.list_calls][:6] == [250] * 4 + [1] * 2
    assert [rv for _, rv in transport.watch_calls][:3] == ["100", "101", "101"]


async def test_a_silent_stream_hits_the_inactivity_timeout_and_reconnects_from_its_rv() -> None:
    transport = FakeTransport()
    transport.objects[PODS.path()] = [pod("a", "1")]
    transport.list_rv[PODS.path()] = "40"
    transport.scripts[PODS.path()] = [Script([event("ADDED", pod("b", "41"))], end=HANG)]
    sink = RecordingSink()
    clock = FakeClock()
    cfg = WatchConfig(inactivity_seconds=90)
    await run_until(
        infinite_watch(transport, PODS, sink, cfg, clock_of(clock)), lambda: len(transport.watch_calls) >= 2
    )
    assert 90 in clock.sleeps
    assert ("down", "InactivityTimeout") in sink.log
    assert transport.streams[0].closed
    assert transport.watch_calls == [(PODS.path(), "40"), (PODS.path(), "41")]


async def test_one_watchdog_per_stream_times_out_only_when_the_stream_is_silent() -> None:
    transport = FakeTransport()
    # A stream that talks for a while: 50 lines, a watchdog sleep of 5 between each few, never fires.
    transport.scripts[PODS.path()] = [
        Script([event("MODIFIED", pod("a", str(101 + i))) for i in range(50)], end=HANG)
    ]
    clock = FakeClock()
    cfg = WatchConfig(inactivity_seconds=5)
    got = []
    with pytest.raises(InactivityTimeout):
        async with contextlib.aclosing(watch_events(transport, PODS, "100", cfg, clock_of(clock))) as gen:
            async for e in gen:
                got.append(e.resource_version)
    assert got == [str(101 + i) for i in range(50)]  # every line, then the timeout in the silence
    assert set(clock.sleeps) == {5}  # the one deadline's sleeps, no timer per line
    assert transport.streams[0].closed
    assert not [t for t in asyncio.all_tasks() if "Watchdog" in repr(t.get_coro())]


async def test_a_stream_that_closes_at_once_does_not_spin() -> None:
    transport = FakeTransport()
    transport.objects[PODS.path()] = [pod("a", "1")]
    transport.scripts[PODS.path()] = [Script(end=EOF) for _ in range(5)]
    clock = FakeClock(rand=0.0)
    await run_until(
        infinite_watch(transport, PODS, RecordingSink(), WatchConfig(), clock_of(clock)),
        lambda: len(transport.watch_calls) >= 5,
    )
    assert clock.sleeps[:4] == [1, 2, 4, 8]


async def test_403_is_reported_and_retried_in_minutes_not_in_a_hot_loop() -> None:
    from tests.kube.fakes import forbidden

    transport = FakeTransport()
    transport.list_errors[SLICES.path()] = [
        forbidden("list", "endpointslices", "discovery.k8s.io", "default") for _ in range(6)
    ]
    sink = RecordingSink()
    clock = FakeClock(rand=0.0)
    cfg = WatchConfig(refused_base=60, refused_cap=600)
    await run_until(
        infinite_watch(transport, SLICES, sink, cfg, clock_of(clock)), lambda: len(clock.sleeps) >= 6
    )
    assert sink.of("refused")[:6] == [("list", 403)] * 6
    assert clock.sleeps[:6] == [60, 120, 240, 480, 600, 600]
    assert len(transport.list_calls) <= 7


async def test_a_refusal_the_sink_gives_up_on_ends_the_watch() -> None:
    from tests.kube.fakes import forbidden

    transport = FakeTransport()
    transport.list_errors[PODS.path()] = [forbidden("list", "pods", "", None)]
    sink = RecordingSink(refuse_returns=False)
    await infinite_watch(transport, PODS, sink, WatchConfig(), clock_of(FakeClock()))
    assert sink.log == [("refused", ("list", 403))]


def test_managed_fields_are_cut_before_parsing_and_nothing_else_changes() -> None:
    import json

    from app.sources.watching import strip_managed_fields
    from tests.paths import FIXTURES

    def without(doc: object) -> object:
        items = doc["items"] if "items" in doc else [doc["object"]]  # type: ignore[index,operator]
        for item in items:
            item["metadata"].pop("managedFields", None)
        return doc

    texts = [(FIXTURES / f"list-{p}.json").read_bytes() for p in ("pods", "services", "endpointslices")]
    texts += [(FIXTURES / f"list-{p}.json").read_bytes() for p in ("endpoints", "deployments", "replicasets")]
    texts += fixture_lines("watch-pods.jsonl") + fixture_lines("watch-endpoints.jsonl")
    for text in texts:
        cut = strip_managed_fields(text)
        assert json.loads(cut) == without(json.loads(text))
    pods = (FIXTURES / "list-pods.json").read_bytes()
    assert len(strip_managed_fields(pods)) < len(pods) * 0.7
    # Strings that look like the structure are escaped in JSON, so they are never taken for it.
    tricky = fixture_json("list-pods.json")["items"][0]
    tricky["metadata"]["annotations"] = {"note": '],"managedFields":[]},"spec":{}'}
    tricky["metadata"]["labels"]["x"] = "]},"
    tricky["metadata"]["managedFields"] = tricky["metadata"].pop("managedFields")  # last, as Go writes it
    line = json.dumps({"type": "MODIFIED", "object": tricky}, separators=(",", ":")).encode()
    assert strip_managed_fields(line) != line
    assert json.loads(strip_managed_fields(line)) == without(json.loads(line))
    # A shape it does not know (another field after managedFields) is left whole.
    odd = json.dumps(
        {"metadata": {"name": "a", "managedFields": [{"manager": "x"}], "zzz": 1}}, separators=(",", ":")
    ).encode()
    assert strip_managed_fields(odd) == odd
    event = parse_event(line)
    assert event is not None and "managedFields" not in event.obj["metadata"]
    assert event.obj["metadata"]["annotations"]["note"].startswith("]")
