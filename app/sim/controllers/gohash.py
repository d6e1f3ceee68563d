"""The order Kubernetes gives endpoint ports: each port's Go value printed the way
k8s.io/utils/dump.ForHash prints it (spew's %#v: types shown, pointers followed), then hashed,
FNV-128a for EndpointSlice ports (NewPortMapKey's portsInOrder) and MD5 for the ports of an
Endpoints subset (portsByHash in pkg/api/v1/endpoints). Deterministic, opaque to the eye."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, TypeVar

Obj = dict[str, Any]
T = TypeVar("T")

_FNV128_OFFSET = 0x6C62272E07BB014262B821756295C58D
_FNV128_PRIME = 0x0000000001000000000000000000013B
_MASK128 = (1 << 128) - 1


def fnv128a(data: bytes) -> bytes:
    """hash/fnv New128a's digest of data (big-endian, as Sum writes it)."""
    h = _FNV128_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV128_PRIME) & _MASK128
    return h.to_bytes(16, "big")


def _ptr(go_type: str, value: object) -> str:
    """A pointer field: its type, then the value it points to (or <nil>)."""
    return f"(*{go_type})<nil>" if value is None else f"(*{go_type}){value}"


def slice_port_text(name: str, port: int, protocol: str, app_protocol: str | None) -> str:
    """dump.ForHash of a discovery/v1 EndpointPort (every field a pointer; Name and Protocol are
    always set by the controllers, AppProtocol only when the Service port has one)."""
    return (
        f"(v1.EndpointPort){{Name:{_ptr('string', name)} Protocol:{_ptr('v1.Protocol', protocol)} "
        f"Port:{_ptr('int32', port)} AppProtocol:{_ptr('string', app_protocol)}}}"
    )


def endpoints_port_text(name: str, port: int, protocol: str, app_protocol: str | None) -> str:
    """dump.ForHash of a core/v1 EndpointPort (plain fields but AppProtocol)."""
    return (
        f"(v1.EndpointPort){{Name:(string){name} Port:(int32){port} Protocol:(v1.Protocol){protocol} "
        f"AppProtocol:{_ptr('string', app_protocol)}}}"
    )


def _fields(p: Obj) -> tuple[str, int, str, str | None]:
    return (
        str(p.get("name") or ""),
        int(p.get("port") or 0),
        str(p.get("protocol") or "TCP"),
        p.get("appProtocol") or None,
    )


@lru_cache(maxsize=4096)
def slice_port_hash(name: str, port: int, protocol: str, app_protocol: str | None) -> str:
    """deepHashObjectToString in staging/src/k8s.io/endpointslice/util: hex FNV-128a."""
    return fnv128a(slice_port_text(name, port, protocol, app_protocol).encode()).hex()


@lru_cache(maxsize=4096)
def endpoints_port_hash(name: str, port: int, protocol: str, app_protocol: str | None) -> bytes:
    """hashObject in pkg/api/v1/endpoints: the MD5 digest."""
    return hashlib.md5(endpoints_port_text(name, port, protocol, app_protocol).encode()).digest()


def _sorted_by(items: Iterable[T], port_of: Callable[[T], Obj], key: Callable[..., Any]) -> list[T]:
    return sorted(items, key=lambda item: key(*_fields(port_of(item))))


def sort_slice_ports(ports: Iterable[Obj]) -> list[Obj]:
    """EndpointSlice ports in portsInOrder order."""
    return _sorted_by(ports, lambda p: p, slice_port_hash)


def sort_endpoints_ports(ports: Iterable[T], port_of: Callable[[T], Obj]) -> list[T]:
    """Items carrying Endpoints ports (`port_of` gives an item's port) in portsByHash order."""
    return _sorted_by(ports, port_of, endpoints_port_hash)
