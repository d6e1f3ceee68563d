"""Field errors as the API server words them (field.ErrorList): each cause's reason, path and
message, the bad value printed the way Go prints it, and the 422 Invalid Status they make."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.kinds import KINDS
from app.sim.errors import ApiError

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Cause:
    reason: str  # FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, ...
    field: str
    message: str  # the cause's message: the error without its field path

    def text(self) -> str:
        return f"{self.field}: {self.message}"


def _quote(text: str) -> str:
    """Go's %q: printable characters kept, the rest escaped."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) > 0xFF else f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


class GoStruct(dict[str, Any]):
    """A Go struct value: marshalled with its fields in declaration order (maps sort their keys)."""


def go_value(value: Any) -> str:
    """The bad value as field.Error prints it: numbers and booleans plain, strings quoted (%q),
    anything else as JSON (Go marshals maps with sorted keys, structs in field order)."""
    if isinstance(value, GoStruct):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return _quote(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", field, f"Invalid value: {go_value(value)}: {detail}")


def required(field: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))


def forbidden(field: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", field, f"Forbidden: {detail}")


def duplicate(field: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", field, f"Duplicate value: {go_value(value)}")


def not_supported(field: str, value: Any, allowed: list[str]) -> Cause:
    detail = "supported values: " + ", ".join(_quote(a) for a in allowed) if allowed else ""
    return Cause(
        "FieldValueNotSupported",
        field,
        f"Unsupported value: {go_value(value)}" + (f": {detail}" if detail else ""),
    )


def too_long(field: str, limit: int) -> Cause:
    return Cause("FieldValueTooLong", field, f"Too long: may not be more than {limit} bytes")


def too_many(field: str, actual: int, limit: int) -> Cause:
    return Cause("FieldValueTooMany", field, f"Too many: {actual}: must have at most {limit} items")


def aggregate(causes: list[Cause]) -> str:
    """utilerrors' Aggregate text: one message alone, several as `[a, b]`, duplicates once."""
    seen: list[str] = []
    for c in causes:
        if c.text() not in seen:
            seen.append(c.text())
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


def invalid_error(kind: str, name: str, causes: list[Cause], *, group: str | None = None) -> ApiError:
    """errors.NewInvalid: 422 with `Kind.group "name" is invalid: ...` and every cause."""
    info = KINDS.get(kind)
    group = (info.group if info else "") if group is None else group
    qualified = f"{kind}.{group}" if group else kind
    details: Obj = {}
    for key, value in (("name", name), ("group", group), ("kind", kind)):
        if value:
            details[key] = value
    details["causes"] = [{"reason": c.reason, "message": c.message, "field": c.field} for c in causes]
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {aggregate(causes)}', details)
