"""The verbs of the simulated API over the cluster's single store: get, list, create, update, patch,
delete, deletecollection, and the scale and status subresources. Pure of HTTP: each takes parsed
arguments and returns (status code, body) or raises ApiError."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from app.kinds import KINDS, KindInfo
from app.sim.api import decoding
from app.sim.api import patch as patching
from app.sim.api.defaulting import defaulted
from app.sim.api.encoding import list_metadata, typed_list, with_type
from app.sim.api.fielderr import invalid, invalid_error
from app.sim.api.paging import paginate
from app.sim.api.paths import ResourcePath
from app.sim.api.selectors import (
    FieldRequirement,
    Requirement,
    equality_part,
    fields_match,
    format_label_selector,
    labels_match,
)
from app.sim.api.validation import validate
from app.sim.clock import SimClock
from app.sim.errors import ApiError, conflict, not_found
from app.sim.store import ObjectStore

Obj = dict[str, Any]

# Kinds whose status only changes through the status subresource (a main-resource write keeps it).
STATUS_KINDS = frozenset({"Pod", "Service", "Deployment", "ReplicaSet", "Node", "Namespace"})
# On create the server resets status for these (the controllers and the kubelet own it).
RESET_STATUS_ON_CREATE = frozenset({"Pod", "Service", "Deployment", "ReplicaSet"})
# Objects one step of a collection DELETE removes before the event loop gets a turn.
DELETE_BATCH = 200
_SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation")


@dataclass(frozen=True, slots=True)
class Written:
    """A write's result: the object as stored, and the warnings for the response."""

    obj: Obj
    warnings: list[str]


class Cluster(Protocol):
    store: ObjectStore
    clock: SimClock


