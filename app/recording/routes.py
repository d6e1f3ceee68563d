"""HTTP controls for record and replay: /api/replay (play, pause, speed, seek) and /api/record
(start, stop). Answers like the action endpoints: JSON state, or 4xx {"error": "..."}."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.jsonbody import BodyError, json_object
from app.recording.format import RecordingError
from app.recording.recorder import Recorder
from app.sources.replay import ReplaySource

NO_STORE = {"Cache-Control": "no-store"}
NOT_REPLAYING = "not replaying: start slicescope with --replay FILE"
NOT_RECORDING = "recording is not available in this session"
# A name typed on the page: a plain file name in the recordings folder, never a path.
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=NO_STORE)


def _ok(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(data, headers=NO_STORE)


async def _body(request: Request) -> dict[str, Any]:
    try:
        return await json_object(request, empty={})
    except BodyError as e:
        raise BadRequest(400, str(e)) from None


def _field(body: dict[str, Any], name: str) -> Any:
    if name not in body:
        raise BadRequest(400, f'"{name}" is required')
    return body[name]


def replay_router(get_replay: Callable[[], ReplaySource | None]) -> APIRouter:
    """GET /api/replay, POST /api/replay/play, /pause, /speed {"speed": x}, /seek {"position": s};
    each answers the replay's state(). 404 when the app is not replaying."""
    router = APIRouter()

    async def control(request: Request | None, act: Callable[[ReplaySource, dict[str, Any]], Any]):
        replay = get_replay()
        if replay is None:
            return _error(404, NOT_REPLAYING)
        try:
            body = await _body(request) if request is not None else {}
            return _ok(act(replay, body))
        except BadRequest as e:
            return _error(e.status, e.message)
        except ValueError as e:
            return _error(400, str(e))

    @router.get("/api/replay")
    async def replay_state():
        return await control(None, lambda r, _: r.state())

    @router.post("/api/replay/play")
    async def play():
        return await control(None, lambda r, _: r.play())

    @router.post("/api/replay/pause")
    async def pause():
        return await control(None, lambda r, _: r.pause())

    @router.post("/api/replay/speed")
    async def speed(request: Request):
        return await control(request, lambda r, b: r.set_speed(_field(b, "speed")))

    @router.post("/api/replay/seek")
    async def seek(request: Request):
        return await control(request, lambda r, b: r.seek(_field(b, "position")))

    return router


def recording_name(name: Any, now: float | None = None) -> str:
    """The file name for a recording started from the page: the one given (a plain name; .jsonl
    added when it has no extension) or slicescope-YYYYmmdd-HHMMSS.jsonl."""
    if name is None or name == "":
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
        return f"slicescope-{stamp}.jsonl"
    if not isinstance(name, str) or not _FILE_NAME.match(name) or ".." in name:
        raise BadRequest(
            400, "path must be a plain file name (letters, digits, '.', '_', '-'), not a folder or a path"
        )
    return name if "." in name else f"{name}.jsonl"


def record_router(get_recorder: Callable[[], Recorder | None], directory: str | Path = ".") -> APIRouter:
    """GET /api/record, POST /api/record/start {"path": name?}, POST /api/record/stop; each answers the
    recorder's status(). A name from the page is a file name inside `directory`, never a path."""
    router = APIRouter()
    folder = Path(directory).expanduser()

    @router.get("/api/record")
    async def record_state():
        recorder = get_recorder()
        if recorder is None:
            return _error(404, NOT_RECORDING)
        return _ok(recorder.status())

    @router.post("/api/record/start")
    async def start(request: Request):
        recorder = get_recorder()
        if recorder is None:
            return _error(404, NOT_RECORDING)
        try:
            body = await _body(request)
            name = recording_name(body.get("path"))
            if recorder.recording:
                raise BadRequest(409, f"already recording to {recorder.status()['path']}; stop that first")
            return _ok(recorder.start(folder / name))
        except BadRequest as e:
            return _error(e.status, e.message)
        except RecordingError as e:
            return _error(500, str(e))

    @router.post("/api/record/stop")
    async def stop():
        recorder = get_recorder()
        if recorder is None:
            return _error(404, NOT_RECORDING)
        return _ok(recorder.stop())

    return router
