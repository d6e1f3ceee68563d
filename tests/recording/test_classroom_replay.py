"""The lesson panel's state is recorded with the cluster and replayed: a recording started mid-lesson
begins with it, every change comes back at its time, a seek shows the one in force then (none before
the lesson), nobody presents in a replay, and a replay opens paused at its start."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from app.recording import Recorder, read_recording
from app.recording.format import ClassroomNote, item_line, parse_item
from app.sim.clock import SimClock
from app.sim.cluster import SimCluster
from app.sources.replay import ReplaySource
from app.sources.sim import SimSource
from tests.recording import FakeTime, Watcher, settle


def lesson_state(step: int, busy: bool) -> dict[str, Any]:
    return {
        "presenting": True,
        "scenario": {
            "name": "endpoints-basics",
            "step": step,
            "total": 7,
            "busy": busy,
            "narration": f"step {step}",
        },
    }


def record_a_lesson(path: Path) -> tuple[list[tuple[float, dict[str, Any]]], list[dict[str, Any]]]:
    """The built-in cluster with a lesson under way before the recording starts, then two more lesson
    states and changes to the cluster. Returns (offset, state) of each state recorded, and the live
    view when the recording began and at its end."""
    clock = SimClock()
    cluster = SimCluster(clock)
    cluster.start()
    source = SimSource(cluster)
    live = Watcher(source.info, now=clock.now)
    recorder = Recorder(source.info, clock=clock.now, opening=live.engine.opening_items)
    unsubscribe = source.start(recorder.tap(live.apply))
    notes: list[tuple[float, dict[str, Any]]] = []
    try:
        cluster.load_lesson()
        cluster.run_for(30)
        recorder.note_classroom(lesson_state(1, False))  # step 1 shown before anyone records
        started = clock.now()
        recorder.start(path)
        at_start = live.current()
        notes.append((0.0, lesson_state(1, False)))
        cluster.run_for(10)
        recorder.note_classroom(lesson_state(2, True))
        notes.append((clock.now() - started, lesson_state(2, True)))
        pod = sorted(p["metadata"]["name"] for p in cluster.store.list("Pod", "default"))[0]
        cluster.set_pod_labels("default", pod, {"app": "debug"})
        cluster.run_for(20)
        recorder.note_classroom(lesson_state(2, False))
        notes.append((clock.now() - started, lesson_state(2, False)))
        cluster.run_for(5)
    finally:
        unsubscribe()
        recorder.stop()
    return notes, [at_start, live.current()]


def shown(state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "presenting": False}


def test_a_classroom_note_reads_back_and_refuses_a_bad_value() -> None:
    note = ClassroomNote(lesson_state(3, False))
    assert parse_item(json.loads(item_line(1.5, note))) == (1.5, note)
    assert parse_item({"t": 2, "item": "classroom", "value": None}) == (2.0, ClassroomNote(None))
    try:
        parse_item({"t": 2, "item": "classroom", "value": [1]})
    except ValueError as e:
        assert "must be an object or null" in str(e)
    else:
        raise AssertionError("a list was taken as a classroom state")


def test_the_recording_holds_the_lesson_states_at_their_times(tmp_path: Path) -> None:
    path = tmp_path / "lesson.jsonl"
    notes, _ = record_a_lesson(path)
    recorded = [
        (e.t, e.item.value) for e in read_recording(path).entries if isinstance(e.item, ClassroomNote)
    ]
    assert recorded == notes
    # the one in force when recording began comes with the opening state, at 0
    first = next(i for i, e in enumerate(read_recording(path).entries) if isinstance(e.item, ClassroomNote))
    assert all(e.t == 0.0 for e in read_recording(path).entries[: first + 1])


async def test_a_replay_opens_paused_at_the_start_and_plays_the_lesson(tmp_path: Path) -> None:
    path = tmp_path / "lesson.jsonl"
    notes, views = record_a_lesson(path)
    fake = FakeTime()
    got: list[dict[str, Any] | None] = []
    replay = ReplaySource(read_recording(path), clock=fake.clock, sleep=fake.sleep, on_classroom=got.append)
    watcher = Watcher(replay.info, now=replay.now)
    task = asyncio.create_task(replay.run(watcher.apply))
    try:
        await settle(lambda: bool(got))
        assert replay.state()["playing"] is False and replay.state()["position"] == 0
        for _ in range(50):  # paused: nothing more comes however long one waits
            await asyncio.sleep(0)
        assert got == [shown(notes[0][1])] and fake.now == 100.0
        assert watcher.current() == views[0]  # the state at the start is drawn, and only that

        replay.play()
        await settle(lambda: not replay.state()["playing"])
        assert got == [shown(state) for _, state in notes]
        assert watcher.current() == views[-1]

        # a seek shows the lesson state in force then; none before the first
        replay.seek((notes[1][0] + notes[2][0]) / 2)
        await settle(lambda: got[-1] == shown(notes[1][1]))
        replay.seek(0)
        await settle(lambda: got[-1] == shown(notes[0][1]))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_recording_without_a_lesson_shows_none_after_a_seek(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    clock = SimClock()
    cluster = SimCluster(clock)
    cluster.start()
    source = SimSource(cluster)
    recorder = Recorder(source.info, clock=clock.now)
    recorder.start(path)
    unsubscribe = source.start(recorder.tap(lambda item: None))
    cluster.load_lesson()
    cluster.run_for(30)
    unsubscribe()
    recorder.stop()
    got: list[dict[str, Any] | None] = ["before"]  # type: ignore[list-item]
    fake = FakeTime()
    replay = ReplaySource(read_recording(path), clock=fake.clock, sleep=fake.sleep, on_classroom=got.append)
    task = asyncio.create_task(replay.run(lambda item: None))
    try:
        replay.seek(5)
        await settle(lambda: len(got) > 1)
        assert got[1:] == [None]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_only_a_changed_classroom_state_is_written(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    clock = SimClock()
    recorder = Recorder(SimSource(SimCluster(clock)).info, clock=clock.now)
    recorder.start(path)
    recorder.note_classroom(None)  # no lesson at start: nothing to play back
    recorder.note_classroom(lesson_state(1, True))
    recorder.note_classroom(lesson_state(1, True))  # published again, unchanged
    recorder.note_classroom(lesson_state(1, False))
    recorder.note_classroom(None)  # the lesson stopped
    recorder.stop()
    notes = [e.item.value for e in read_recording(path).entries if isinstance(e.item, ClassroomNote)]
    assert notes == [lesson_state(1, True), lesson_state(1, False), None]
