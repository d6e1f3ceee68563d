"""The list+watch loop for one kind (in one namespace, or all), in small layers modelled on kopf's
watching: list (paged, each page handed on as it arrives) -> watch from the list's resourceVersion
with bookmarks -> relist on 410 -> back off and resume on errors, but relist whenever a resume cannot
be trusted (the server's resourceVersions went back: it was restarted with a fresh store); one
inactivity deadline per stream catches a silently dead one.

Pure of HTTP: a `Transport` brings JSON and raw watch lines, a `WatchSink` takes the results, and
time comes from a `Clock` (tests pass fakes, so nothing here sleeps for real in unit tests)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import orjson

from app.kinds import KindInfo
from app.sources.backoff import Backoff
from app.sources.secrets import scrub

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

    def __init__(
        self, status: int, reason: str = "", message: str = "", causes: tuple[str, ...] = ()
    ) -> None:
        message = scrub(message)
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}".strip())
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = causes  # details.causes[].reason of the Status

    @classmethod
    def from_status(cls, obj: Any, status: int = 0, reason: str = "") -> ApiError:
        """From a metav1.Status object (or whatever came instead of one)."""
        if isinstance(obj, dict):
            code = obj.get("code")
            details = obj.get("details")
            causes = details.get("causes") if isinstance(details, dict) else None
            return cls(
                code if isinstance(code, int) else status,
                str(obj.get("reason") or reason),
                str(obj.get("message") or ""),
                tuple(str(c.get("reason")) for c in causes if isinstance(c, dict))
                if isinstance(causes, list)
                else (),
            )
        return cls(status, reason, str(obj or "")[:300])


class Expired(Exception):
    """410: the resourceVersion (or a list's continue token) is too old; relist."""


class Untrusted(Expired):
    """The server no longer knows the versions we resume from (they went back, or are "too large"
    for it): it was restarted or replaced, so what we hold may be stale; relist."""


class ConnectionProblem(Exception):
    """The server could not be reached, or the connection broke mid-stream."""


class InactivityTimeout(Exception):
    """Nothing arrived on a watch stream for longer than the server should ever stay silent."""


def describe_error(error: BaseException) -> str:
    """A short human description for the `reconnecting` banner, never showing a credential."""
    if isinstance(error, ApiError | InactivityTimeout | ConnectionProblem) and str(error):
        return scrub(str(error))
    return scrub(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)


def too_large(error: ApiError) -> bool:
    """The API server's answer to a resourceVersion newer than it has: 504 Timeout with the cause
    ResourceVersionTooLarge (client-go's IsTooLargeResourceVersion)."""
    return "ResourceVersionTooLarge" in error.causes or "too large resource version" in error.message.lower()


# ---------------------------------------------------------------------------------------------------
# Interfaces


class LineStream(Protocol):
    """An open watch response: the raw JSON lines that have arrived (at least one) per call, None at
    the end of the stream."""

    async def next_batch(self) -> list[bytes] | None: ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    """Blocking HTTP made awaitable. Errors: ApiError for a non-2xx answer, ConnectionProblem otherwise."""

    async def list(self, target: Target, *, limit: int, cont: str | None) -> Obj: ...

    async def watch(self, target: Target, *, resource_version: str, timeout_seconds: int) -> LineStream: ...


class WatchSink(Protocol):
    """Where one watch loop reports (the source's supervisor)."""

    def listed(self, target: Target, objs: list[Obj], *, more: bool = False, cont: bool = False) -> None:
        """One page of a list (see Resync: `more` another page follows, `cont` continues one)."""
        ...

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
    # Objects a list page: each page is parsed whole, and its short-lived objects interleave in the
    # allocator's pools with the records kept from it; 250 leaves a third less memory behind than
    # client-go's 500 (bench/bench_memory.py) for a few more requests.
    page_size: int = 250
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
    if "kind" not in obj:
        obj["kind"] = kind.kind
    if "apiVersion" not in obj:
        obj["apiVersion"] = kind.api_version
    meta = obj.get("metadata")
    if meta.__class__ is dict:
        meta.pop("managedFields", None)
    return obj


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
    obj: Obj
    resource_version: str | None


_MANAGED = b',"managedFields":['
# What follows an object's metadata as the API server writes it (Go's field order: ObjectMeta ends with
# managedFields, then the kind's first field)
_AFTER_META = (b'},"spec":', b'},"addressType":', b'},"subsets":', b'},"status":', b'},"endpoints":')


def strip_managed_fields(data: bytes) -> bytes:
    """JSON text (a watch line, a list page) with every object's managedFields cut out before it is
    parsed: a third of a pod's bytes and half its JSON objects, none of which is read. managedFields is
    the last field of metadata, and nothing inside it is an array, so it ends at the first ']', which
    must be followed by the end of metadata and the kind's next top-level field. Anything of another
    shape is left as it is (normalize() drops managedFields after parsing then)."""
    parts: list[bytes] = []
    pos = 0
    while True:
        start = data.find(_MANAGED, pos)
        if start < 0:
            break
        end = data.find(b"]", start + len(_MANAGED))
        if end < 0 or not data.startswith(_AFTER_META, end + 1):
            break
        parts.append(data[pos:start])
        pos = end + 1
    if not parts:
        return data
    parts.append(data[pos:])
    return b"".join(parts)


def parse_event(line: bytes | str) -> WatchEvent | None:
    """One watch line -> event; None for a blank or unreadable line (logged, never fatal: a line
    nested deeper than the parser allows is unreadable too)."""
    try:
        data = orjson.loads(strip_managed_fields(line) if line.__class__ is bytes else line)
    except orjson.JSONDecodeError:
        if line and line.strip():
            log.warning("skipping a watch line that is not JSON: %.200r", line)
        return None
    if data.__class__ is not dict or data.get("type").__class__ is not str:
        log.warning("skipping a watch line that is not an event: %.200r", line)
        return None
    obj = data.get("object")
    if obj.__class__ is not dict:
        obj = {}
    meta = obj.get("metadata")
    rv = meta.get("resourceVersion") if meta.__class__ is dict else None
    return WatchEvent(data["type"], obj, rv if rv.__class__ is str and rv else None)


def rv_number(rv: str | None) -> int | None:
    """A resourceVersion as a number when it is one (etcd's revisions are; the API calls them
    opaque, so anything else is never compared)."""
    return int(rv) if rv and rv.isdigit() else None


# ---------------------------------------------------------------------------------------------------
# Layer 2: a paged list


Pages = Callable[[list[Obj], bool, bool], None]  # (objects, more pages follow, continues a page)


async def list_pages(transport: Transport, target: Target, page_size: int, on_page: Pages) -> str:
    """Every object of the target, page by page (limit/continue), each page handed to `on_page` as
    it arrives (nothing accumulates); returns the list's resourceVersion. The next page is asked for
    as soon as a page's continue token is known, so the server and the network work on it while this
    one is read. An expired continue token (410) starts the list again, once (the next page then
    says it does not continue: cont False)."""
    for attempt in range(2):
        cont: str | None = None
        rv = ""
        first = True
        pending: asyncio.Future[Obj] = asyncio.ensure_future(
            transport.list(target, limit=page_size, cont=None)
        )
        try:
            while True:
                page = await pending
                if not isinstance(page, dict):
                    raise ApiError(500, "BadList", "the list answer is not a JSON object")
                meta = page.get("metadata") or {}
                rv = str(meta.get("resourceVersion") or rv)
                cont = meta.get("continue") or None
                if cont:
                    pending = asyncio.ensure_future(transport.list(target, limit=page_size, cont=cont))
                items = page.get("items") or ()
                del page
                objs = [normalize(item, target.kind) for item in items if item.__class__ is dict]
                del items
                on_page(objs, cont is not None, not first)
                first = False
                if not cont:
                    return rv
        except ApiError as e:
            if e.status == 410 and cont is not None and attempt == 0:
                log.info("continue token for %s expired; listing again", target)
                continue
            raise
        finally:
            if not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)  # our own cancellation still raises
    raise AssertionError("unreachable")


