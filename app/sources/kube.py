"""The `kube` source: a real cluster through the official client (kubeconfig or in-cluster), read as
raw JSON; one list+watch loop per kind (and per namespace when limited), reported as Resync /
Change / Status items. Read-only unless --allow-actions."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import re
import threading
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from app.kinds import KINDS, WATCHED_KINDS
from app.settings import Settings
from app.sources import memory, permissions
from app.sources.base import Change, ClusterInfo, Emit, Resync, SourceItem, Status
from app.sources.kubeconfig_load import KubeConfigError, LoadedConfig, load
from app.sources.secrets import scrub, scrub_error
from app.sources.watching import (
    ApiError,
    Clock,
    ConnectionProblem,
    InactivityTimeout,
    Obj,
    Target,
    Transport,
    Untrusted,
    WatchConfig,
    describe_error,
    infinite_watch,
    strip_managed_fields,
)

__all__ = ["KubeConfigError", "KubeSource", "KubeTransport"]

log = logging.getLogger(__name__)

_EOF = object()
# Reprs urllib3 puts in its messages: `<...HTTPConnection object at 0x7f...>:` (urllib3 1.x) and
# `HTTPConnection(host='127.0.0.1', port=6443):` (2.x); the page names the server already.
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>:?\s*|\bHTTPS?Connection\(host=[^)]*\):?\s*")


# ---------------------------------------------------------------------------------------------------
# Blocking HTTP through the official client, raw JSON only


def _clean(text: str) -> str:
    return scrub(_OBJECT_REPR.sub("", text).strip())


def _error_text(e: BaseException) -> str:
    """An exception as one readable line: urllib3's ProtocolError is a tuple
    `('Connection broken: ...', IncompleteRead(...))`, whose first part says it all."""
    if len(e.args) > 1 and isinstance(e.args[0], str):
        return _clean(e.args[0])
    return _clean(str(e))


def _connection_problem(e: BaseException) -> ConnectionProblem:
    reason = getattr(e, "reason", None)
    if isinstance(reason, BaseException):
        text = _error_text(reason)
    elif reason is not None:
        text = _clean(str(reason))
    else:
        text = _error_text(e)
    return ConnectionProblem(text or type(e).__name__)


def blocking_request(
    api: client.ApiClient,
    method: str,
    path: str,
    *,
    query: list[tuple[str, Any]] | None = None,
    body: Any = None,
    content_type: str | None = None,
    timeout: tuple[float, float] = (10.0, 60.0),
) -> urllib3.BaseHTTPResponse:
    """One call through the client's ApiClient (its auth, TLS and token refresh), never building
    models: returns the open urllib3 response. Raises ApiError / ConnectionProblem."""
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        return api.call_api(
            path,
            method,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=timeout,
            _return_http_data_only=True,
        )
    except ApiException as e:
        if not e.status:
            raise ConnectionProblem(_clean(str(e.reason))) from None
        try:
            data = orjson.loads(e.body) if e.body else None
        except (orjson.JSONDecodeError, TypeError):
            data = e.body
        raise ApiError.from_status(data, e.status, str(e.reason or "")) from None
    except urllib3.exceptions.ReadTimeoutError:
        raise ConnectionProblem(f"no answer within {timeout[1]:g} s") from None
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise _connection_problem(e) from None
    except Exception as e:
        # e.g. http.client's "Invalid header value b'Bearer …'": the text may hold a credential, so it
        # is scrubbed and the original (with its traceback) is not chained.
        raise ConnectionProblem(f"the request could not be sent: {scrub_error(e)}") from None


def _read_json(resp: urllib3.BaseHTTPResponse) -> Any:
    try:
        data = resp.data
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise _connection_problem(e) from None
    finally:
        resp.release_conn()
    try:
        return orjson.loads(strip_managed_fields(data))
    except orjson.JSONDecodeError:
        raise ApiError(500, "BadResponse", f"the answer is not JSON: {data[:200]!r}") from None


class ThreadLineStream:
    """A watch response read in its own thread; each read's complete lines reach the event loop as
    one batch (one call_soon_threadsafe per read, not per line) through an asyncio.Queue. The
    socket's read timeout is the stream's inactivity deadline. aclose() shuts the socket down (which
    wakes a blocked read) and joins the thread, so nothing is leaked."""

    READ_SIZE = 256 * 1024

    def __init__(self, resp: urllib3.BaseHTTPResponse, loop: asyncio.AbstractEventLoop, name: str) -> None:
        self._resp = resp
        self._loop = loop
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._closing = False
        self._thread = threading.Thread(target=self._pump, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening any more
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _pump(self) -> None:
        resp = self._resp
        buf = b""
        try:
            while not self._closing:
                data = resp.read1(self.READ_SIZE)
                if not data:
                    break
                if b"\n" not in data:
                    buf += data
                    continue
                *lines, rest = (buf + data).split(b"\n")
                buf = rest
                self._put(lines)
            if buf.strip() and not self._closing:
                self._put([buf])
            self._put(_EOF)
        except urllib3.exceptions.ReadTimeoutError:
            self._put(_EOF if self._closing else InactivityTimeout("the watch stream stopped sending data"))
        except Exception as e:
            if self._closing:
                self._put(_EOF)
            else:
                self._put(ConnectionProblem(f"watch stream broken: {_error_text(e) or type(e).__name__}"))
        finally:
            with contextlib.suppress(Exception):
                resp.close()
            with contextlib.suppress(Exception):
                resp.release_conn()

    async def next_batch(self) -> list[bytes] | None:
        """Every line that has arrived (waiting for the first); None at the end of the stream."""
        queue = self._queue
        item = await queue.get()
        lines: list[bytes] = []
        while True:
            if item is _EOF or isinstance(item, BaseException):
                if lines:  # hand over what came before the end; the end stays queued for the next call
                    self._requeue(item)
                    return lines
                if item is _EOF:
                    queue.put_nowait(_EOF)  # stay at the end for any later call
                    return None
                raise item
            lines.extend(item)
            if queue.empty():
                return lines
            item = queue.get_nowait()

    def _requeue(self, item: Any) -> None:
        rest = [item]
        while not self._queue.empty():
            rest.append(self._queue.get_nowait())
        for it in rest:
            self._queue.put_nowait(it)

    async def aclose(self) -> None:
        if not self._closing:
            self._closing = True
            try:
                self._resp.shutdown()
            except Exception:
                with contextlib.suppress(Exception):
                    self._resp.close()
        # Join the reader without blocking the loop (bounded: the socket is already shut down).
        for _ in range(500):
            if not self._thread.is_alive():
                return
            await asyncio.sleep(0.01)
        log.warning("watch reader thread %s did not stop", self._thread.name)


class KubeTransport:
    """The Transport of watching.py over the official client. Blocking calls run in a small
    dedicated executor (the default one is too small for long polls); watch streams get a thread each."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        watch_read_timeout: float = 330.0,
        workers: int = 8,
    ) -> None:
        self.api = api
        self.timeout = (connect_timeout, read_timeout)
        self.watch_timeout = (connect_timeout, watch_read_timeout)
        self._executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="slicescope-kube")
        self._inflight: set[concurrent.futures.Future[Any]] = set()
        self._streams: set[ThreadLineStream] = set()

    async def _call(self, fn: Callable[[], Any], on_orphan: Callable[[Any], None] | None = None) -> Any:
        fut = self._executor.submit(fn)
        self._inflight.add(fut)
        fut.add_done_callback(self._inflight.discard)
        try:
            return await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            if on_orphan is not None:
                # The call is already running in its thread: close what it returns once it does.
                def orphan(f: concurrent.futures.Future[Any]) -> None:
                    if not f.cancelled() and f.exception() is None:
                        with contextlib.suppress(Exception):
                            on_orphan(f.result())

                fut.add_done_callback(orphan)
            raise

    async def list(self, target: Target, *, limit: int, cont: str | None) -> Obj:
        query: list[tuple[str, Any]] = [("limit", limit)]
        if cont:
            query.append(("continue", cont))

        def call() -> Any:
            return _read_json(
                blocking_request(self.api, "GET", target.path(), query=query, timeout=self.timeout)
            )

        return await self._call(call)

    async def watch(self, target: Target, *, resource_version: str, timeout_seconds: int) -> ThreadLineStream:
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout_seconds),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))

        def call() -> urllib3.BaseHTTPResponse:
            return blocking_request(self.api, "GET", target.path(), query=query, timeout=self.watch_timeout)

        resp = await self._call(call, on_orphan=lambda r: r.close())
        stream = ThreadLineStream(resp, asyncio.get_running_loop(), f"watch {target}")
        self._streams.add(stream)
        return stream

    async def request_json(
        self, method: str, path: str, *, body: Any = None, content_type: str | None = None
    ) -> Any:
        def call() -> Any:
            resp = blocking_request(
                self.api, method, path, body=body, content_type=content_type, timeout=self.timeout
            )
            return _read_json(resp)

        return await self._call(call)

    async def aclose(self) -> None:
        for stream in list(self._streams):
            await stream.aclose()
        self._streams.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
        pending = [asyncio.wrap_future(f) for f in list(self._inflight)]
        if pending:
            await asyncio.wait(pending, timeout=self.timeout[0] + 1)
        with contextlib.suppress(Exception):
            self.api.rest_client.pool_manager.clear()


