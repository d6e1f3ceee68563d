"""The protobuf wire format, read as Go's generated unmarshalers read it: varints, length-delimited
fields, fixed 32/64-bit values, unknown fields skipped (groups included), and Go's error texts."""

from __future__ import annotations

from collections.abc import Container, Iterator

VARINT, FIXED64, BYTES, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
_MASK64 = (1 << 64) - 1
# A field as read: (number, wire type, value); the value is an int, or bytes for BYTES.
Field = tuple[int, int, int | bytes]


class ProtoError(ValueError):
    """A body that is not a well-formed protobuf message of the expected type."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    end = len(data)
    while True:
        if shift >= 64:
            raise ProtoError("proto: integer overflow")
        if pos >= end:
            raise ProtoError("unexpected EOF")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _MASK64, pos
        shift += 7


def _length(data: bytes, pos: int) -> tuple[int, int]:
    size, pos = _varint(data, pos)
    if size >= 1 << 63:
        raise ProtoError("proto: negative length found during unmarshaling")
    if pos + size > len(data):
        raise ProtoError("unexpected EOF")
    return size, pos


def _skip_group(data: bytes, pos: int) -> int:
    """Past the end of a group whose start tag was just read (nested groups too)."""
    depth = 1
    while depth:
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == VARINT:
            _, pos = _varint(data, pos)
        elif wire == FIXED64:
            pos += 8
        elif wire == BYTES:
            size, pos = _length(data, pos)
            pos += size
        elif wire == START_GROUP:
            depth += 1
        elif wire == END_GROUP:
            depth -= 1
        elif wire == FIXED32:
            pos += 4
        else:
            raise ProtoError(f"proto: illegal wireType {wire}")
        if pos > len(data):
            raise ProtoError("unexpected EOF")
    return pos


def fields(data: bytes, message: str, known: Container[int]) -> Iterator[Field]:
    """The fields of one message in wire order; fields whose number is not in `known` are skipped."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == END_GROUP:
            raise ProtoError(f"proto: {message}: wiretype end group for non-group")
        if number <= 0 or number >= 1 << 31:
            raise ProtoError(f"proto: {message}: illegal tag {number} (wire type {wire})")
        value: int | bytes
        if wire == VARINT:
            value, pos = _varint(data, pos)
        elif wire == BYTES:
            size, pos = _length(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire in (FIXED64, FIXED32):
            width = 8 if wire == FIXED64 else 4
            if pos + width > end:
                raise ProtoError("unexpected EOF")
            value, pos = int.from_bytes(data[pos : pos + width], "little"), pos + width
        elif wire == START_GROUP:
            if number in known:
                yield number, wire, 0  # the caller reports the wrong wire type
            pos = _skip_group(data, pos)
            continue
        else:
            raise ProtoError(f"proto: illegal wireType {wire}")
        if number in known:
            yield number, wire, value


def packed_varints(data: bytes) -> list[int]:
    """The values of a packed repeated varint field."""
    out: list[int] = []
    pos = 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        out.append(value)
    return out


def as_int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def as_int64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value
