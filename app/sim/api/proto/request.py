"""A protobuf request body read for one verb on one resource: the object it holds (the kind the
request expects fills in a missing kind or version), or the 400 the API server answers."""

from __future__ import annotations

import asyncio
from typing import Any

from app.sim.api.discovery import SUBRESOURCES
from app.sim.api.paths import ResourcePath
from app.sim.api.proto.body import DecodeFailure, decode_object
from app.sim.errors import ApiError

# Bodies larger than this are decoded off the event loop.
_LARGE_BODY = 64 * 1024
Obj = dict[str, Any]


def expected_kind(method: str, path: ResourcePath) -> tuple[str, str]:
    """(apiVersion, kind) the request's body should hold."""
    info = path.info
    if method == "DELETE":
        return info.api_version, "DeleteOptions"
    if path.subresource is not None:
        group, version, kind = SUBRESOURCES.get(info.kind, {}).get(
            path.subresource, (info.group, info.version, info.kind)
        )
        return (f"{group}/{version}" if group else version), kind
    return info.api_version, info.kind


def _summary(data: bytes, limit: int = 30) -> str:
    """summarizeData in the API server's create/update handlers."""
    if not data:
        return "<empty>"
    if data[:1] == b"{":
        text = data.decode("utf-8", "replace")
        return text[:limit] + " ..." if len(data) > limit else text
    return data[:limit].hex() + " ..." if len(data) > limit else data.hex()


def _bad_request(exc: DecodeFailure, method: str, expected: str, body: bytes) -> ApiError:
    if method == "DELETE":
        return ApiError(400, "BadRequest", exc.detail)
    if exc.kind:
        version = (exc.api_version or "").rsplit("/", 1)[-1]
        text = f'{exc.kind} in version "{version}" cannot be handled as a {expected}: {exc.detail}'
    else:
        summary = _summary(body)
        text = f"the object provided is unrecognized (must be of type {expected}): {exc.detail} ({summary})"
    return ApiError(400, "BadRequest", text)


async def read_request(body: bytes, method: str, path: ResourcePath) -> Obj:
    """The object of a create, update or delete body sent as protobuf."""
    api_version, kind = expected_kind(method, path)
    try:
        if len(body) > _LARGE_BODY:
            obj = await asyncio.to_thread(decode_object, body, api_version, kind)
        else:
            obj = decode_object(body, api_version, kind)
    except DecodeFailure as exc:
        raise _bad_request(exc, method, kind, body) from exc
    if method == "DELETE" and obj["kind"] != "DeleteOptions":
        raise ApiError(400, "BadRequest", "decoded object cannot be converted to DeleteOptions")
    return obj
