"""Shared helpers for tests that need the whole app: settings for tests, a live uvicorn serving
create_app, an in-process client with the lifespan running, and polling with a deadline."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import httpx

from app.settings import Settings
from tests.live_server import live_server

T = TypeVar("T")

# Fast enough that the lesson's pods are ready within about a second of real time.
TEST_DEFAULTS: dict[str, Any] = {"sim_speed": 50.0, "tick_seconds": 0.02, "ping_seconds": 5.0}


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: a fast simulated cluster, quick ticks; any field can be overridden."""
    return dataclasses.replace(Settings(), **{**TEST_DEFAULTS, **overrides})


@contextlib.contextmanager
def running_app(
    settings: Settings | None = None, *, send_buffer: int | None = None, **create_kwargs: Any
) -> Iterator[str]:
    """A live uvicorn on 127.0.0.1:<free port> serving create_app(settings); yields the base URL.
    The app is on `running_app.last_app` too (e.g. to look at its hub); kwargs go to create_app;
    `send_buffer` as in live_server."""
    from app.server import create_app

    app = create_app(settings or make_settings(), **create_kwargs)
    running_app.last_app = app  # type: ignore[attr-defined]
    with live_server(app, send_buffer=send_buffer) as base:
        yield base


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings | None = None, **create_kwargs: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to create_app in-process (no streams), with the lifespan running.
    The app is `client.app`."""
    from app.server import create_app

    app = create_app(settings or make_settings(), **create_kwargs)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def wait_for(
    fn: Callable[[], T | None], *, timeout: float = 60.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll fn until it returns something truthy, or fail after `timeout` seconds (wall time)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or fn}; last value {last!r}")


async def await_for(
    fn: Callable[[], Any], *, within: float = 60.0, interval: float = 0.02, what: str = ""
) -> Any:
    """wait_for for async tests: fn may be sync or return an awaitable."""
    import asyncio
    import inspect

    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within}s waiting for {what or fn}; last value {last!r}")


def apply_message(model: dict[str, Any] | None, event: str, data: dict[str, Any]) -> dict[str, Any]:
    """The browser's reducer (docs/view-model.md) in Python: a snapshot replaces the model,
    a delta must be the next seq and its ops are applied in order."""
    if event == "snapshot":
        return json.loads(json.dumps(data))
    assert model is not None, "a delta before any snapshot"
    assert data["seq"] == model["seq"] + 1, f"delta {data['seq']} does not follow {model['seq']}"
    model = {**model, "seq": data["seq"]}
    for op in data["ops"]:
        kind = op["op"]
        if kind == "put":
            model[op["coll"]] = {**model[op["coll"]], op["key"]: op["value"]}
        elif kind == "del":
            coll = dict(model[op["coll"]])
            coll.pop(op["key"], None)
            model[op["coll"]] = coll
        elif kind == "timeline":
            limit = model["meta"].get("timelineLimit", 200)
            model["timeline"] = [op["entry"], *model["timeline"]][:limit]
        elif kind == "meta":
            model["meta"] = op["value"]
        else:
            raise AssertionError(f"unknown op {op!r}")
    return model


class SSEReader:
    """Reads server-sent events from a streaming httpx response, one event at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()
        self.comments: list[str] = []

    def next_event(self, *, comments: bool = False) -> dict[str, Any]:
        """{"event", "id", "data"} of the next event. Comments (pings) are collected in
        self.comments, and also returned as {"comment": text} when `comments` is true."""
        event: dict[str, Any] = {"event": "message", "id": None, "data": []}
        for line in self._lines:
            if line == "":
                if event["data"] or event["id"] is not None:
                    event["data"] = "\n".join(event["data"])
                    return event
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                if comments:
                    return {"comment": line[1:].strip()}
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                event["data"].append(value)
            elif name in ("event", "id"):
                event[name] = value
        raise EOFError("the stream ended")

    def next_json(self) -> tuple[str, int, dict[str, Any]]:
        ev = self.next_event()
        return ev["event"], int(ev["id"].rpartition(".")[2]), json.loads(ev["data"])  # id: <instance>.<seq>
