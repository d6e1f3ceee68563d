"""A minimal OpenAPI v3 index: the PATCH operations of each served kind with the `fieldValidation`
parameter, which tells kubectl (apply/create) to leave validation to the server instead of
downloading full schemas. No schemas are served: kubectl computes patches from its built-in types."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.kinds import KINDS
from app.sim.api.discovery import GROUP_VERSIONS

Obj = dict[str, Any]


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def gv_document(group: str, version: str) -> Obj | None:
    if version not in GROUP_VERSIONS.get(group, []):
        return None
    paths: Obj = {}
    for info in KINDS.values():
        if info.group != group or info.version != version:
            continue
        base = "/" + _gv_path(group, version)
        scope = "/namespaces/{namespace}" if info.namespaced else ""
        gvk = {"group": group, "version": version, "kind": info.kind}
        paths[f"{base}{scope}/{info.plural}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{info.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [
                    {
                        "name": "fieldManager",
                        "in": "query",
                        "schema": {"type": "string", "uniqueItems": True},
                    },
                    {
                        "name": "fieldValidation",
                        "in": "query",
                        "schema": {"type": "string", "uniqueItems": True},
                    },
                ],
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.36.2"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def root_document(url_prefix: str) -> Obj:
    """`/openapi/v3`: where each group-version's document is; URLs are absolute paths on the server."""
    out: Obj = {}
    for group, versions in GROUP_VERSIONS.items():
        for version in versions:
            doc = gv_document(group, version)
            digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
            rel = _gv_path(group, version)
            out[rel] = {"serverRelativeURL": f"{url_prefix}/openapi/v3/{rel}?hash={digest}"}
    return {"paths": out}
