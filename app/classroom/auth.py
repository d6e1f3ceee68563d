"""Presenter mode: with --present, every state-changing request needs the presenter's token in the
X-Slicescope-Token header (403 otherwise); reading stays open to the whole class."""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Any
from urllib.parse import parse_qs

TOKEN_HEADER = "X-Slicescope-Token"
FORBIDDEN = "only the presenter can change the cluster"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# GET routes that still change the cluster: the console's stream runs any allowed kubectl command
# (EventSource cannot send headers, so these also accept ?token=).
GUARDED_GETS = ("/api/console/stream",)


def new_token() -> str:
    return secrets.token_urlsafe(18)


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison; a missing token never matches."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


def needs_token(method: str, path: str) -> bool:
    """Whether a request changes state: every non-GET under /api/, and the guarded GETs."""
    if not path.startswith("/api/"):
        return False
    if method.upper() not in SAFE_METHODS:
        return True
    return any(path == p or path.startswith(p + "/") for p in GUARDED_GETS)


def _header(scope: dict[str, Any], name: str) -> str | None:
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers") or ():
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


class PresenterGuard:
    """ASGI middleware: answers 403 {"error": FORBIDDEN} to a state-changing request without the
    token. Streams pass through untouched (no response buffering)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token

    def allowed(self, scope: dict[str, Any]) -> bool:
        method, path = scope.get("method", "GET"), scope.get("path", "")
        if not needs_token(method, path):
            return True
        if token_matches(_header(scope, TOKEN_HEADER), self.token):
            return True
        if method.upper() in SAFE_METHODS:  # a guarded GET: EventSource can only send the query
            query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
            return token_matches((query.get("token") or [None])[0], self.token)
        return False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.allowed(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": FORBIDDEN}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
