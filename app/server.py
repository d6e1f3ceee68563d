"""create_app(settings): builds source -> recorder tap -> view engine -> hub, serves the page, the
snapshot, the SSE stream, actions, explanations, record/replay controls, classroom scenarios, the
kubectl console and (for the simulated cluster) its Kubernetes API; guards changes with --present."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.actions import ActionContext, ActionTarget, SourceActions, build_router
from app.classroom.auth import PresenterGuard, new_token
from app.classroom.live import LiveSim
from app.classroom.routes import scenario_router
from app.classroom.session import ScenarioSession
from app.hub import Hub
from app.paths import STATIC_DIR, TEMPLATES_DIR
from app.recording.recorder import Recorder
from app.recording.routes import record_router, replay_router
from app.security.install import install_protection, protection_for
from app.settings import Settings
from app.sources.base import ClusterInfo, SourceItem, Status
from app.static_files import AssetHasher, HashedStaticFiles
from app.stream import SEND_TIMEOUT, EventStream

log = logging.getLogger(__name__)

DEBUG_HOOKS_ENV = "SLICESCOPE_DEBUG_HOOKS"  # "1" enables POST /api/debug/drop-streams (browser tests)
NO_STORE = {"Cache-Control": "no-store"}

_FALLBACK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slicescope</title></head>
<body><h1>slicescope</h1><p>{{ cluster.name }} ({{ cluster.mode }}): the page template is missing;
see <a href="api/snapshot">api/snapshot</a>.</p>
</body></html>
"""


@dataclass
class Runtime:
    """Everything one app instance runs; tests reach it as app.state.runtime."""

    settings: Settings
    info: ClusterInfo
    source: Any
    engine: Any
    hub: Hub
    cluster: Any = None
    clock: Any = None
    api_token: str = ""
    recorder: Any = None  # the Recorder every source item passes through (record from any moment)
    live: Any = None  # LiveSim: the swappable simulated cluster (sim source only)
    session: Any = None  # ScenarioSession: classroom scenarios
    present_token: str | None = None  # with --present: what state-changing requests must carry
    connection: Status = field(default_factory=lambda: Status("connecting"))
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def publish_classroom(self, value: dict[str, Any] | None) -> None:
        """meta.classroom for every browser (and in the recording, if one is being made)."""
        try:
            self.engine.set_classroom(value)
        except Exception:
            log.exception("the view engine could not take the classroom state")
        if self.recorder is not None:
            self.recorder.note_classroom(value)
        self.hub.poke()

    def reset_view(self) -> None:
        """Forget the view (a scenario's cluster or a replay's seek rebuilds it from Resyncs)."""
        try:
            self.engine.reset()
        except Exception:
            log.exception("the view engine could not reset")
        self.hub.poke()

    def on_swap(self, cluster: Any) -> None:
        self.cluster = cluster
        self.clock = cluster.clock

    def emit(self, item: SourceItem) -> None:
        """The source's callback: one bad object is logged and skipped, never fatal."""
        if isinstance(item, Status):
            self.connection = item
        try:
            self.engine.apply(item)
        except Exception:
            log.exception("the view engine failed on %s", _describe(item))
        self.hub.poke()


def _describe(item: SourceItem) -> str:
    obj = getattr(item, "obj", None)
    if isinstance(obj, dict):
        md = obj.get("metadata") or {}
        return f"{type(item).__name__} {getattr(item, 'kind', '')} {md.get('namespace')}/{md.get('name')}"
    return type(item).__name__


def _build_sim(settings: Settings) -> tuple[Any, Any]:
    from app.sim.clock import SimClock
    from app.sim.cluster import SimCluster, SimConfig

    clock = SimClock(time.time())
    cluster = SimCluster(
        clock, SimConfig(max_endpoints_per_slice=settings.max_endpoints_per_slice, seed=settings.sim_seed)
    )
    cluster.start()
    if settings.sim_lesson:
        cluster.load_lesson()
    return clock, cluster


