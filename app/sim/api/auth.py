"""Authentication for the simulated API: `Authorization: Bearer <token>`, or the token as the first
path segments `/t/<token>/...` (kubectl and client-go never send credentials over plain http, so the
generated kubeconfig puts the token in the server URL). Anything else gets a 401 Status."""

from __future__ import annotations

import hmac
from typing import Any

from app.sim.errors import ApiError

PATH_MARKER = "t"


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def authenticate(headers: Any, parts: list[str], token: str) -> list[str]:
    """Check the credentials; returns the path segments after any `/t/<token>` prefix, or raises 401."""
    if len(parts) >= 2 and parts[0] == PATH_MARKER:
        if _same(parts[1], token):
            return parts[2:]
        raise unauthorized()
    value = headers.get("authorization") or ""
    scheme, _, given = value.partition(" ")
    if scheme.lower() != "bearer" or not _same(given.strip(), token):
        raise unauthorized()
    return parts
