"""A request body in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`): the
`k8s\\x00` prefix, then a runtime.Unknown naming apiVersion and kind around the object's bytes.
It becomes the JSON object a JSON client would have sent, and its errors are the API server's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.sim.api.proto.messages import message_json
from app.sim.api.proto.schema_data import KINDS
from app.sim.api.proto.wire import BYTES, ProtoError, fields

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
_SERVED_VERSIONS = frozenset(key.rsplit("/", 1)[0] for key in KINDS)
# metav1.AddToGroupVersion registers the options kinds in every group version.
_OPTIONS_KINDS = frozenset({"DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "Status"})
Obj = dict[str, Any]


@dataclass
class DecodeFailure(Exception):
    """The body could not be decoded; `kind` is the kind the envelope named, once it was read."""

    detail: str
    api_version: str | None = None
    kind: str | None = None

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True, slots=True)
class Envelope:
    api_version: str
    kind: str
    raw: bytes


def _text(value: int | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def read_envelope(body: bytes) -> Envelope:
    """The runtime.Unknown after the prefix, as the protobuf serializer reads it."""
    if not body:
        raise ProtoError("empty data")
    if not body.startswith(MAGIC):
        raise ProtoError(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
        )
    if len(body) == len(MAGIC):
        raise ProtoError("empty body")
    api_version = kind = ""
    raw = b""
    for number, wire, value in fields(body[len(MAGIC) :], "Unknown", (1, 2, 3, 4)):
        if wire != BYTES or not isinstance(value, bytes):
            name = {1: "TypeMeta", 2: "Raw", 3: "ContentEncoding", 4: "ContentType"}[number]
            raise ProtoError(f"proto: wrong wireType = {wire} for field {name}")
        if number == 1:
            for sub, sub_wire, text in fields(value, "TypeMeta", (1, 2)):
                if sub_wire != BYTES:
                    raise ProtoError(
                        f"proto: wrong wireType = {sub_wire} for field {'APIVersion' if sub == 1 else 'Kind'}"
                    )
                if sub == 1:
                    api_version = _text(text)
                else:
                    kind = _text(text)
        elif number == 2:
            raw = value
    return Envelope(api_version, kind, raw)


def message_for(api_version: str, kind: str) -> str:
    message = KINDS.get(f"{api_version}/{kind}")
    if message is None and kind in _OPTIONS_KINDS and api_version in _SERVED_VERSIONS:
        message = KINDS.get(f"meta.k8s.io/v1/{kind}")
    if message is None:
        raise ProtoError(
            f'no kind "{kind}" is registered for version "{api_version}" '
            'in scheme "pkg/api/legacyscheme/scheme.go:30"'
        )
    return message


def decode_object(body: bytes, default_api_version: str, default_kind: str) -> Obj:
    """The object in a protobuf body as JSON, kind and apiVersion first; a missing kind or version
    is the request's (the serializer's copyKindDefaults)."""
    try:
        envelope = read_envelope(body)
    except ProtoError as exc:
        raise DecodeFailure(str(exc)) from exc
    kind = envelope.kind or default_kind
    api_version = envelope.api_version
    if not api_version.rsplit("/", 1)[-1]:
        api_version = default_api_version
    try:
        obj = message_json(message_for(api_version, kind), envelope.raw)
    except ProtoError as exc:
        raise DecodeFailure(str(exc), api_version, kind) from exc
    return {"kind": kind, "apiVersion": api_version, **obj}
