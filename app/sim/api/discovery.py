"""Discovery documents: /version, /api, /apis and the APIResourceLists of v1, apps/v1 and
discovery.k8s.io/v1 (verbs, shortNames, subresources deployments/scale and pods/status)."""

from __future__ import annotations

from typing import Any

from app.kinds import KINDS, KindInfo

Obj = dict[str, Any]

VERSION_INFO: Obj = {
    "major": "1",
    "minor": "36",
    "emulationMajor": "1",
    "emulationMinor": "36",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "35",
    "gitVersion": "v1.36.2-slicescope",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_NO_COLLECTION = ["create", "delete", "get", "list", "patch", "update", "watch"]
_SUB_VERBS = ["get", "patch", "update"]
# The subresources served, per kind: name -> (group, version, kind) of the subresource object.
SUBRESOURCES: dict[str, dict[str, tuple[str, str, str]]] = {
    "Pod": {"status": ("", "v1", "Pod")},
    "Deployment": {"scale": ("autoscaling", "v1", "Scale"), "status": ("apps", "v1", "Deployment")},
    "ReplicaSet": {"scale": ("autoscaling", "v1", "Scale"), "status": ("apps", "v1", "ReplicaSet")},
    "Service": {"status": ("", "v1", "Service")},
    "Node": {"status": ("", "v1", "Node")},
    "Namespace": {"status": ("", "v1", "Namespace")},
}
_CATEGORIES = {"Pod": ["all"], "Service": ["all"], "Deployment": ["all"], "ReplicaSet": ["all"]}

GROUP_VERSIONS: dict[str, list[str]] = {"": ["v1"], "apps": ["v1"], "discovery.k8s.io": ["v1"]}


def _kinds_in(group: str, version: str) -> list[KindInfo]:
    return sorted(
        (k for k in KINDS.values() if k.group == group and k.version == version), key=lambda k: k.plural
    )


def _resource(info: KindInfo) -> Obj:
    res: Obj = {
        "name": info.plural,
        "singularName": info.kind.lower(),
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": _NO_COLLECTION if info.kind == "Namespace" else _ALL_VERBS,
    }
    if info.short_names:
        res["shortNames"] = list(info.short_names)
    if info.kind in _CATEGORIES:
        res["categories"] = _CATEGORIES[info.kind]
    return res


def resource_list(group: str, version: str) -> Obj | None:
    """APIResourceList for a group/version, or None when it is not served."""
    if version not in GROUP_VERSIONS.get(group, []):
        return None
    resources: list[Obj] = []
    for info in _kinds_in(group, version):
        resources.append(_resource(info))
        for sub, (g, v, k) in sorted(SUBRESOURCES.get(info.kind, {}).items()):
            entry: Obj = {
                "name": f"{info.plural}/{sub}",
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": k,
                "verbs": _SUB_VERBS,
            }
            if g != group or v != version:
                entry["group"], entry["version"] = g, v
            resources.append(entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def api_versions(server_address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str) -> Obj:
    versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in GROUP_VERSIONS[name]]
    return {"name": name, "versions": versions, "preferredVersion": versions[0]}


def api_group_list() -> Obj:
    groups = [_group(g) for g in GROUP_VERSIONS if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(name: str) -> Obj | None:
    if not name or name not in GROUP_VERSIONS:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}