def scenario_library(settings: Settings) -> dict[str, Any]:
    """The built-in scenarios, and the --scenario file's (ScenarioError names file and line)."""
    from app.scenarios import builtin_scenarios, load_scenario

    library = builtin_scenarios()
    if settings.scenario:
        own = load_scenario(settings.scenario)
        library = {own.name: own, **{k: v for k, v in library.items() if k != own.name}}
    return library


def api_server_url(settings: Settings, port: int | None = None) -> str:
    """Where the simulated cluster's Kubernetes API answers (loopback when bound to every address)."""
    host = settings.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port or settings.port}{settings.api_prefix}"


def write_kubeconfig(path: str, settings: Settings, token: str, port: int | None = None) -> None:
    from app.sim.api.kubeconfig import write_kubeconfig as write

    write(Path(path).expanduser(), api_server_url(settings, port), token)


def build_runtime(settings: Settings, *, source: Any = None, cluster: Any = None) -> Runtime:
    """Construct (not start) the pieces. Raises the kube source's KubeConfigError on bad config."""
    from app.sources.factory import make_source
    from app.view.engine import ViewEngine

    library = scenario_library(settings)  # first: a bad --scenario file is reported before anything runs
    clock = None
    if settings.source == "sim" and source is None and cluster is None:
        clock, cluster = _build_sim(settings)
    elif cluster is not None:
        clock = getattr(cluster, "clock", None) or getattr(getattr(cluster, "store", None), "clock", None)
    if source is None:
        source = make_source(settings, cluster)
    info: ClusterInfo = source.info
    live: LiveSim | None = None
    if settings.source == "sim" and cluster is not None and clock is not None:
        live = LiveSim(cluster, source, speed=settings.sim_speed, reset_view=lambda: rt.reset_view())
        now: Any = live.now
    elif settings.source == "replay" and hasattr(source, "now"):
        now = source.now
    else:
        now = clock.now if clock is not None else time.time
    engine = ViewEngine(
        info, actions_enabled=settings.actions_enabled, timeline_limit=settings.timeline_limit, now=now
    )
    hub = Hub(
        engine,
        buffer_messages=settings.buffer_messages,
        client_queue_messages=settings.client_queue_messages,
        first_seq=int(time.time() * 1000),
    )
    present_token = (settings.present_token or new_token()) if settings.present else None
    rt = Runtime(
        settings=settings,
        info=info,
        source=source,
        engine=engine,
        hub=hub,
        cluster=cluster,
        clock=clock,
        api_token=settings.api_token or secrets.token_urlsafe(24),
        recorder=Recorder(info, opening=engine.opening_items),
        live=live,
        present_token=present_token,
    )
    if live is not None:
        live.on_swap.append(rt.on_swap)
    if hasattr(source, "on_seek"):  # a replay's seek: forget the view, the seek's Resyncs rebuild it
        source.on_seek = rt.reset_view
    if hasattr(source, "on_classroom"):  # a replay shows the lesson as it was recorded
        source.on_classroom = rt.publish_classroom
    rt.session = ScenarioSession(
        library,
        live=live,
        presenting=settings.present,
        publish=rt.publish_classroom,
        make_default=lambda: _build_sim(settings)[1],
        seed=settings.sim_seed,
        max_endpoints_per_slice=settings.max_endpoints_per_slice,
        speed=settings.sim_speed,
    )
    return rt


def _action_target(rt: Runtime) -> ActionTarget | None:
    """The sim cluster, or a real cluster through the kube source's `act` (with --allow-actions)."""
    if rt.live is not None:
        return rt.live.proxy  # follows a classroom scenario's cluster
    if rt.cluster is not None and rt.settings.source == "sim":
        return rt.cluster
    if rt.settings.allow_actions and hasattr(rt.source, "act"):
        return SourceActions(rt.source)
    return None


