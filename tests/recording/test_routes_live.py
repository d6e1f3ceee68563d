"""The record and replay HTTP controls on a real uvicorn, in a small app built around the routers:
seek, speed, play to the end, pause, and recording the replay itself from the "button"."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.recording import Recorder, read_recording
from app.recording.routes import record_router, replay_router
from app.sources.replay import ReplaySource
from tests.fixtures_app import wait_for
from tests.live_server import live_server
from tests.recording import FakeTime, Session, Watcher, record_lesson


def tiny_app(recording: Path, folder: Path) -> FastAPI:
    """A replay feeding a view engine through a recorder, with both routers and GET /views."""
    replay = ReplaySource.open(recording, playing=False)
    watcher = Watcher(replay.info)
    recorder = Recorder(replay.info, opening=watcher.engine.opening_items)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(replay.run(recorder.tap(watcher.apply)))
        await asyncio.sleep(0)
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            recorder.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(replay_router(lambda: replay))
    app.include_router(record_router(lambda: recorder, directory=folder))

    @app.get("/views")
    async def views() -> dict[str, Any]:
        return watcher.current()

    return app


def plain(views: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(views))


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return record_lesson(tmp_path_factory.mktemp("rec") / "lesson.jsonl")


def test_replay_and_record_controls_over_http(session: Session, tmp_path: Path) -> None:
    with live_server(tiny_app(session.path, tmp_path)) as base, httpx.Client(base_url=base) as http:
        state = http.get("/api/replay").json()
        assert state == {
            "playing": False,
            "speed": 1.0,
            "position": 0,
            "duration": pytest.approx(session.times[-1], abs=1e-3),
            "stoppedAt": None,
        }
        assert http.get("/views").json()["pods"] == {}

        probe = session.marks["probe"]
        r = http.post("/api/replay/seek", json={"position": probe})
        assert r.status_code == 200 and r.json()["position"] == pytest.approx(probe)
        assert http.get("/views").json() == plain(session.view_at(probe))

        # record the replay from here, as the page's button does
        r = http.post("/api/record/start", json={"path": "../evil"})
        assert r.status_code == 400 and "plain file name" in r.json()["error"]
        r = http.post("/api/record/start", json={"path": "class-demo"})
        assert r.status_code == 200, r.text
        assert r.json()["recording"] is True and r.json()["path"] == str(tmp_path / "class-demo.jsonl")
        r = http.post("/api/record/start", json={})
        assert r.status_code == 409 and "already recording" in r.json()["error"]

        for body, error in (
            ({"speed": 0}, "speed must be between 0.1 and 100, not 0"),
            ({}, '"speed" is required'),
            ({"speed": "fast"}, "speed must be a number, not 'fast'"),
        ):
            r = http.post("/api/replay/speed", json=body)
            assert (r.status_code, r.json()) == (400, {"error": error})
        r = http.post("/api/replay/speed", content=b"nope")
        assert r.status_code == 400 and "not JSON" in r.json()["error"]
        assert http.post("/api/replay/speed", json={"speed": 100}).json()["speed"] == 100

        assert http.post("/api/replay/play").json()["playing"] is True
        end = wait_for(
            lambda: (s := http.get("/api/replay").json())["playing"] is False and s, what="the replay's end"
        )
        assert end["position"] == end["duration"]
        assert http.get("/views").json() == plain(session.views[-1])
        assert http.post("/api/replay/pause").json()["playing"] is False

        stopped = http.post("/api/record/stop").json()
        assert stopped["recording"] is False and stopped["items"] > 10
        assert http.get("/api/record").json() == stopped

    # the recording of the replay starts at the seek point and ends where the lesson ended
    rec = read_recording(tmp_path / "class-demo.jsonl")
    assert rec.stopped_at is None and rec.header.cluster.mode == "replay"
    fake = FakeTime()
    again = ReplaySource(rec, clock=fake.clock, sleep=fake.sleep, playing=True)
    watcher = Watcher(again.info)
    again.attach(watcher.apply)
    again.pump()
    assert watcher.current() == session.view_at(probe)
    fake.now += 10_000
    again.pump()
    assert watcher.current() == session.views[-1]


def test_without_a_replay_or_recorder_the_routes_say_so() -> None:
    app = FastAPI()
    app.include_router(replay_router(lambda: None))
    app.include_router(record_router(lambda: None))
    with live_server(app) as base, httpx.Client(base_url=base) as http:
        r = http.get("/api/replay")
        assert r.status_code == 404
        assert r.json() == {"error": "not replaying: start slicescope with --replay FILE"}
        assert http.post("/api/replay/seek", json={"position": 3}).status_code == 404
        r = http.post("/api/record/start", json={})
        assert r.status_code == 404 and "recording is not available" in r.json()["error"]
