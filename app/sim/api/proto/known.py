"""The messages Kubernetes encodes by hand, in their JSON form: Time and MicroTime (RFC 3339, UTC),
Duration (Go's `1m30s`), Quantity (its string), IntOrString (a number or a string), and the raw JSON
of RawExtension and FieldsV1."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.sim.api.proto.wire import BYTES, VARINT, ProtoError, as_int32, as_int64, fields

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUANTITY_FORMAT = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


class _Scalars:
    """The last value of each field of a message of a few scalar fields."""

    def __init__(self, data: bytes, message: str, wanted: dict[int, tuple[str, int]]) -> None:
        self.values: dict[int, int | bytes] = {}
        for number, wire, value in fields(data, message, wanted):
            name, expected = wanted[number]
            if wire != expected:
                raise ProtoError(f"proto: wrong wireType = {wire} for field {name}")
            self.values[number] = value

    def int_at(self, number: int) -> int:
        value = self.values.get(number, 0)
        return value if isinstance(value, int) else 0

    def bytes_at(self, number: int) -> bytes | None:
        value = self.values.get(number)
        return value if isinstance(value, bytes) else None


def _timestamp(data: bytes) -> tuple[int, int]:
    got = _Scalars(data, "Timestamp", {1: ("Seconds", VARINT), 2: ("Nanos", VARINT)})
    return as_int64(got.int_at(1)), as_int32(got.int_at(2))


def _utc(seconds: int, micros: int, message: str) -> datetime:
    try:
        return _EPOCH + timedelta(seconds=seconds, microseconds=micros)
    except OverflowError as exc:
        raise ProtoError(f"proto: {message}: time out of range: {seconds} seconds") from exc


def time_json(data: bytes) -> str | None:
    """metav1.Time: empty is the zero time (JSON null); nanoseconds are dropped like the server does."""
    if not data:
        return None
    seconds, _ = _timestamp(data)
    when = _utc(seconds, 0, "Time")
    if when.year > 9999:
        raise ProtoError(f"proto: Time: time out of range: {seconds} seconds")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time_json(data: bytes) -> str | None:
    """metav1.MicroTime: like Time with microseconds (nanoseconds truncated)."""
    if not data:
        return None
    seconds, nanos = _timestamp(data)
    when = _utc(seconds, int(nanos / 1000), "MicroTime")
    if when.year > 9999:
        raise ProtoError(f"proto: MicroTime: time out of range: {seconds} seconds")
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fraction(value: int, digits: int) -> str:
    text = str(value).rjust(digits, "0").rstrip("0")
    return "." + text if text else ""


def go_duration(nanos: int) -> str:
    """time.Duration.String: 1h2m3.5s, 1.5ms, 0s."""
    if nanos == 0:
        return "0s"
    sign, n = ("-", -nanos) if nanos < 0 else ("", nanos)
    if n < 1_000_000_000:
        for unit, size, digits in (("ms", 1_000_000, 6), ("µs", 1_000, 3), ("ns", 1, 0)):
            if n >= size:
                whole, rest = divmod(n, size)
                return f"{sign}{whole}{_fraction(rest, digits) if digits else ''}{unit}"
    seconds, rest = divmod(n, 1_000_000_000)
    text = f"{seconds % 60}{_fraction(rest, 9)}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def duration_json(data: bytes) -> str:
    got = _Scalars(data, "Duration", {1: ("Duration", VARINT)})
    return go_duration(as_int64(got.int_at(1)))


def quantity_json(data: bytes) -> str:
    """resource.Quantity: its string (clients send the canonical form); absent is the zero, "0"."""
    raw = _Scalars(data, "Quantity", {1: ("String_", BYTES)}).bytes_at(1)
    if raw is None:
        return "0"
    text = raw.decode("utf-8", "replace")
    if not text.strip():
        raise ProtoError(_QUANTITY_FORMAT)
    return text


def int_or_string_json(data: bytes) -> int | str:
    got = _Scalars(data, "IntOrString", {1: ("Type", VARINT), 2: ("IntVal", VARINT), 3: ("StrVal", BYTES)})
    if as_int64(got.int_at(1)) == 1:
        return (got.bytes_at(3) or b"").decode("utf-8", "replace")
    return as_int32(got.int_at(2))


def _raw_json(data: bytes, message: str) -> Any:
    raw = _Scalars(data, message, {1: ("Raw", BYTES)}).bytes_at(1)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ProtoError(f"proto: {message}: the raw bytes are not JSON: {exc}") from exc


def raw_extension_json(data: bytes) -> Any:
    return _raw_json(data, "RawExtension")


def fields_v1_json(data: bytes) -> Any:
    return _raw_json(data, "FieldsV1")


KNOWN: dict[str, Callable[[bytes], Any]] = {
    "meta.v1.Time": time_json,
    "meta.v1.MicroTime": micro_time_json,
    "meta.v1.Duration": duration_json,
    "meta.v1.FieldsV1": fields_v1_json,
    "resource.Quantity": quantity_json,
    "intstr.IntOrString": int_or_string_json,
    "runtime.RawExtension": raw_extension_json,
}
