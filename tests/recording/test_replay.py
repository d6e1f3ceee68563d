"""ReplaySource: a recorded SimCluster session replayed into a fresh view engine gives the same views as
live, step by step; pause, speed and seek (back and forth, no ghosts) on a fake clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.recording import read_recording
from app.sources.replay import ReplaySource
from tests.recording import FakeTime, Session, Watcher, record_lesson, settle


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return record_lesson(tmp_path_factory.mktemp("rec") / "lesson.jsonl")


def test_the_session_shows_the_lesson_steps(session: Session) -> None:
    """Guard against a vacuous comparison: the live views went through every step."""
    names = session.names
    relabelled = f"default/{names['relabelled']}"
    after_relabel = session.view_at(session.marks["probe"])
    assert after_relabel["pods"][relabelled]["labels"]["app"] == "debug"
    assert after_relabel["pods"][relabelled]["services"] == []
    failing = session.view_at(session.marks["delete"])["pods"][f"default/{names['failing']}"]
    assert failing["ready"] is False
    assert f"default/{names['deleted']}" in session.view_at(session.marks["delete"])["pods"]
    assert f"default/{names['deleted']}" not in session.views[-1]["pods"]
    assert len(session.views) == len(read_recording(session.path).entries) > 20


async def test_replay_gives_the_same_views_as_live_at_every_step(session: Session) -> None:
    recording = read_recording(session.path)
    assert recording.stopped_at is None
    fake = FakeTime()
    replay = ReplaySource(recording, clock=fake.clock, sleep=fake.sleep, playing=True)
    assert replay.info.mode == "replay" and replay.info.name == "lesson.jsonl"
    assert replay.info.extra == {"recorded": "simulated cluster"}
    watcher = Watcher(replay.info, now=replay.now)
    task = asyncio.create_task(replay.run(watcher.apply))
    try:
        await settle(lambda: not replay.state()["playing"])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert watcher.views == session.views
    state = replay.state()
    assert state["position"] == state["duration"] == pytest.approx(session.times[-1], abs=1e-3)
    # real time spent equals recorded time at speed 1: items came at their recorded times
    assert fake.now - 100.0 == pytest.approx(session.times[-1])


async def test_speed_scales_the_time_between_items(session: Session) -> None:
    fake = FakeTime()
    replay = ReplaySource(
        read_recording(session.path), clock=fake.clock, sleep=fake.sleep, speed=4, playing=True
    )
    watcher = Watcher(replay.info, now=replay.now)
    task = asyncio.create_task(replay.run(watcher.apply))
    try:
        await settle(lambda: not replay.state()["playing"])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert watcher.views == session.views
    assert fake.now - 100.0 == pytest.approx(session.times[-1] / 4)


def test_pause_holds_the_position_and_play_goes_on(session: Session) -> None:
    fake = FakeTime()
    replay = ReplaySource(read_recording(session.path), clock=fake.clock, sleep=fake.sleep, playing=True)
    watcher = Watcher(replay.info, now=replay.now)
    replay.attach(watcher.apply)
    replay.pump()
    relabel = session.marks["relabel"]
    fake.now += relabel + 5
    replay.pump()
    assert watcher.current() == session.view_at(relabel + 5)

    assert replay.pause()["playing"] is False
    seen = len(watcher.items)
    fake.now += 1000
    replay.pump()
    assert len(watcher.items) == seen
    assert replay.state()["position"] == pytest.approx(relabel + 5)

    replay.play()
    fake.now += 10
    replay.pump()
    assert replay.state()["position"] == pytest.approx(relabel + 15)
    assert watcher.current() == session.view_at(relabel + 15)

    assert replay.now() == read_recording(session.path).header.started + relabel + 15

    replay.set_speed(2)
    fake.now += 10
    replay.pump()
    assert replay.state() == {
        "playing": True,
        "speed": 2.0,
        "position": pytest.approx(relabel + 35),
        "duration": pytest.approx(session.times[-1]),
        "stoppedAt": None,
    }
    assert watcher.current() == session.view_at(relabel + 35)
    with pytest.raises(ValueError, match="speed must be between"):
        replay.set_speed(0)
    with pytest.raises(ValueError, match="speed must be a number"):
        replay.set_speed("fast")


def test_seek_rebuilds_the_state_without_ghosts(session: Session) -> None:
    fake = FakeTime()
    replay = ReplaySource(read_recording(session.path), clock=fake.clock, sleep=fake.sleep, playing=True)
    watcher = Watcher(replay.info, now=replay.now)
    replay.attach(watcher.apply)
    fake.now += 10_000
    replay.pump()
    assert watcher.current() == session.views[-1]
    assert replay.state()["playing"] is False  # stopped at the end

    deleted = f"default/{session.names['deleted']}"
    before_delete = session.marks["delete"] - 0.5
    replay.seek(before_delete)
    assert watcher.current() == session.view_at(before_delete)
    assert deleted in watcher.current()["pods"]

    replay.seek(0)  # before the lesson: no pods at all, only the kubernetes Service
    assert watcher.current() == session.view_at(0)
    assert watcher.current()["pods"] == {}
    assert list(watcher.current()["services"]) == ["default/kubernetes"]

    replay.seek(session.marks["end"])  # the deleted pod is gone again, nothing left behind
    assert watcher.current() == session.views[-1]
    assert deleted not in watcher.current()["pods"]


def test_seek_back_then_play_forward_equals_straight_play(session: Session) -> None:
    fake = FakeTime()
    replay = ReplaySource(read_recording(session.path), clock=fake.clock, sleep=fake.sleep, playing=True)
    watcher = Watcher(replay.info, now=replay.now)
    replay.attach(watcher.apply)
    fake.now += session.marks["delete"] + 5
    replay.pump()
    replay.seek(session.marks["relabel"] - 1)
    assert watcher.current() == session.view_at(session.marks["relabel"] - 1)
    for step in (3, 7, 20, 40, 500):
        fake.now += step
        replay.pump()
        assert watcher.current() == session.view_at(replay.state()["position"])
    assert watcher.current() == session.views[-1]

    replay.play()  # play at the end starts again from the beginning
    assert replay.state()["position"] == 0
    assert watcher.current() == session.view_at(0)


def test_seek_before_run_starts_there(session: Session) -> None:
    fake = FakeTime()
    replay = ReplaySource(read_recording(session.path), clock=fake.clock, sleep=fake.sleep, playing=False)
    replay.seek(session.marks["probe"])
    watcher = Watcher(replay.info, now=replay.now)
    replay.attach(watcher.apply)
    replay.pump()
    assert watcher.current() == session.view_at(session.marks["probe"])
    with pytest.raises(ValueError, match="position"):
        replay.seek("soon")


def test_a_recording_started_mid_session_plays_on_its_own(tmp_path: Path) -> None:
    session = record_lesson(tmp_path / "button.jsonl", record_from_start=False)
    recording = read_recording(session.path)
    assert recording.entries[0].t == 0 and recording.stopped_at is None
    fake = FakeTime()
    replay = ReplaySource(recording, clock=fake.clock, sleep=fake.sleep, playing=True)
    watcher = Watcher(replay.info, now=replay.now)
    replay.attach(watcher.apply)
    replay.pump()
    assert watcher.current() == session.view_at(0)
    assert len(watcher.current()["pods"]) >= 7  # began with the running lesson, not an empty cluster
    fake.now += session.marks["delete"] + 1
    replay.pump()
    assert watcher.current() == session.view_at(session.marks["delete"] + 1)
    fake.now += 10_000
    replay.pump()
    assert watcher.current() == session.views[-1]


def test_a_seek_to_zero_keeps_the_opening_lists_written_just_after_the_start(tmp_path: Path) -> None:
    """A --record session writes the source's first status and lists a few ms after t=0: they are
    the state at the start of the recording, so seeking to 0 must not show an empty cluster."""
    import json

    svc = {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    lines = [
        {"slicescope-recording": 1, "cluster": {"mode": "sim", "name": "simulated cluster"}, "started": 1.0},
        {"t": 0.002, "item": "status", "state": "live", "message": "", "since": 1.0, "problems": []},
        {"t": 0.003, "item": "resync", "kind": "Service", "namespace": None, "objs": [svc]},
        {"t": 5.0, "item": "change", "type": "DELETED", "kind": "Service", "obj": svc},
    ]
    path = tmp_path / "opening.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    fake = FakeTime()
    replay = ReplaySource(read_recording(path), clock=fake.clock, sleep=fake.sleep, playing=False)
    watcher = Watcher(replay.info, now=replay.now)
    replay.attach(watcher.apply)
    replay.seek(5.0)
    assert watcher.current()["services"] == {}
    replay.seek(0)
    assert list(watcher.current()["services"]) == ["default/web"]
