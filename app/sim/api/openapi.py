"""OpenAPI v3 documents of the served group-versions: the object schemas (what `kubectl explain`
reads) and each kind's paths with their group-version-kind. The PATCH operations carry the
`fieldValidation` parameter, which tells kubectl to leave field validation to the server; they
list no request body, so `kubectl apply` keeps computing its patches from its built-in types."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from app.kinds import KINDS, KindInfo
from app.sim.api.discovery import GROUP_VERSIONS
from app.sim.api.schema import META, FieldType, TypeDef, component_name, root, type_defs

Obj = dict[str, Any]

TIME = f"{META}.Time"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
FIELDS_V1 = f"{META}.FieldsV1"
_LEAVES: dict[str, Obj] = {
    TIME: {
        "description": "A timestamp, written in RFC 3339 form with second precision.",
        "type": "string",
        "format": "date-time",
    },
    INT_OR_STRING: {
        "description": "An integer or a string: a port number or name, a count or a percentage.",
        "type": "string",
        "format": "int-or-string",
    },
    QUANTITY: {
        "description": "A fixed-point number with an optional suffix, e.g. 500m (CPU) or 128Mi (memory).",
        "type": "string",
    },
    FIELDS_V1: {"description": "The set of fields a manager owns, in the FieldsV1 format.", "type": "object"},
}
_INT64 = {"generation", "observedGeneration", "terminationGracePeriodSeconds", "activeDeadlineSeconds"}


def _ref(name: str) -> Obj:
    return {"$ref": f"#/components/schemas/{name}"}


def _field_schema(ft: FieldType, name: str, refs: set[str]) -> Obj:
    if ft.kind == "ref" and ft.ref:
        refs.add(ft.ref)
        return {"allOf": [_ref(ft.ref)], "default": {}}
    if ft.kind == "list":
        return {"type": "array", "items": _field_schema(ft.item or FieldType("any"), name, refs)}
    if ft.kind == "map":
        return {
            "type": "object",
            "additionalProperties": _field_schema(ft.item or FieldType("any"), name, refs),
        }
    leaf = {"date-time": TIME, "int-or-string": INT_OR_STRING, "quantity": QUANTITY}.get(ft.kind)
    if leaf:
        refs.add(leaf)
        return {"allOf": [_ref(leaf)]}
    if ft.kind == "any":
        refs.add(FIELDS_V1)
        return {"allOf": [_ref(FIELDS_V1)]}
    if ft.kind == "integer":
        return {"type": "integer", "format": "int64" if name in _INT64 else "int32"}
    if ft.kind == "number":
        return {"type": "number", "format": "double"}
    return {"type": ft.kind}


def _type_schema(td: TypeDef, refs: set[str]) -> Obj:
    properties: Obj = {}
    for name, ft in sorted(td.fields.items()):
        prop = _field_schema(ft, name, refs)
        if name in td.descriptions:
            prop["description"] = td.descriptions[name]
        properties[name] = prop
    out: Obj = {"type": "object", "properties": properties}
    if td.description:
        out["description"] = td.description
    if td.required:
        out["required"] = sorted(td.required)
    if td.gvk:
        out["x-kubernetes-group-version-kind"] = [td.gvk]
    return out


def _schemas(roots: list[str]) -> Obj:
    """Every schema reachable from `roots`, by component name."""
    defs = type_defs()
    out: Obj = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        if name in _LEAVES:
            out[name] = _LEAVES[name]
            continue
        refs: set[str] = set()
        out[name] = _type_schema(defs[name], refs)
        todo += sorted(refs - out.keys())
    return dict(sorted(out.items()))


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _operation(info: KindInfo, action: str, verb: str) -> Obj:
    gvk = {"group": info.group, "version": info.version, "kind": info.kind}
    group = "".join(p.capitalize() for p in (info.group or "core").split(".")[:1])
    scope = "Namespaced" if info.namespaced else ""
    op: Obj = {
        "operationId": f"{verb}{group}{info.version.capitalize()}{scope}{info.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": _ref(component_name_of(info))}},
            }
        },
    }
    if action in ("post", "put", "patch"):
        op["parameters"] = [
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        ]
    return op


def component_name_of(info: KindInfo) -> str:
    return root(info.kind).name


def _paths(group: str, version: str) -> Obj:
    paths: Obj = {}
    for info in sorted(KINDS.values(), key=lambda k: k.plural):
        if info.group != group or info.version != version:
            continue
        base = "/" + _gv_path(group, version) + ("/namespaces/{namespace}" if info.namespaced else "")
        paths[f"{base}/{info.plural}"] = {
            "get": _operation(info, "list", "list"),
            "post": _operation(info, "post", "create"),
        }
        paths[f"{base}/{info.plural}/{{name}}"] = {
            "get": _operation(info, "get", "read"),
            "put": _operation(info, "put", "replace"),
            "patch": _operation(info, "patch", "patch"),
            "delete": _operation(info, "delete", "delete"),
        }
    return paths


@functools.lru_cache(maxsize=8)
def gv_bytes(group: str, version: str) -> bytes | None:
    """The encoded document of one group-version (built once), or None when it is not served."""
    if version not in GROUP_VERSIONS.get(group, []):
        return None
    roots = [root(k.kind).name for k in KINDS.values() if k.group == group and k.version == version]
    roots += [component_name("V1Status"), component_name("V1DeleteOptions")]
    if group == "apps":
        roots.append(component_name("V1Scale"))
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.36.2"},
        "paths": _paths(group, version),
        "components": {"schemas": _schemas(roots)},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def gv_document(group: str, version: str) -> Obj | None:
    data = gv_bytes(group, version)
    return None if data is None else json.loads(data)


@functools.lru_cache(maxsize=8)
def _digest(group: str, version: str) -> str:
    return hashlib.sha512(gv_bytes(group, version) or b"").hexdigest()[:128].upper()


def root_document(url_prefix: str) -> Obj:
    """`/openapi/v3`: where each group-version's document is, with a content hash kubectl caches by."""
    out: Obj = {}
    for group, versions in GROUP_VERSIONS.items():
        for version in versions:
            rel = _gv_path(group, version)
            out[rel] = {"serverRelativeURL": f"{url_prefix}/openapi/v3/{rel}?hash={_digest(group, version)}"}
    return {"paths": out}


def warm_up() -> None:
    """Build the schemas and every document ahead of the first request that needs them."""
    for group, versions in GROUP_VERSIONS.items():
        for version in versions:
            _digest(group, version)
