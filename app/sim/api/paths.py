"""Request paths of the Kubernetes API (`/api/v1/namespaces/ns/pods/name/status`, `/apis/g/v/...`)
parsed into what they address, like the API server's RequestInfoFactory."""

from __future__ import annotations

from dataclasses import dataclass

from app.kinds import BY_PLURAL, KindInfo
from app.sim.errors import ApiError


@dataclass(frozen=True, slots=True)
class ResourcePath:
    info: KindInfo
    namespace: str | None  # None: cluster-scoped kind, or all namespaces
    name: str | None
    subresource: str | None
    legacy_watch: bool = False  # the old /watch/ prefix


def not_served() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def parse_resource_path(group: str, version: str, rest: list[str]) -> ResourcePath:
    """Parse the part after /api/v1 or /apis/<group>/<version>; 404 when nothing is served there."""
    legacy_watch = False
    if rest and rest[0] == "watch":
        legacy_watch, rest = True, rest[1:]
    if not rest:
        raise not_served()
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise not_served()
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    info = BY_PLURAL.get((group, resource))
    if info is None or info.version != version:
        raise not_served()
    if not info.namespaced and namespace is not None:
        raise not_served()
    if name == "":
        raise not_served()
    return ResourcePath(info, namespace, name, sub, legacy_watch)
