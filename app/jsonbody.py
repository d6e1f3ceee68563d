"""Reading a request's JSON object body, with one wording of the errors for every route; nesting is
bounded (app.security.safe_json), so no body can reach Python's recursion limit."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from app.security.safe_json import JsonTooDeep, loads


class BodyError(ValueError):
    """The body is not a JSON object; the message says why, for a 400 answer."""


async def json_object(request: Request, *, empty: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body as a dict. An empty body gives `empty` when one is given, else an error."""
    raw = await request.body()
    if not raw.strip():
        if empty is not None:
            return dict(empty)
        raise BodyError("the request body must be a JSON object")
    try:
        body = loads(raw)
    except JsonTooDeep as e:
        raise BodyError(f"the request body is refused: {e}") from None
    except ValueError as e:
        raise BodyError(f"the request body is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise BodyError("the request body must be a JSON object")
    return body
