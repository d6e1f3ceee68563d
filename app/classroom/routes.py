"""HTTP controls of classroom scenarios: GET /api/scenarios, POST /api/scenarios/start {"name"},
/next, /back, /restart, /stop. Each answers the ScenarioState (null after stop), or 4xx {"error"}."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.classroom.session import ScenarioSession, SessionProblem
from app.jsonbody import BodyError, json_object

NO_STORE = {"Cache-Control": "no-store"}


def _error(status: int, message: str, code: str | None = None) -> JSONResponse:
    body = {"error": message, **({"code": code} if code else {})}
    return JSONResponse(body, status_code=status, headers=NO_STORE)


async def _body(request: Request) -> dict[str, Any]:
    try:
        return await json_object(request, empty={})
    except BodyError as e:
        raise SessionProblem(400, str(e)) from None


def scenario_router(session: ScenarioSession) -> APIRouter:
    router = APIRouter(prefix="/api/scenarios")

    async def answer(act: Callable[[], Awaitable[dict[str, Any] | None]]) -> JSONResponse:
        try:
            return JSONResponse(await act(), headers=NO_STORE)
        except SessionProblem as e:
            return _error(e.status, e.message, e.code)

    @router.get("")
    async def listing() -> JSONResponse:
        return JSONResponse(session.listing(), headers=NO_STORE)

    @router.post("/start")
    async def start(request: Request) -> JSONResponse:
        async def act() -> dict[str, Any] | None:
            return await session.start((await _body(request)).get("name"))

        return await answer(act)

    @router.post("/next")
    async def step_next() -> JSONResponse:
        return await answer(session.next)

    @router.post("/back")
    async def back() -> JSONResponse:
        return await answer(session.back)

    @router.post("/restart")
    async def restart() -> JSONResponse:
        return await answer(session.restart)

    @router.post("/stop")
    async def stop() -> JSONResponse:
        return await answer(session.stop)

    return router