# ---------------------------------------------------------------------------------------------------
# Supervision: the watches' reports -> Resync / Change / Status


class Supervisor:
    """The WatchSink of every watch loop: forwards data, keeps track of which watches are listed,
    down or refused, and emits a Status whenever the overall picture changes."""

    def __init__(
        self,
        emit: Emit,
        clock: Clock,
        server: str,
        fallback_namespaces: tuple[str, ...] = (),
        spawn: Callable[[Target], None] | None = None,
    ) -> None:
        self.emit = emit
        self.clock = clock
        self.server = server
        self.fallback_namespaces = fallback_namespaces
        self.spawn = spawn
        self.targets: set[Target] = set()
        self.fresh: set[Target] = set()
        self.down_since: dict[Target, tuple[float, str]] = {}
        self.refusals: dict[Target, str] = {}
        self.notes: dict[Target, tuple[str, str]] = {}  # refused cluster-wide target -> (verb, note)
        self.status: Status | None = None

    def add(self, target: Target) -> None:
        self.targets.add(target)

    # -- WatchSink --
    def listed(self, target: Target, objs: list[Obj], *, more: bool = False, cont: bool = False) -> None:
        self.emit(Resync(target.kind.kind, objs, target.namespace, more=more, cont=cont))
        if more:
            return  # fresh once the whole list is in
        self.fresh.add(target)
        self.down_since.pop(target, None)
        self.refusals.pop(target, None)
        self.update()

    def changed(self, target: Target, type_: str, obj: Obj) -> None:
        self.emit(Change(type_, target.kind.kind, obj))  # type: ignore[arg-type]

    def up(self, target: Target) -> None:
        self.down_since.pop(target, None)
        self.refusals.pop(target, None)
        self.update()

    def down(self, target: Target, error: BaseException) -> None:
        if isinstance(error, Untrusted):
            # The server came back as another (restarted with a fresh store): not live until relisted.
            self.down_since[target] = (self.clock.now(), f"relisting: {describe_error(error)}")
        elif target not in self.down_since:
            self.down_since[target] = (self.clock.now(), describe_error(error))
        self.update()

    def refused(self, target: Target, verb: str, error: ApiError) -> bool:
        kind = target.kind
        if target in self.fresh:
            # No longer allowed to see it: drop what we showed rather than show it stale forever.
            self.fresh.discard(target)
            self.emit(Resync(kind.kind, [], target.namespace))
        self.down_since.pop(target, None)
        if error.status == 403 and permissions.can_fall_back(
            kind, target.namespace, self.fallback_namespaces
        ):
            self.targets.discard(target)
            self.notes[target] = (verb, permissions.fallback_message(verb, kind, self.fallback_namespaces))
            for ns in self.fallback_namespaces:
                narrower = Target(kind, ns)
                if narrower not in self.targets:
                    self.targets.add(narrower)
                    if self.spawn is not None:
                        self.spawn(narrower)
            self.update()
            return False
        if error.status == 401:
            msg = permissions.unauthorized_message(self.server)
        elif error.status == 404:
            msg = permissions.not_served_message(kind, self.server)
        else:
            msg = permissions.forbidden_message(verb, kind, target.namespace)
        log.warning("%s (%s)", msg, describe_error(error))
        self.refusals[target] = msg
        self.update()
        return True

    # -- Status --
    def problems(self) -> tuple[str, ...]:
        """Messages to show, one per missing permission: when the narrower fallback watches of a kind
        are refused too, the one thing to ask for is the cluster-wide permission."""
        seen: dict[str, None] = {}
        hidden: set[Target] = set()
        for wide, (verb, note) in self.notes.items():
            narrower = [t for t in self.targets if t.kind == wide.kind]
            if narrower and all(t in self.refusals for t in narrower):
                seen.setdefault(permissions.forbidden_message(verb, wide.kind, None), None)
                hidden.update(narrower)
            else:
                seen.setdefault(note, None)
        for target, msg in self.refusals.items():
            if target not in hidden:
                seen.setdefault(msg, None)
        return tuple(seen)

    def update(self) -> None:
        problems = self.problems()
        now = self.clock.now()
        if self.down_since:
            since, detail = min(self.down_since.values())
            where = "" if detail.startswith("relisting") else "cannot reach "
            new = Status("reconnecting", f"{where}{self.server}: {detail}", since, problems)
        elif self.targets and all(t in self.refusals for t in self.targets):
            new = Status("error", problems[0] if problems else "refused", now, problems)
        elif all(t in self.fresh or t in self.refusals for t in self.targets):
            new = Status("live", "", now, problems)
        else:
            new = Status("connecting", f"listing from {self.server}", now, problems)
        old = self.status
        if old is not None and (old.state, old.message, old.problems) == (
            new.state,
            new.message,
            new.problems,
        ):
            return
        if old is not None and old.state == new.state and new.state != "reconnecting":
            new = Status(new.state, new.message, old.since, new.problems)
        self.status = new
        self.emit(new)


