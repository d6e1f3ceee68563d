"""Response shapes: objects with kind/apiVersion first, typed Lists, PartialObjectMetadata, and the
`as=Table` content negotiation kubectl uses (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from app.kinds import KindInfo

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Wanted:
    """What the client asked for in Accept: a plain object, a Table, or PartialObjectMetadata(List)."""

    form: str = "object"  # "object" | "Table" | "PartialObjectMetadata" | "PartialObjectMetadataList"
    api_version: str = "meta.k8s.io/v1"


def negotiate(accept: str | None) -> Wanted:
    """Pick the first acceptable media range (the order kubectl writes them in is its preference)."""
    for media in (accept or "").split(","):
        parts = [p.strip() for p in media.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if parts[0] not in ("application/json", "*/*", "application/*"):
            continue
        as_ = params.get("as")
        if not as_:
            return Wanted()
        if params.get("g") != "meta.k8s.io" or params.get("v") not in ("v1", "v1beta1"):
            continue
        if as_ in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
            return Wanted(as_, f"meta.k8s.io/{params['v']}")
    return Wanted()


def with_type(obj: Obj, info: KindInfo) -> Obj:
    """The object as the API serves it: kind and apiVersion first."""
    rest = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
    return {"kind": info.kind, "apiVersion": info.api_version, **rest}


def without_type(obj: Obj) -> Obj:
    """List items carry no kind/apiVersion (like the real server's typed lists)."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def list_metadata(rv: str, continue_token: str | None, remaining: int | None) -> Obj:
    md: Obj = {"resourceVersion": rv}
    if continue_token:
        md["continue"] = continue_token
    if remaining is not None:
        md["remainingItemCount"] = remaining
    return md


def typed_list(info: KindInfo, items: list[Obj], md: Obj) -> Obj:
    return {
        "kind": info.list_kind,
        "apiVersion": info.api_version,
        "metadata": md,
        "items": [without_type(o) for o in items],
    }


def partial(obj: Obj, api_version: str = "meta.k8s.io/v1") -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": obj.get("metadata") or {}}


def partial_list(items: list[Obj], md: Obj, api_version: str = "meta.k8s.io/v1") -> Obj:
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": api_version,
        "metadata": md,
        "items": [{"metadata": o.get("metadata") or {}} for o in items],
    }


def list_in_pieces(body: Obj, per_piece: int = 200) -> Iterator[bytes]:
    """A List's JSON in pieces of `per_piece` items (the bytes of json.dumps with compact
    separators), so a caller can let the event loop run while a 10,000-item List is encoded."""
    items = body.get("items") or []
    head = {k: v for k, v in body.items() if k != "items"}
    yield orjson.dumps(head)[:-1] + b',"items":['
    for start in range(0, len(items), per_piece):
        piece = orjson.dumps(items[start : start + per_piece])[1:-1]
        yield piece if start == 0 else b"," + piece
    yield b"]}"
