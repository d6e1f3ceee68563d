"""Request body limits: a body larger than the cap gets 413 before it is read (Content-Length) or as
soon as the count passes the cap (chunked); a JSON body nested too deep gets 400 before any route
parses it. Bodies are small, so the checked body is handed to the app from memory."""

from __future__ import annotations

import asyncio
from typing import Any

from app.security.respond import Receive, Scope, Send, header, refuse
from app.security.safe_json import MAX_DEPTH, too_deep

MAX_BODY_BYTES = 3 * 1024 * 1024  # kube-apiserver's own limit for a request body
THREAD_SCAN_BYTES = 256 * 1024  # a larger JSON body is scanned off the event loop


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class _Gone(Exception):
    """The client went away while sending the body: there is no one to answer."""


def too_large_message(limit: int) -> str:
    size = f"{limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"{limit} bytes"
    return f"the request body is larger than {size}"


class BodyLimit:
    """ASGI middleware: caps every request body and bounds the nesting of JSON bodies."""

    def __init__(
        self, app: Any, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH, k8s_prefix: str = ""
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.k8s_prefix = k8s_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = header(scope, b"content-length")
        chunked = "chunked" in (header(scope, b"transfer-encoding") or "").lower()
        if length is not None:
            if not length.strip().isdigit():
                await self._refuse(scope, send, 400, "the Content-Length header is not a number")
                return
            if int(length) > self.max_bytes:
                await self._refuse(scope, send, 413, too_large_message(self.max_bytes))
                return
            if int(length) == 0 and not chunked:
                await self.app(scope, receive, send)
                return
        elif not chunked:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(receive)
        except _Gone:
            return
        if body is None:
            await self._refuse(scope, send, 413, too_large_message(self.max_bytes))
            return
        if _is_json(header(scope, b"content-type")) and await self._too_deep(body):
            message = f"the request body nests JSON more than {self.max_depth} levels deep"
            await self._refuse(scope, send, 400, message)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the cap (the rest is never read)."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    async def _too_deep(self, body: bytes) -> bool:
        if len(body) > THREAD_SCAN_BYTES:
            return await asyncio.to_thread(too_deep, body, self.max_depth)
        return too_deep(body, self.max_depth)

    async def _refuse(self, scope: Scope, send: Send, status: int, message: str) -> None:
        await refuse(scope, send, status, message, k8s_prefix=self.k8s_prefix, close=True)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that gives the buffered body once, then waits on the real one (disconnects)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