# ---------------------------------------------------------------------------------------------------
# The source


class KubeSource:
    """A real cluster as a Source. `from_settings` loads the configuration (KubeConfigError on any
    problem); `run(emit)` watches until cancelled; `act(...)` performs the opt-in actions."""

    def __init__(
        self,
        info: ClusterInfo,
        *,
        api: client.ApiClient | None = None,
        transport: Transport | None = None,
        fallback_namespaces: tuple[str, ...] = (),
        kinds: tuple[str, ...] = WATCHED_KINDS,
        clock: Clock | None = None,
        config: WatchConfig | None = None,
        allow_actions: bool = False,
    ) -> None:
        self.info = info
        self.api = api
        self.transport = transport
        self.fallback_namespaces = fallback_namespaces
        self.kinds = kinds
        self.clock = clock or Clock()
        self.config = config or WatchConfig()
        self.allow_actions = allow_actions
        self.supervisor: Supervisor | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> KubeSource:
        loaded = load(
            kubeconfig=settings.kubeconfig, context=settings.context, in_cluster=settings.in_cluster
        )
        return cls.from_loaded(loaded, settings, **kwargs)

    @classmethod
    def from_loaded(cls, loaded: LoadedConfig, settings: Settings, **kwargs: Any) -> KubeSource:
        cfg = loaded.configuration
        watches = len(WATCHED_KINDS) * max(1, len(settings.namespaces))
        cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 0, 2 * watches + 4)
        info = ClusterInfo(
            mode="kube",
            name=loaded.context,
            server=display_server(loaded.server),
            namespaces=tuple(settings.namespaces),
            read_only=not settings.allow_actions,
        )
        fallback = () if settings.namespaces else (loaded.namespace,)
        return cls(
            info,
            api=client.ApiClient(cfg),
            fallback_namespaces=fallback,
            allow_actions=settings.allow_actions,
            **kwargs,
        )

    def targets(self) -> list[Target]:
        out = []
        for name in self.kinds:
            kind = KINDS[name]
            if kind.namespaced and self.info.namespaces:
                out.extend(Target(kind, ns) for ns in self.info.namespaces)
            else:
                out.append(Target(kind, None))
        return out

    def _make_transport(self) -> KubeTransport:
        if self.api is None:
            raise RuntimeError("KubeSource needs an ApiClient or a transport")
        return KubeTransport(
            self.api,
            # The socket read timeout only backs up the inactivity timer of the watch loop.
            watch_read_timeout=(self.config.inactivity_seconds or 600.0) + 5.0,
            workers=max(8, 2 * len(self.targets())),
        )

    async def run(self, emit: Emit) -> None:
        owned = self.transport is None
        transport = self.transport if self.transport is not None else self._make_transport()
        if owned:
            self.transport = transport
            memory.tune_allocator()
        pause = memory.CollectorPause()
        pause.start()

        give = emit

        def on_item(item: SourceItem) -> None:
            give(item)
            if pause.paused and isinstance(item, Status) and item.state in ("live", "error"):
                pause.resume()

        emit = on_item
        emit(Status("connecting", f"listing from {self.info.server}", self.clock.now()))
        try:
            async with asyncio.TaskGroup() as tg:

                def spawn(target: Target) -> None:
                    tg.create_task(self._watch(transport, target, sup), name=f"watch {target}")

                sup = Supervisor(emit, self.clock, self.info.server, self.fallback_namespaces, spawn)
                self.supervisor = sup
                sup.status = Status("connecting", f"listing from {self.info.server}", self.clock.now())
                for target in self.targets():
                    sup.add(target)
                for target in list(sup.targets):
                    spawn(target)
        finally:
            pause.resume()
            if owned:
                self.transport = None
                await transport.aclose()  # type: ignore[union-attr]

    async def _watch(self, transport: Transport, target: Target, sup: Supervisor) -> None:
        """infinite_watch, restarted after a bug rather than taking the other watches down."""
        while True:
            try:
                await infinite_watch(transport, target, sup, self.config, self.clock)
                return
            except Exception as e:
                trace = "".join(traceback.format_exception(e))
                log.error("watch of %s failed; restarting it\n%s", target, scrub(trace))
                sup.down(target, e)
                await self.clock.sleep(self.config.backoff_cap)

    # -- actions (only with --allow-actions) --
    async def act(self, action: str, **params: Any) -> Obj:
        """`scale` (namespace, name, replicas): merge-patch the Deployment's scale subresource;
        `label` (namespace, name, labels: {key: value or None to remove}): merge-patch the pod's labels;
        `delete` (namespace, name): delete the pod. Returns the API's JSON answer. Raises
        PermissionError when read-only, ValueError for bad input, ApiError / ConnectionProblem
        when the cluster refuses or cannot be reached."""
        if not self.allow_actions:
            raise PermissionError("read-only: start slicescope with --allow-actions to change the cluster")
        ns = str(params.get("namespace") or "")
        name = str(params.get("name") or "")
        if not ns or not name:
            raise ValueError("an action needs a namespace and a name")
        base = f"/namespaces/{_q(ns)}"
        if action in ("scale", "scale_deployment"):
            try:
                replicas = int(params["replicas"])
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError("scale needs an integer replicas") from e
            if replicas < 0:
                raise ValueError("replicas cannot be negative")
            path = f"/apis/apps/v1{base}/deployments/{_q(name)}/scale"
            req = ("PATCH", path, {"spec": {"replicas": replicas}}, "application/merge-patch+json")
            perm = ("patch", "deployments/scale", "apps")
        elif action in ("label", "set_labels", "label_pod", "relabel"):
            labels = params.get("labels")
            if not isinstance(labels, dict) or not labels:
                raise ValueError("label needs a non-empty labels mapping")
            clean = {str(k): (None if v is None else str(v)) for k, v in labels.items()}
            path = f"/api/v1{base}/pods/{_q(name)}"
            req = ("PATCH", path, {"metadata": {"labels": clean}}, "application/merge-patch+json")
            perm = ("patch", "pods", "")
        elif action in ("delete", "delete_pod"):
            req = ("DELETE", f"/api/v1{base}/pods/{_q(name)}", None, None)
            perm = ("delete", "pods", "")
        else:
            raise ValueError(f"unknown action {action!r}")
        transport = self.transport if isinstance(self.transport, KubeTransport) else None
        temporary = None
        if transport is None:
            temporary = transport = self._make_transport()
        try:
            method, path, body, ctype = req
            return await transport.request_json(method, path, body=body, content_type=ctype)
        except ApiError as e:
            if e.status == 403:
                raise ApiError(403, e.reason, permissions.action_forbidden_message(*perm, ns)) from e
            raise
        finally:
            if temporary is not None:
                await temporary.aclose()

    async def aclose(self) -> None:
        """Release pooled connections (run() does this itself when it ends)."""
        if self.api is not None:
            with contextlib.suppress(Exception):
                self.api.rest_client.pool_manager.clear()


def display_server(url: str) -> str:
    """scheme://host:port only: what the page shows must never carry credentials (user:password@,
    a token in the path as the simulated cluster's plain-http kubeconfig has, query strings)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return url
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


def _q(part: str) -> str:
    return quote(part, safe="")