def _mount_k8s_api(app: FastAPI, rt: Runtime) -> None:
    try:
        from app.sim.api import create_k8s_api  # type: ignore[attr-defined]
    except ImportError as e:
        log.warning("the simulated cluster's Kubernetes API is not available: %s", e)
        return
    cluster = rt.live.proxy if rt.live is not None else rt.cluster  # kubectl follows a scenario swap
    app.mount(rt.settings.api_prefix, create_k8s_api(cluster, rt.api_token))


def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(("html", "xml"), default_for_string=True),
        auto_reload=True,
    )


async def _run_source(rt: Runtime) -> None:
    try:
        await rt.source.run(rt.recorder.tap(rt.emit))
    except asyncio.CancelledError:
        raise
    except Exception as e:  # a source should report Status itself; this is the last resort
        log.exception("the source stopped")
        rt.emit(Status("error", f"the source stopped: {e}", since=time.time()))


async def cancel_all(tasks: list[asyncio.Task[Any]], *, attempts: int = 50) -> None:
    """Cancel tasks and wait for them. Cancels again while any is still running: on Python 3.11,
    asyncio.wait_for swallows a cancel that arrives just as its awaitable finishes."""
    pending = {t for t in tasks if not t.done()}
    for _ in range(attempts):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)
    if pending:
        log.error("tasks did not stop: %s", pending)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())


def create_app(
    settings: Settings,
    *,
    source: Any = None,
    cluster: Any = None,
    debug_hooks: bool | None = None,
    send_timeout: float = SEND_TIMEOUT,
) -> FastAPI:
    """The whole dashboard. `source`/`cluster` override what the settings would build (tests)."""
    rt = build_runtime(settings, source=source, cluster=cluster)
    protection = protection_for(settings)
    stream = EventStream(rt.hub, ping_seconds=settings.ping_seconds, send_timeout=send_timeout)
    if debug_hooks is None:
        debug_hooks = os.environ.get(DEBUG_HOOKS_ENV, "") not in ("", "0")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _defer_to_a_later_console(app)
        if settings.record and not rt.recorder.recording:
            try:  # the CLI starts it before serving (to report a bad path); tests start it here
                rt.recorder.start(settings.record)
            except Exception as e:
                log.error("could not record: %s", e)
        if rt.live is not None:
            rt.live.start()
        rt.session.publish()
        rt.tasks.append(asyncio.create_task(_run_source(rt), name="source"))
        rt.tasks.append(asyncio.create_task(rt.hub.run(settings.tick_seconds), name="hub-tick"))
        rt.tasks.append(asyncio.create_task(stream.run(), name="stream-housekeeping"))
        rt.tasks.append(asyncio.create_task(rt.session.refresh_forever(), name="classroom-refresh"))
        if settings.write_kubeconfig and rt.settings.source == "sim" and settings.port:
            try:
                write_kubeconfig(settings.write_kubeconfig, settings, rt.api_token)
            except OSError as e:
                log.error("could not write the kubeconfig: %s", e)
        await asyncio.sleep(0)  # let the source emit its first lists before the first request
        try:
            yield
        finally:
            rt.hub.drop_all()
            await rt.session.close()
            if rt.live is not None:
                await rt.live.stop()
            tasks, rt.tasks = rt.tasks, []
            await cancel_all(tasks)
            rt.recorder.stop()

    app = FastAPI(title="slicescope", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = rt
    hasher = AssetHasher(STATIC_DIR)
    templates = _templates()

    target = _action_target(rt)
    app.include_router(
        build_router(
            ActionContext(
                target=target,
                recorder=rt.engine,
                enabled=settings.actions_enabled,
                after=rt.hub.poke,
            )
        )
    )

    app.include_router(replay_router(lambda: rt.source if settings.source == "replay" else None))
    app.include_router(record_router(lambda: rt.recorder, directory=settings.recordings_dir))
    app.include_router(scenario_router(rt.session))
    _include_console(app, rt)
    app.include_router(stream.router())

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        try:
            template = templates.get_template("index.html")
        except Exception as e:  # TemplateNotFound, or the folder is missing
            log.warning("templates/index.html unavailable (%s); serving a minimal page", e)
            template = templates.from_string(_FALLBACK_PAGE)
        # no snapshot inlined (megabytes on a big cluster): the page's stream starts with one
        html = template.render(
            request=request,
            static_url=hasher.url,
            cluster=rt.info.as_json(),
            settings=settings,
            csrf_token=protection.csrf_token,
        )
        return HTMLResponse(html, headers=NO_STORE)

    @app.get("/api/snapshot")
    async def snapshot() -> Response:
        # the same encoded text new streams start with: one encoding per seq, however many ask
        msg = rt.hub.snapshot_message()
        # the stream id of this state: the page fetches the snapshot, then its /events resumes from it
        headers = {**NO_STORE, "X-Slicescope-Event-Id": rt.hub.event_id(msg.seq)}
        return Response(msg.data, media_type="application/json", headers=headers)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "source": settings.source, "connection": rt.connection.state}

    @app.get("/api/explain/pod/{namespace}/{name}")
    async def explain_pod(namespace: str, name: str) -> JSONResponse:
        return _explain(rt.engine.explain_pod, "pod", namespace, name)

    @app.get("/api/explain/service/{namespace}/{name}")
    async def explain_service(namespace: str, name: str) -> JSONResponse:
        return _explain(rt.engine.explain_service, "service", namespace, name)

    if debug_hooks:

        @app.post("/api/debug/drop-streams")
        async def drop_streams() -> dict[str, Any]:
            return {"dropped": rt.hub.drop_all()}

    app.mount("/static", HashedStaticFiles(directory=STATIC_DIR, hasher=hasher), name="static")
    if rt.settings.source == "sim" and rt.cluster is not None:
        _mount_k8s_api(app, rt)
    if rt.present_token is not None:
        app.add_middleware(PresenterGuard, token=rt.present_token)
    install_protection(app, protection)  # last, so outermost: Host check, same-origin rule, body limits
    return app


