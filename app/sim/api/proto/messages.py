"""A protobuf message of the Kubernetes API turned into the JSON that Go's encoding/json writes for
the same Go value: fields absent on the wire are Go's zero values, then omitempty/omitzero, pointers
and inline structs decide what is written, so defaulting sees what a JSON client would have sent."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache
from typing import Any

from app.sim.api.proto.known import KNOWN
from app.sim.api.proto.schema_data import MESSAGES
from app.sim.api.proto.wire import BYTES, VARINT, ProtoError, as_int32, as_int64, fields, packed_varints

REPEATED, POINTER, OMITEMPTY, INLINE, OMITZERO = 1, 2, 4, 8, 16
_OMIT_ZERO = OMITEMPTY | OMITZERO
_WIRE = {"string": BYTES, "bytes": BYTES, "bool": VARINT, "int32": VARINT, "int64": VARINT}
_ZERO: dict[str, Any] = {"string": "", "bool": False, "int32": 0, "int64": 0}
Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    number: int
    json_name: str
    type: str  # a scalar, "map", or a message name
    map_value: str
    flags: int
    go_name: str

    @property
    def wire(self) -> int:
        return _WIRE.get(self.type, BYTES)


@dataclass(frozen=True, slots=True)
class MessageSpec:
    name: str
    fields: tuple[FieldSpec, ...]  # in Go struct order, the order encoding/json writes them in
    by_number: dict[int, FieldSpec]


@cache
def spec(name: str) -> MessageSpec:
    rows = MESSAGES[name]
    specs = tuple(
        FieldSpec(num, json_name, type_, value, flags, go_name or json_name[:1].upper() + json_name[1:])
        for num, json_name, type_, value, flags, go_name in rows
    )
    return MessageSpec(name, specs, {f.number: f for f in specs})


def _scalar(type_: str, value: int | bytes) -> Any:
    if type_ == "string":
        return bytes(value).decode("utf-8", "replace") if isinstance(value, bytes) else ""
    if type_ == "bytes":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else ""
    number = value if isinstance(value, int) else 0
    if type_ == "bool":
        return number != 0
    return as_int32(number) if type_ == "int32" else as_int64(number)


def _wrong_wire(wire: int, f: FieldSpec) -> ProtoError:
    return ProtoError(f"proto: wrong wireType = {wire} for field {f.go_name}")


def value_json(type_: str, data: bytes) -> Any:
    """A message's JSON value: hand-coded for the special messages, else an object."""
    special = KNOWN.get(type_)
    if special is not None:
        return special(data)
    return message_json(type_, data)


def message_json(name: str, data: bytes) -> Obj:
    ms = spec(name)
    seen: dict[int, list[tuple[int, int | bytes]]] = {}
    for number, wire, value in fields(data, name.rsplit(".", 1)[-1], ms.by_number):
        seen.setdefault(number, []).append((wire, value))
    out: Obj = {}
    for f in ms.fields:
        got = seen.get(f.number, [])
        if f.type == "map":
            _map(out, f, got)
        elif f.flags & REPEATED:
            _repeated(out, f, got)
        elif f.type in _WIRE:
            _singular_scalar(out, f, got)
        else:
            _singular_message(out, f, got)
    return out


def _chunks(f: FieldSpec, got: list[tuple[int, int | bytes]]) -> list[bytes]:
    out = []
    for wire, value in got:
        if wire != BYTES or not isinstance(value, bytes):
            raise _wrong_wire(wire, f)
        out.append(value)
    return out


def _map(out: Obj, f: FieldSpec, got: list[tuple[int, int | bytes]]) -> None:
    if not got:
        return  # a nil map
    entries: dict[str, Any] = {}
    value_wire = _WIRE.get(f.map_value, BYTES)
    for chunk in _chunks(f, got):
        key, value = "", None
        for number, wire, item in fields(chunk, f"{f.go_name}Entry", (1, 2)):
            if wire != (BYTES if number == 1 else value_wire):
                raise _wrong_wire(wire, f)
            if number == 1:
                key = _scalar("string", item)
            elif f.map_value in _WIRE:
                value = _scalar(f.map_value, item)
            else:
                value = value_json(f.map_value, item if isinstance(item, bytes) else b"")
        if value is None:  # the entry's value is absent: Go's zero value
            value = _ZERO.get(f.map_value, "") if f.map_value in _WIRE else value_json(f.map_value, b"")
        entries[key] = value
    out[f.json_name] = dict(sorted(entries.items()))


def _repeated(out: Obj, f: FieldSpec, got: list[tuple[int, int | bytes]]) -> None:
    items: list[Any] = []
    for wire, value in got:
        if f.wire == VARINT and wire == BYTES and isinstance(value, bytes):
            items += [_scalar(f.type, v) for v in packed_varints(value)]
        elif wire != f.wire:
            raise _wrong_wire(wire, f)
        elif f.type in _WIRE:
            items.append(_scalar(f.type, value))
        else:
            items.append(value_json(f.type, value if isinstance(value, bytes) else b""))
    if items:  # none is a nil slice: omitted, or null, which the server drops
        out[f.json_name] = items


def _singular_scalar(out: Obj, f: FieldSpec, got: list[tuple[int, int | bytes]]) -> None:
    for wire, _ in got:
        if wire != f.wire:
            raise _wrong_wire(wire, f)
    if not got:
        if f.flags & POINTER or f.type == "bytes":
            return  # nil
        value = _ZERO[f.type]
    else:
        value = _scalar(f.type, got[-1][1])
    if not f.flags & POINTER and f.flags & _OMIT_ZERO and value == _ZERO.get(f.type, ""):
        return
    out[f.json_name] = value


def _singular_message(out: Obj, f: FieldSpec, got: list[tuple[int, int | bytes]]) -> None:
    # Repeated occurrences of one message merge, as if their bytes were one message.
    data = b"".join(_chunks(f, got)) if got else None
    if data is None and f.flags & POINTER:
        return
    value = value_json(f.type, data or b"")
    if f.flags & INLINE:
        if isinstance(value, dict):
            out.update(value)
        return
    if value is None:  # the zero Time and a nil RawExtension are written as null
        return
    out[f.json_name] = value
