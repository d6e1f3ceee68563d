"""List paging (`limit` / `continue`): items in etcd key order (namespace, name), an opaque
continue token naming the last key returned, and `remainingItemCount` like the real server."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from app.sim.errors import ApiError

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Obj]
    continue_token: str | None
    remaining: int | None


def sort_key(obj: Obj) -> tuple[str, str]:
    md = obj.get("metadata") or {}
    return (md.get("namespace") or "", md.get("name") or "")


def encode_continue(rv: str, last: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": f"{last[0]}/{last[1]}\x00"})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    """(resourceVersion, last key) of a continue token; 400 BadRequest when it is not one of ours."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        ns, _, name = data["start"].rstrip("\x00").partition("/")
        return int(data["rv"]), (ns, name)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ApiError(
            400, "BadRequest", "continue key is not valid: incorrect encoded start resourceVersion"
        ) from exc


def paginate(items: list[Obj], limit: int | None, token: str | None, rv: str) -> Page:
    """Sort items by key, start after the continue token's key, cut at `limit`."""
    ordered = sorted(items, key=sort_key)
    if token:
        _, last = decode_continue(token)
        ordered = [o for o in ordered if sort_key(o) > last]
    if not limit or limit <= 0 or len(ordered) <= limit:
        return Page(ordered, None, None)
    page = ordered[:limit]
    return Page(page, encode_continue(rv, sort_key(page[-1])), len(ordered) - limit)
