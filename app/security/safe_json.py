"""JSON with a nesting bound: a cheap depth scan before parsing, so no input can reach Python's
recursion limit here or in the code that walks the result; usable for bodies and JSON Lines files."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 100  # Kubernetes objects nest about 15 deep; orjson refuses to encode past 254

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
for _open in b"[{":
    _STEP[_open] = 1
for _close in b"]}":
    _STEP[_close] = -1


class JsonTooDeep(ValueError):
    """The text nests arrays and objects deeper than allowed; str() is the one-line reason."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the JSON nests more than {limit} levels deep")
        self.limit = limit


def json_depth(raw: bytes | str) -> int:
    """How deep arrays and objects nest in JSON text (brackets inside strings do not count)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if not (b"[" in data or b"{" in data):
        return 0
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def too_deep(raw: bytes | str, limit: int = MAX_DEPTH) -> bool:
    """Whether the text nests deeper than `limit`; counting brackets first keeps the common case cheap."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    return json_depth(data) > limit


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads that raises JsonTooDeep (a ValueError) instead of nesting without bound."""
    if too_deep(raw, max_depth):
        raise JsonTooDeep(max_depth)
    try:
        return json.loads(raw)
    except RecursionError:  # unreachable after the scan; kept so no caller can ever see one
        raise JsonTooDeep(max_depth) from None


def load_json_line(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """One line of a JSON Lines file (UTF-8). Raises ValueError (JsonTooDeep, JSONDecodeError or
    UnicodeDecodeError) with a one-line message for a damaged or absurdly nested line."""
    return loads(raw.decode("utf-8"), max_depth=max_depth)
