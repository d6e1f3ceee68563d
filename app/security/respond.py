"""Refusals answered straight from ASGI middleware, in the form the caller reads: a Kubernetes
Status under the simulated API, {"error": ...} under /api/, plain text elsewhere."""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]
Send = Any
Receive = Any

K8S_REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
}


def under(path: str, prefix: str) -> bool:
    return bool(prefix) and (path == prefix or path.startswith(prefix.rstrip("/") + "/"))


def header(scope: Scope, name: bytes) -> str | None:
    """The last value of one request header (names are lower-case bytes), decoded as latin-1."""
    found = None
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            found = value.decode("latin-1")
    return found


async def refuse(
    scope: Scope,
    send: Send,
    status: int,
    message: str,
    *,
    k8s_prefix: str = "",
    reason: str = "",
    close: bool = False,
) -> None:
    """Send the whole refusal. `close` asks the client to drop the connection (an unread body)."""
    path = scope.get("path", "")
    if under(path, k8s_prefix):
        body = json.dumps(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": K8S_REASONS.get(status, "BadRequest"),
                "code": status,
            }
        ).encode()
        ctype = b"application/json"
    elif path.startswith("/api/"):
        payload = {"error": message, **({"reason": reason} if reason else {})}
        body, ctype = json.dumps(payload).encode(), b"application/json"
    else:
        body, ctype = (message + "\n").encode(), b"text/plain; charset=utf-8"
    headers = [
        (b"content-type", ctype),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