async def list_all(transport: Transport, target: Target, page_size: int) -> tuple[list[Obj], str]:
    """Every object of the target in one list, with the list's resourceVersion."""
    items: list[Obj] = []

    def page(objs: list[Obj], more: bool, cont: bool) -> None:
        if not cont:
            items.clear()  # a list started again
        items.extend(objs)

    rv = await list_pages(transport, target, page_size, page)
    return items, rv


# ---------------------------------------------------------------------------------------------------
# Layer 3: one watch stream


class Watchdog:
    """One inactivity deadline per stream (not a timer per line): a task that sleeps `limit` at a
    time on the injectable clock and, when no batch arrived during a whole sleep, cancels the reading
    task, which then raises InactivityTimeout (asyncio.timeout's way, but on the injectable clock)."""

    def __init__(self, limit: float, sleep: Callable[[float], Awaitable[object]]) -> None:
        self.limit = limit
        self.sleep = sleep
        self.beats = 0
        self.fired = False
        self._reader = asyncio.current_task()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        seen = -1
        while seen != self.beats:
            seen = self.beats
            await self.sleep(self.limit)
        self.fired = True
        if self._reader is not None:
            self._reader.cancel()

    def timed_out(self) -> bool:
        """After a CancelledError in the reader: True when the watchdog caused it (and only it)."""
        return self.fired and self._reader is not None and self._reader.uncancel() == 0

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def watch_batches(
    transport: Transport,
    target: Target,
    resource_version: str,
    cfg: WatchConfig,
    clock: Clock,
    on_open: Callable[[], None] | None = None,
) -> AsyncIterator[list[bytes]]:
    """The raw lines of one watch stream from `resource_version` until the server ends it, a batch
    (whatever arrived together) at a time; read them with events(). A 410 or 504 "too large resource
    version" answer raises Expired / Untrusted. The stream is always closed, also on cancellation."""
    try:
        stream = await transport.watch(
            target, resource_version=resource_version, timeout_seconds=cfg.timeout_seconds
        )
    except ApiError as e:
        if e.status == 410:
            raise Expired(e.message or str(e)) from e
        if too_large(e):
            raise Untrusted(e.message or str(e)) from e
        raise
    dog = Watchdog(cfg.inactivity_seconds, clock.sleep) if cfg.inactivity_seconds is not None else None
    try:
        if on_open is not None:
            on_open()
        while True:
            try:
                lines = await stream.next_batch()
            except asyncio.CancelledError:
                if dog is not None and dog.timed_out():
                    raise InactivityTimeout(
                        f"no data for {cfg.inactivity_seconds:g} s: the watch stream looks dead"
                    ) from None
                raise
            if lines is None:
                return
            if dog is not None:
                dog.beats += 1
            yield lines
    finally:
        if dog is not None:
            await dog.stop()
        await stream.aclose()