def _include_console(app: FastAPI, rt: Runtime) -> None:
    """The page's kubectl console, against the simulated cluster's API (enabled for the sim only)."""
    try:
        from app.console.routes import ConsoleContext, console_router, local_api_url
    except ImportError as e:
        log.warning("the kubectl console is not available: %s", e)
        return
    enabled = rt.settings.source == "sim" and rt.live is not None

    def context(request: Request) -> ConsoleContext:
        if not enabled:
            return ConsoleContext(enabled=False)
        return ConsoleContext(
            enabled=True, server_url=local_api_url(request, rt.settings.api_prefix), token=rt.api_token
        )

    app.include_router(console_router(context))
    app.state.console_routes = app.router.routes[-1]


def _defer_to_a_later_console(app: FastAPI) -> None:
    """An app given its own console router after create_app (a test with stand-in limits) keeps that
    one: ours would match first, so it steps aside."""
    ours = getattr(app.state, "console_routes", None)
    routes = app.router.routes
    if ours is None or ours not in routes:
        return

    def serves_console(route: Any) -> bool:
        inner = getattr(route, "original_router", None)
        paths = (
            [getattr(r, "path", "") for r in inner.routes]
            if inner is not None
            else [getattr(route, "path", "")]
        )
        return "/api/console/run" in paths

    if any(r is not ours and serves_console(r) for r in routes):
        routes.remove(ours)


def _explain(fn: Any, what: str, namespace: str, name: str) -> JSONResponse:
    try:
        result = fn(namespace, name)
    except KeyError:
        result = None
    if result is None:
        return JSONResponse({"error": f"{what} {namespace}/{name} not found"}, status_code=404)
    return JSONResponse(result, headers=NO_STORE)
