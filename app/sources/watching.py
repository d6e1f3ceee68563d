"""The list+watch loop for one kind (in one namespace, or all), in small layers modelled on kopf's
watching: list (paged) -> watch from the list's resourceVersion with bookmarks -> relist on 410 ->
back off and resume on errors; an inactivity timeout catches a silently dead stream.

Pure of HTTP: a `Transport` brings JSON and raw watch lines, a `WatchSink` takes the results, and
time comes from a `Clock` (tests pass fakes, so nothing here sleeps for real in unit tests)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from app.kinds import KindInfo
from app.sources.backoff import Backoff

log = logging.getLogger(__name__)

Obj = dict[str, Any]


# ---------------------------------------------------------------------------------------------------
# What is watched, and what can go wrong


@dataclass(frozen=True, slots=True)
class Target:
    """One watch: a kind, in one namespace or (None) in all of them / cluster-scoped."""

    kind: KindInfo
    namespace: str | None = None

    def path(self) -> str:
        k = self.kind
        base = f"/apis/{k.group}/{k.version}" if k.group else f"/api/{k.version}"
        if k.namespaced and self.namespace is not None:
            base += f"/namespaces/{quote(self.namespace, safe='')}"
        return f"{base}/{k.plural}"

    def __str__(self) -> str:
        if self.kind.namespaced and self.namespace is not None:
            return f"{self.kind.plural} in namespace {self.namespace}"
        return self.kind.plural


class ApiError(Exception):
    """The API server answered with an error status (an HTTP error or an ERROR watch event)."""

    def __init__(self, status: int, reason: str = "", message: str = "") -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}".strip())
        self.status = status
        self.reason = reason
        self.message = message

    @classmethod
    def from_status(cls, obj: Any, status: int = 0, reason: str = "") -> ApiError:
        """From a metav1.Status object (or whatever came instead of one)."""
        if isinstance(obj, dict):
            code = obj.get("code")
            return cls(
                code if isinstance(code, int) else status,
                str(obj.get("reason") or reason),
                str(obj.get("message") or ""),
            )
        return cls(status, reason, str(obj or "")[:300])


class Expired(Exception):
    """410: the resourceVersion (or a list's continue token) is too old; relist."""


class ConnectionProblem(Exception):
    """The server could not be reached, or the connection broke mid-stream."""


class InactivityTimeout(Exception):
    """Nothing arrived on a watch stream for longer than the server should ever stay silent."""


def describe_error(error: BaseException) -> str:
    """A short human description for the `reconnecting` banner."""
    if isinstance(error, ApiError | InactivityTimeout | ConnectionProblem) and str(error):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


# ---------------------------------------------------------------------------------------------------
# Interfaces


class LineStream(Protocol):
    """An open watch response: one raw JSON line per call, None at the end of the stream."""

    async def next_line(self) -> bytes | str | None: ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    """Blocking HTTP made awaitable. Errors: ApiError for a non-2xx answer, ConnectionProblem otherwise."""

    async def list(self, target: Target, *, limit: int, cont: str | None) -> Obj: ...

    async def watch(self, target: Target, *, resource_version: str, timeout_seconds: int) -> LineStream: ...


class WatchSink(Protocol):
    """Where one watch loop reports (the source's supervisor)."""

    def listed(self, target: Target, objs: list[Obj]) -> None: ...

    def changed(self, target: Target, type_: str, obj: Obj) -> None: ...

    def up(self, target: Target) -> None: ...

    def down(self, target: Target, error: BaseException) -> None: ...

    def refused(self, target: Target, verb: str, error: ApiError) -> bool:
        """Record a lasting refusal (401/403/404); False stops this watch (e.g. replaced by narrower ones)."""
        ...


@dataclass(frozen=True)
class Clock:
    """Wall time, sleeping and randomness, injectable so tests never wait."""

    now: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    rand: Callable[[], float] = random.random


@dataclass(frozen=True)
class WatchConfig:
    page_size: int = 500
    # Server-side stream length; client-go picks 5-10 minutes at random. The server closes the
    # stream then, and we watch again from the last resourceVersion.
    timeout_seconds: int = 300
    # No byte at all for this long means the stream is dead even if TCP did not notice
    # (the server closes every stream after timeout_seconds, and sends bookmarks in between).
    inactivity_seconds: float | None = 330.0
    # A stream that ends this fast with no event counts as a failure, so it cannot spin.
    quick_close_seconds: float = 1.0
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    backoff_jitter: float = 0.5
    # 401/403/404 will not fix themselves in a second: retry in minutes, keep the message up.
    refused_base: float = 60.0
    refused_cap: float = 600.0


# ---------------------------------------------------------------------------------------------------
# Layer 1: objects and events


def normalize(obj: Obj, kind: KindInfo) -> Obj:
    """List items carry no kind/apiVersion (watch objects do): add them, so every object looks the
    same downstream; drop managedFields, which nobody here reads and which doubles the memory."""
    obj.setdefault("kind", kind.kind)
    obj.setdefault("apiVersion", kind.api_version)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
    obj: Obj
    resource_version: str | None


def parse_event(line: bytes | str) -> WatchEvent | None:
    """One watch line -> event; None for a blank or unreadable line (logged, never fatal)."""
    if not line or not line.strip():
        return None
    try:
        data = json.loads(line)
    except ValueError:
        log.warning("skipping a watch line that is not JSON: %.200r", line)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        log.warning("skipping a watch line that is not an event: %.200r", line)
        return None
    obj = data.get("object")
    if not isinstance(obj, dict):
        obj = {}
    meta = obj.get("metadata")
    rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return WatchEvent(data["type"], obj, rv if isinstance(rv, str) and rv else None)


# ---------------------------------------------------------------------------------------------------
# Layer 2: a paged list


async def list_all(transport: Transport, target: Target, page_size: int) -> tuple[list[Obj], str]:
    """Every object of the target, page by page (limit/continue); returns them with the list's
    resourceVersion. An expired continue token (410) starts the list again, once."""
    for attempt in range(2):
        items: list[Obj] = []
        cont: str | None = None
        rv = ""
        try:
            while True:
                page = await transport.list(target, limit=page_size, cont=cont)
                if not isinstance(page, dict):
                    raise ApiError(500, "BadList", "the list answer is not a JSON object")
                for item in page.get("items") or ():
                    if isinstance(item, dict):
                        items.append(normalize(item, target.kind))
                meta = page.get("metadata") or {}
                rv = str(meta.get("resourceVersion") or rv)
                cont = meta.get("continue") or None
                if not cont:
                    return items, rv
        except ApiError as e:
            if e.status == 410 and cont is not None and attempt == 0:
                log.info("continue token for %s expired; listing again", target)
                continue
            raise
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------------------------
# Layer 3: one watch stream


async def read_line(
    stream: LineStream, limit: float | None, sleep: Callable[[float], Awaitable[object]]
) -> bytes | str | None:
    """The next line, or InactivityTimeout if `sleep(limit)` finishes first (injectable sleep, so
    tests need no real time; asyncio.timeout would tie it to the loop's clock)."""
    timeout = limit
    if timeout is None:
        return await stream.next_line()
    line_task = asyncio.ensure_future(stream.next_line())
    timer = asyncio.ensure_future(sleep(timeout))
    try:
        await asyncio.wait({line_task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (line_task, timer):
            if not t.done():
                t.cancel()
        # Reap both so nothing is left pending (and cancellation of us still propagates).
        await asyncio.gather(line_task, timer, return_exceptions=True)
    if line_task.done() and not line_task.cancelled():
        return line_task.result()
    if timer.done() and not timer.cancelled():
        raise InactivityTimeout(f"no data for {timeout:g} s: the watch stream looks dead")
    raise asyncio.CancelledError


async def watch_events(
    transport: Transport,
    target: Target,
    resource_version: str,
    cfg: WatchConfig,
    clock: Clock,
    on_open: Callable[[], None] | None = None,
) -> AsyncIterator[WatchEvent]:
    """Events of one watch stream from `resource_version` until the server ends it. BOOKMARKs are
    yielded (they only move the resourceVersion); an ERROR event raises Expired for 410, ApiError
    otherwise. The stream is always closed, also on cancellation."""
    try:
        stream = await transport.watch(
            target, resource_version=resource_version, timeout_seconds=cfg.timeout_seconds
        )
    except ApiError as e:
        if e.status == 410:
            raise Expired(e.message or str(e)) from e
        raise
    try:
        if on_open is not None:
            on_open()
        while True:
            line = await read_line(stream, cfg.inactivity_seconds, clock.sleep)
            if line is None:
                return
            event = parse_event(line)
            if event is None:
                continue
            if event.type == "ERROR":
                err = ApiError.from_status(event.obj, 500, "WatchError")
                if err.status == 410:
                    raise Expired(err.message or "resource version too old")
                raise err
            if event.type not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
                log.warning("skipping a watch event of unknown type %r", event.type)
                continue
            yield event
    finally:
        await stream.aclose()


# ---------------------------------------------------------------------------------------------------
# Layer 4: list, watch, relist on 410, resume after errors; forever


REFUSALS = (401, 403, 404)


async def continuous_watch(
    transport: Transport,
    target: Target,
    sink: WatchSink,
    cfg: WatchConfig,
    clock: Clock,
    state: WatchState,
) -> None:
    """List if needed, then watch from the last resourceVersion until the stream ends.
    Raises Expired (relist), ApiError, ConnectionProblem, InactivityTimeout for the caller to handle."""
    if state.resource_version is None:
        state.verb = "list"
        objs, rv = await list_all(transport, target, cfg.page_size)
        state.resource_version = rv
        state.just_listed = True
        sink.listed(target, objs)
        # Not the reconnect backoff: only a watch that works proves the outage is over.
        state.refused_backoff.reset()
    state.verb = "watch"
    started = clock.now()
    events = 0

    def opened() -> None:
        state.refused_backoff.reset()
        sink.up(target)

    gen = watch_events(transport, target, state.resource_version, cfg, clock, on_open=opened)
    try:
        async with contextlib.aclosing(gen):
            async for event in gen:
                events += 1
                state.just_listed = False
                if event.resource_version:
                    state.resource_version = event.resource_version
                if event.type != "BOOKMARK":
                    sink.changed(target, event.type, normalize(event.obj, target.kind))
    finally:
        # Only a stream that brought something, or lived a while, proves the server is healthy:
        # one that is accepted and dropped at once keeps the backoff growing.
        healthy = events > 0 or clock.now() - started >= cfg.quick_close_seconds
        if healthy:
            state.backoff.reset()
    if not healthy:
        # A server (or proxy) that closes every stream at once must not make us spin.
        await clock.sleep(state.backoff.next_delay())


@dataclass
class WatchState:
    resource_version: str | None = None  # None: the next round lists
    verb: str = "list"
    just_listed: bool = False  # listed, and no event since: a 410 now must not relist in a loop
    backoff: Backoff = field(default_factory=Backoff)
    refused_backoff: Backoff = field(default_factory=Backoff)


def new_state(cfg: WatchConfig, clock: Clock) -> WatchState:
    return WatchState(
        backoff=Backoff(cfg.backoff_base, 2.0, cfg.backoff_cap, cfg.backoff_jitter, clock.rand),
        refused_backoff=Backoff(cfg.refused_base, 2.0, cfg.refused_cap, cfg.backoff_jitter, clock.rand),
    )


async def infinite_watch(
    transport: Transport, target: Target, sink: WatchSink, cfg: WatchConfig, clock: Clock
) -> None:
    """Keep `target` watched until cancelled (or the sink gives up on a refusal)."""
    state = new_state(cfg, clock)
    while True:
        try:
            await continuous_watch(transport, target, sink, cfg, clock, state)
        except Expired as e:
            log.info("watch of %s expired (%s): relisting", target, e)
            if state.just_listed:
                await clock.sleep(state.backoff.next_delay())
            state.resource_version = None
        except ApiError as e:
            if e.status in REFUSALS:
                if not sink.refused(target, state.verb, e):
                    return
                await clock.sleep(state.refused_backoff.next_delay())
            else:
                sink.down(target, e)
                await clock.sleep(state.backoff.next_delay())
        except (ConnectionProblem, InactivityTimeout, OSError) as e:
            log.info("watch of %s interrupted: %s", target, describe_error(e))
            sink.down(target, e)
            await clock.sleep(state.backoff.next_delay())