@dataclass
class Api:
    """The cluster the handlers act on."""

    cluster: Any

    @property
    def store(self) -> ObjectStore:
        return self.cluster.store

    @property
    def now(self) -> float:
        return self.cluster.clock.now()

    # ---- reads ------------------------------------------------------------------------------
    def get(self, path: ResourcePath) -> Obj:
        assert path.name
        return self.store.require(path.info.kind, path.namespace or "", path.name)

    def select(
        self, info: KindInfo, namespace: str | None, labels: list[Requirement], fields: list[FieldRequirement]
    ) -> list[Obj]:
        eq = equality_part(labels)
        if eq and namespace is not None:
            objs = self.store.list(info.kind, namespace, eq)
        else:
            objs = self.store.list(info.kind, namespace)
        return [
            o
            for o in objs
            if labels_match(labels, (o.get("metadata") or {}).get("labels")) and fields_match(fields, o)
        ]

    def list_page(
        self,
        info: KindInfo,
        namespace: str | None,
        labels: list[Requirement],
        fields: list[FieldRequirement],
        limit: int | None,
        token: str | None,
    ) -> tuple[list[Obj], Obj]:
        rv = self.store.resource_version
        page = paginate(self.select(info, namespace, labels, fields), limit, token, rv)
        return page.items, list_metadata(rv, page.continue_token, page.remaining)

    def list_body(self, info: KindInfo, items: list[Obj], md: Obj) -> Obj:
        return typed_list(info, items, md)

    # ---- writes -----------------------------------------------------------------------------
    def _namespace_exists(self, namespace: str) -> None:
        if self.store.count("Namespace") and self.store.get("Namespace", "", namespace) is None:
            raise not_found("Namespace", namespace)

    def _check_body(self, path: ResourcePath, body: Any) -> Obj:
        info = path.info
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request must be a JSON object")
        kind = body.get("kind") or info.kind
        api_version = body.get("apiVersion") or info.api_version
        if kind != info.kind or api_version != info.api_version:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({info.api_version})"
                if api_version != info.api_version
                else f"the kind in the data ({kind}) does not match the expected kind ({info.kind})",
            )
        obj = copy.deepcopy(body)
        obj["kind"], obj["apiVersion"] = info.kind, info.api_version
        md = obj.get("metadata")
        if md is None:
            md = obj["metadata"] = {}
        if not isinstance(md, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if info.namespaced:
            body_ns = md.get("namespace")
            if path.namespace is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if body_ns and body_ns != path.namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            md["namespace"] = path.namespace
        else:
            md.pop("namespace", None)
        return obj

    def create(
        self, path: ResourcePath, body: Any, *, dry_run: bool = False, field_validation: str = decoding.WARN
    ) -> Written:
        if path.name is not None:
            raise method_not_allowed()
        obj = self._check_body(path, body)
        decoded = decoding.check_body(obj, path.info.kind, path.info.version, field_validation)
        obj = decoded.obj
        md = obj.setdefault("metadata", {})
        for f in _SERVER_METADATA:
            md.pop(f, None)
        md.pop("managedFields", None)
        if path.info.kind in RESET_STATUS_ON_CREATE:
            obj.pop("status", None)
        if path.info.namespaced:
            self._namespace_exists(md["namespace"])
        probe = copy.deepcopy(obj)
        if not md.get("name") and md.get("generateName"):
            # The server names the object before validating it.
            probe["metadata"]["name"] = md["generateName"][:58] + "xxxxx"
        validate(probe)
        if dry_run:
            return Written(with_type(defaulted(obj), path.info), decoded.warnings)
        return Written(self.store.create(obj), decoded.warnings)

    def _merge_status(self, kind: str, new: Obj, old: Obj, subresource: str | None) -> Obj:
        """Main-resource writes keep the old status; status writes change only status."""
        if kind not in STATUS_KINDS:
            return new
        if subresource == "status":
            out = copy.deepcopy(old)
            out["status"] = new.get("status") or {}
            rv = (new.get("metadata") or {}).get("resourceVersion")
            if rv:
                out["metadata"]["resourceVersion"] = rv
            return out
        out = dict(new)
        if "status" in old:
            out["status"] = old["status"]
        else:
            out.pop("status", None)
        return out

    def _write(self, path: ResourcePath, obj: Obj, old: Obj) -> Obj:
        md = obj.setdefault("metadata", {})
        if md.get("name") != path.name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({md.get('name')}) does not match the name on the URL",
            )
        if md.get("uid") and md["uid"] != old["metadata"].get("uid"):
            raise ApiError(409, "Conflict", f"Precondition failed: UID in precondition: {md['uid']}")
        validate(obj, old)
        return self.store.update(obj)

    def update(self, path: ResourcePath, body: Any, *, field_validation: str = decoding.WARN) -> Written:
        if path.name is None:
            raise method_not_allowed()
        if path.subresource not in (None, "status"):
            raise not_found_sub(path)
        old = self.get(path)
        obj = self._check_body(path, body)
        decoded = decoding.check_body(obj, path.info.kind, path.info.version, field_validation)
        obj = self._merge_status(path.info.kind, decoded.obj, old, path.subresource)
        return Written(self._write(path, obj, old), decoded.warnings)

    def patch(
        self, path: ResourcePath, content_type: str, body: Any, *, field_validation: str = decoding.WARN
    ) -> Written:
        if path.name is None:
            raise method_not_allowed()
        if path.subresource not in (None, "status"):
            raise not_found_sub(path)
        old = self.get(path)
        patched = patching.apply_patch(copy.deepcopy(old), content_type, body, path.info.kind)
        if not isinstance(patched, dict):
            raise ApiError(422, "Invalid", "the patch did not produce an object")
        patched["kind"], patched["apiVersion"] = path.info.kind, path.info.api_version
        known = set(decoding.decode(old, path.info.kind).strict)
        decoded = decoding.check_patched(
            patched, path.info.kind, field_validation, decoding.patch_duplicates(body), ignore=known
        )
        patched = decoded.obj
        md = patched.setdefault("metadata", {})
        for f in ("uid", "creationTimestamp", "namespace"):
            if f in old["metadata"]:
                md[f] = old["metadata"][f]
        if md.get("name") != path.name:
            raise ApiError(
                422, "Invalid", f"metadata.name: Invalid value: {md.get('name')!r}: field is immutable"
            )
        if md.get("resourceVersion") and md["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(path.info.kind, path.name)
        patched = self._merge_status(path.info.kind, patched, old, path.subresource)
        return Written(self._write(path, patched, old), decoded.warnings)

    # ---- scale ------------------------------------------------------------------------------
    def scale_of(self, obj: Obj) -> Obj:
        md = obj["metadata"]
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        selector = format_label_selector(spec.get("selector"))
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": md["name"],
                "namespace": md.get("namespace", ""),
                "uid": md.get("uid"),
                "resourceVersion": md.get("resourceVersion"),
                "creationTimestamp": md.get("creationTimestamp"),
            },
            "spec": {"replicas": int(spec.get("replicas", 1) or 0)},
            "status": {
                "replicas": int(status.get("replicas") or 0),
                "selector": "" if selector == "<none>" else selector,
            },
        }

    def set_replicas(self, path: ResourcePath, replicas: Any, rv: str | None) -> Obj:
        old = self.get(path)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise invalid_error(
                "Scale",
                path.name or "",
                [invalid("spec.replicas", replicas, "must be greater than or equal to 0")],
            )
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(path.info.kind, path.name or "")
        ns, name = path.namespace or "", path.name or ""
        scale = getattr(self.cluster, "scale", None)
        if path.info.kind == "Deployment" and callable(scale):
            scale(ns, name, replicas)
        else:

            def change(o: Obj) -> None:
                o.setdefault("spec", {})["replicas"] = replicas

            self.store.mutate(path.info.kind, ns, name, change)
        return self.scale_of(self.get(path))

    def patch_scale(self, path: ResourcePath, content_type: str, body: Any) -> Obj:
        current = self.scale_of(self.get(path))
        patched = patching.apply_patch(copy.deepcopy(current), content_type, body, "Scale")
        rv = ((patched or {}).get("metadata") or {}).get("resourceVersion")
        if rv == current["metadata"]["resourceVersion"]:
            rv = None
        return self.set_replicas(path, ((patched or {}).get("spec") or {}).get("replicas"), rv)

    def put_scale(self, path: ResourcePath, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request must be a Scale object")
        rv = (body.get("metadata") or {}).get("resourceVersion")
        return self.set_replicas(path, (body.get("spec") or {}).get("replicas", 0), rv)

    # ---- delete -----------------------------------------------------------------------------
    def delete(self, path: ResourcePath, options: Obj) -> Obj:
        if path.name is None or path.subresource is not None:
            raise method_not_allowed()
        obj = self.get(path)
        pre = options.get("preconditions") or {}
        md = obj["metadata"]
        if pre.get("uid") and pre["uid"] != md.get("uid"):
            raise ApiError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: {pre['uid']}, "
                f"UID in object meta: {md.get('uid')}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != md.get("resourceVersion"):
            raise conflict(path.info.kind, path.name)
        if options.get("dryRun"):
            return obj
        policy = options.get("propagationPolicy")
        if options.get("orphanDependents") is True:
            policy = "Orphan"
        if policy == "Orphan":
            self._orphan_dependents(obj)
        grace = options.get("gracePeriodSeconds")
        ns = path.namespace or ""
        remove = getattr(self.cluster, "delete", None)
        if callable(remove):
            remove(path.info.kind, ns, path.name, grace_seconds=grace)
        else:
            self.store.delete(path.info.kind, ns, path.name)
        after = self.store.get(path.info.kind, ns, path.name)
        return after if after is not None else obj

    def _orphan_dependents(self, owner: Obj) -> None:
        uid = owner["metadata"].get("uid")
        ns = owner["metadata"].get("namespace")
        for kind, info in KINDS.items():
            if not info.namespaced:
                continue
            for o in self.store.list(kind, ns):
                refs = o["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):

                    def drop(x: Obj, uid: Any = uid) -> None:
                        kept = [r for r in x["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
                        if kept:
                            x["metadata"]["ownerReferences"] = kept
                        else:
                            x["metadata"].pop("ownerReferences", None)

                    self.store.mutate(kind, ns or "", o["metadata"]["name"], drop)

    def delete_collection(
        self, path: ResourcePath, labels: list[Requirement], fields: list[FieldRequirement], options: Obj
    ) -> Obj:
        deleted: list[Obj] = []
        for _ in self.delete_collection_steps(path, labels, fields, options, deleted):
            pass
        return self.deleted_list(path, deleted)

    def delete_collection_steps(
        self,
        path: ResourcePath,
        labels: list[Requirement],
        fields: list[FieldRequirement],
        options: Obj,
        deleted: list[Obj],
    ) -> Iterator[int]:
        """DELETE of a collection, DELETE_BATCH objects at a time: yields after each batch (how
        many so far) so the caller can let the event loop run; what was deleted goes in `deleted`.
        Like the API server's, it is not atomic: objects gone meanwhile are skipped."""
        items = self.select(path.info, path.namespace, labels, fields)
        for start in range(0, len(items), DELETE_BATCH):
            for o in items[start : start + DELETE_BATCH]:
                name = o["metadata"]["name"]
                one = ResourcePath(path.info, o["metadata"].get("namespace") or None, name, None)
                try:
                    deleted.append(self.delete(one, options))
                except ApiError as exc:
                    if exc.code != 404:
                        raise
            yield len(deleted)

    def deleted_list(self, path: ResourcePath, deleted: list[Obj]) -> Obj:
        return self.list_body(path.info, deleted, list_metadata(self.store.resource_version, None, None))


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def not_found_sub(path: ResourcePath) -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")