def events(lines: list[bytes]) -> Iterator[WatchEvent]:
    """The events of some watch lines, parsed one at a time as they are taken (so a burst of thousands
    is never all alive at once: the collector would move every one of them into the old generation).
    BOOKMARKs are included; an ERROR event raises Expired for 410, Untrusted for a too-large
    resourceVersion, ApiError otherwise."""
    for line in lines:
        event = parse_event(line)
        if event is None:
            continue
        kind = event.type
        if kind == "ERROR":
            err = ApiError.from_status(event.obj, 500, "WatchError")
            if err.status == 410:
                raise Expired(err.message or "resource version too old")
            if too_large(err):
                raise Untrusted(err.message)
            raise err
        if kind not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
            log.warning("skipping a watch event of unknown type %r", kind)
            continue
        yield event


async def watch_events(
    transport: Transport,
    target: Target,
    resource_version: str,
    cfg: WatchConfig,
    clock: Clock,
    on_open: Callable[[], None] | None = None,
) -> AsyncIterator[WatchEvent]:
    """The events of one watch stream, one at a time."""
    gen = watch_batches(transport, target, resource_version, cfg, clock, on_open)
    async with contextlib.aclosing(gen):
        async for lines in gen:
            for event in events(lines):
                yield event


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
    """List if needed, else check that a resume can be trusted; then watch from the last
    resourceVersion until the stream ends. Raises Expired (relist), Untrusted (relist), ApiError,
    ConnectionProblem, InactivityTimeout for the caller to handle."""
    if state.resource_version is not None:  # a resume: first make sure the server is the same one
        await verify_resume(transport, target, state)
    if state.resource_version is None:
        state.verb = "list"

        def page(objs: list[Obj], more: bool, cont: bool) -> None:
            sink.listed(target, objs, more=more, cont=cont)

        rv = await list_pages(transport, target, cfg.page_size, page)
        state.resource_version = rv
        state.seen = rv_number(rv)
        state.just_listed = True
        # Not the reconnect backoff: only a watch that works proves the outage is over.
        state.refused_backoff.reset()
    state.verb = "watch"
    started = clock.now()
    count = 0

    def opened() -> None:
        state.refused_backoff.reset()
        sink.up(target)

    gen = watch_batches(transport, target, state.resource_version, cfg, clock, on_open=opened)
    kind = target.kind
    changed = sink.changed
    try:
        async with contextlib.aclosing(gen):
            async for lines in gen:
                for event in events(lines):
                    count += 1
                    state.just_listed = False
                    rv = event.resource_version
                    if rv:
                        number = rv_number(rv)
                        if number is not None:
                            if state.seen is not None and number < state.seen:
                                raise Untrusted(
                                    f"the server sent resourceVersion {rv} after {state.seen}: "
                                    "it was restarted or replaced"
                                )
                            state.seen = number
                        state.resource_version = rv
                    if event.type != "BOOKMARK":
                        changed(target, event.type, normalize(event.obj, kind))
    finally:
        # Only a stream that brought something, or lived a while, proves the server is healthy:
        # one that is accepted and dropped at once keeps the backoff growing.
        healthy = count > 0 or clock.now() - started >= cfg.quick_close_seconds
        if healthy:
            state.backoff.reset()
    if not healthy:
        # A server (or proxy) that closes every stream at once must not make us spin.
        await clock.sleep(state.backoff.next_delay())


