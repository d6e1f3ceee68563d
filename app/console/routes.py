"""HTTP endpoints of the page's kubectl console: POST /api/console/run (JSON result), POST or GET
/api/console/stream (server-sent events, for -w), status and shipped manifests. Sim source only."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from app.console.parse import Command, Refused, parse_command
from app.console.runner import NOT_INSTALLED, Finished, Limits, find_kubectl, run_kubectl
from app.console.shipped import shipped_manifests
from app.security.safe_json import loads

DISABLED = "the kubectl console works only with the simulated cluster (this dashboard watches a real one)"
DEFAULT_LIMITS = Limits()
BUSY = "the console is busy running other commands; try again in a moment"
# What GET /api/console/stream may run: a GET never changes the cluster (any page can send one).
READ_VERBS = ("get", "describe", "version", "api-resources", "cluster-info", "rollout")
DISCONNECT_POLL_SECONDS = 0.25  # how often a one-shot command looks whether the page stopped waiting


@dataclass(frozen=True)
class ConsoleContext:
    """What the console needs from the app, asked for on every request."""

    enabled: bool  # True only for the simulated cluster
    server_url: str = ""  # the simulated cluster's API root, e.g. http://127.0.0.1:8000/k8s
    token: str = ""  # its bearer token
    reason: str = DISABLED  # shown with the 403 when not enabled


GetContext = Callable[[Request], ConsoleContext]


def local_api_url(request: Request, api_prefix: str) -> str:
    """The API root on the address this request arrived at: kubectl runs on this machine and reaches
    the same server, whatever port it was given (0 in tests) and whatever address it is bound to."""
    host, port = request.scope.get("server") or ("127.0.0.1", 80)
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{api_prefix}"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Prepared:
    command: Command
    kubectl: str
    context: ConsoleContext
    stdin: str | None


def console_router(
    get_context: GetContext,
    *,
    limits: Limits = DEFAULT_LIMITS,
    find: Callable[[], str | None] = find_kubectl,
    max_concurrent: int = 8,
    queue_seconds: float = 10.0,
) -> APIRouter:
    """The console's routes. `get_context(request)` says whether it is enabled and where the API is."""
    router = APIRouter(prefix="/api/console")
    slots = asyncio.Semaphore(max_concurrent)

    def prepare(context: ConsoleContext, body: Any) -> _Prepared:
        if not context.enabled:
            raise _Rejected(403, context.reason)
        if not isinstance(body, dict) or not isinstance(body.get("command"), str):
            raise _Rejected(400, 'send JSON {"command": "kubectl ...", "stdin": "optional manifest text"}')
        stdin = body.get("stdin")
        if stdin is not None and not isinstance(stdin, str):
            raise _Rejected(400, "stdin must be text (the manifest for -f -)")
        try:
            command = parse_command(body["command"], shipped_manifests())
        except Refused as e:
            raise _Rejected(400, str(e)) from None
        if command.stdin and not stdin:
            raise _Rejected(400, "-f - reads the manifest from stdin: send its text as stdin")
        if stdin is not None and len(stdin.encode()) > limits.max_stdin_bytes:
            raise _Rejected(400, f"the manifest text is larger than {limits.max_stdin_bytes // 1024} KiB")
        kubectl = find()
        if kubectl is None:
            raise _Rejected(503, NOT_INSTALLED)
        return _Prepared(command, kubectl, context, stdin if command.stdin else None)

    async def read_body(request: Request) -> Any:
        try:
            return loads(await request.body())
        except ValueError:  # not JSON, not UTF-8, or nested absurdly deep
            return None

    @contextlib.asynccontextmanager
    async def slot() -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(queue_seconds):
                await slots.acquire()
        except TimeoutError:
            raise _Rejected(429, BUSY) from None
        try:
            yield
        finally:
            slots.release()

    def run(p: _Prepared) -> AsyncIterator[str | Finished]:
        shipped = shipped_manifests()
        return run_kubectl(
            p.kubectl,
            p.command.args,
            server_url=p.context.server_url,
            token=p.context.token,
            stdin=p.stdin,
            files={name: shipped[name] for name in p.command.manifests},
            seconds=limits.watch_seconds if p.command.streaming else limits.timeout_seconds,
            limits=limits,
        )

    @router.get("/status")
    async def status(request: Request) -> JSONResponse:
        context = get_context(request)
        installed = find() is not None
        body: dict[str, Any] = {
            "enabled": context.enabled,
            "kubectl": installed,
            "manifests": sorted(shipped_manifests()),
            "watchSeconds": limits.watch_seconds,
        }
        if not context.enabled:
            body["reason"] = context.reason
        elif not installed:
            body["reason"] = NOT_INSTALLED
        return JSONResponse(body)

    @router.get("/manifests/{name}")
    async def manifest(name: str) -> Response:
        text = shipped_manifests().get(name)
        if text is None:
            return _error(404, f"no shipped manifest named {name}")
        return Response(text, media_type="text/plain; charset=utf-8")

    async def collect(prepared: _Prepared) -> tuple[list[str], Finished]:
        parts: list[str] = []
        end = Finished(None)
        async with contextlib.aclosing(run(prepared)) as items:
            async for item in items:
                if isinstance(item, Finished):
                    end = item
                else:
                    parts.append(item)
        return parts, end

    @router.post("/run")
    async def run_once(request: Request) -> Response:
        try:
            prepared = prepare(get_context(request), await read_body(request))
            async with slot():
                task = asyncio.create_task(collect(prepared), name="console-run")
                try:
                    # the page's Stop closes the request: kubectl is stopped with it
                    while not (await asyncio.wait({task}, timeout=DISCONNECT_POLL_SECONDS))[0]:
                        if await request.is_disconnected():
                            return Response(status_code=499)
                    parts, end = task.result()
                finally:
                    if not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
        except _Rejected as e:
            return _error(e.status, e.message)
        return JSONResponse(
            {
                "exitCode": end.exit_code,
                "output": "".join(parts),
                "timedOut": end.timed_out,
                "truncated": end.truncated,
                "streaming": prepared.command.streaming,
            }
        )

    async def stream(request: Request, body: Any, *, read_only: bool = False) -> Response:
        try:
            prepared = prepare(get_context(request), body)
            if read_only and prepared.command.verb not in READ_VERBS:
                verb = prepared.command.verb
                raise _Rejected(405, f"GET runs only commands that read ({', '.join(READ_VERBS)}); "
                                f"send kubectl {verb} with POST")  # fmt: skip
        except _Rejected as e:
            return _error(e.status, e.message)

        async def events() -> AsyncIterator[str]:
            try:
                async with slot():
                    async with contextlib.aclosing(run(prepared)) as items:
                        async for item in items:
                            if isinstance(item, Finished):
                                yield _sse("exit", _end(item))
                            else:
                                yield _sse("output", {"text": item})
            except _Rejected as e:
                yield _sse("error", {"error": e.message, "status": e.status})

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    @router.post("/stream")
    async def stream_post(request: Request) -> Response:
        return await stream(request, await read_body(request))

    @router.get("/stream")
    async def stream_get(request: Request, command: str = "") -> Response:
        return await stream(request, {"command": command}, read_only=True)

    return router


def _end(item: Finished) -> dict[str, Any]:
    return {"exitCode": item.exit_code, "timedOut": item.timed_out, "truncated": item.truncated}


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"