async def verify_resume(transport: Transport, target: Target, state: WatchState) -> None:
    """Before resuming from a resourceVersion, ask the server for its current one (a one-item list):
    lower than what we have seen means a restarted or replaced server whose store is not the one we
    hold. Raises Untrusted then, and the caller lists afresh (the old objects go, no ghosts)."""
    if state.seen is None:
        return
    page = await transport.list(target, limit=1, cont=None)
    meta = page.get("metadata") if isinstance(page, dict) else None
    current = rv_number(str(meta.get("resourceVersion") or "")) if isinstance(meta, dict) else None
    if current is not None and current < state.seen:
        raise Untrusted(
            f"the server is at resourceVersion {current} but had sent {state.seen}: it was restarted"
        )


@dataclass
class WatchState:
    resource_version: str | None = None  # None: the next round lists
    seen: int | None = None  # the highest resourceVersion seen since the last list, as a number
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
            log.info("watch of %s expired (%s): relisting", target, scrub(str(e)))
            if state.just_listed:
                await clock.sleep(state.backoff.next_delay())
            if isinstance(e, Untrusted):
                sink.down(target, e)  # not live until the new list is in
            state.resource_version = None
        except ApiError as e:
            if e.status in REFUSALS:
                # Refused after having been let in (credentials rotated, another server behind the
                # address): what we hold cannot be trusted any more, so list again when let back in.
                state.resource_version = None
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
