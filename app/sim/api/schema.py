"""The object schemas of the served kinds, read from the Kubernetes Python client's generated
models (field names, types, required fields, descriptions): the source of the OpenAPI documents
and of the unknown-field checks. Built once, on first use (the client, slow to import, is imported then)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from app.kinds import KINDS
from app.sim.api.field_docs import FIELD_DOCS

# The Python client class of each served kind (and of the objects the API answers with).
ROOTS: dict[str, str] = {
    "Pod": "V1Pod",
    "Service": "V1Service",
    "Endpoints": "V1Endpoints",
    "Node": "V1Node",
    "Namespace": "V1Namespace",
    "Event": "CoreV1Event",
    "EndpointSlice": "V1EndpointSlice",
    "Deployment": "V1Deployment",
    "ReplicaSet": "V1ReplicaSet",
}
EXTRA_ROOTS = ("V1Scale", "V1Status", "V1DeleteOptions")

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_META_TYPES = {
    "ObjectMeta",
    "ManagedFieldsEntry",
    "OwnerReference",
    "LabelSelector",
    "LabelSelectorRequirement",
    "Condition",
    "Status",
    "StatusDetails",
    "StatusCause",
    "ListMeta",
    "DeleteOptions",
    "Preconditions",
}
_DISCOVERY_TYPES = {"EndpointSlice", "Endpoint", "EndpointConditions", "EndpointHints", "ForZone", "ForNode"}
_AUTOSCALING_TYPES = {"Scale", "ScaleSpec", "ScaleStatus"}
# Fields the client types as `object` that hold an int or a string (intstr.IntOrString).
_INT_OR_STRING = {
    ("V1ServicePort", "target_port"),
    ("V1HTTPGetAction", "port"),
    ("V1TCPSocketAction", "port"),
    ("V1RollingUpdateDeployment", "max_surge"),
    ("V1RollingUpdateDeployment", "max_unavailable"),
}
_QUANTITY_MAPS = {"limits", "requests", "capacity", "allocatable", "overhead"}
_KIND_DESCRIPTIONS = {
    "Pod": "Pod is a group of containers that run together on one node; it is the unit the "
    "scheduler places and that Services send traffic to.",
    "Service": "Service gives a stable virtual address and name to the pods its selector matches; "
    "its endpoints are kept in EndpointSlices.",
    "Endpoints": "Endpoints is the legacy list of the addresses behind a Service, grouped in subsets "
    "of identical ports. Deprecated in favour of EndpointSlice.",
    "Node": "Node is a machine of the cluster that runs pods.",
    "Namespace": "Namespace is a scope for the names of namespaced objects.",
    "Event": "Event is a report of something that happened in the cluster, attached to an object.",
    "EndpointSlice": "EndpointSlice holds a part of the endpoints of a Service: their addresses, "
    "conditions, topology and the ports they serve.",
    "Deployment": "Deployment declares the pods a workload should have and rolls out changes to "
    "them through ReplicaSets.",
    "ReplicaSet": "ReplicaSet keeps a given number of pods matching its selector running.",
}


@dataclass(frozen=True, slots=True)
class FieldType:
    """A field's type: a scalar (`string`, `integer`, `boolean`, `number`, `date-time`,
    `int-or-string`, `quantity`, `any`), `ref` to a TypeDef, or `list`/`map` of `item`."""

    kind: str
    ref: str | None = None
    item: FieldType | None = None


@dataclass(slots=True)
class TypeDef:
    name: str  # the OpenAPI component name, e.g. io.k8s.api.core.v1.Pod
    go_name: str  # e.g. v1.Pod, as Go names the type in decoding errors
    fields: dict[str, FieldType] = field(default_factory=dict)  # JSON name -> type
    descriptions: dict[str, str] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    description: str = ""
    gvk: dict[str, str] | None = None  # set on the served kinds


def _go_type_name(cls_name: str) -> str:
    return re.sub(r"^(?:[A-Z][a-z]+)?V\d+(?:(?:alpha|beta)\d+)?", "", cls_name)


def component_name(cls_name: str) -> str:
    name = _go_type_name(cls_name)
    if name in _META_TYPES:
        return f"{META}.{name}"
    if name in _DISCOVERY_TYPES or cls_name.startswith("DiscoveryV1"):
        return f"io.k8s.api.discovery.v1.{name}"
    if name in _AUTOSCALING_TYPES:
        return f"io.k8s.api.autoscaling.v1.{name}"
    if name.startswith(("Deployment", "ReplicaSet", "RollingUpdateDeployment")):
        return f"io.k8s.api.apps.v1.{name}"
    return f"io.k8s.api.core.v1.{name}"


def _description(prop: Any) -> str:
    doc = getattr(prop, "__doc__", None) or ""
    parts = doc.split("\n\n")
    if len(parts) < 3:
        return ""
    text = parts[1].strip()
    return "" if text.startswith(":return:") else text.replace("  # noqa: E501", "").strip()


def _is_required(prop: Any) -> bool:
    """The generated setter refuses None for a required field (a constant of its code says so)."""
    code = getattr(getattr(prop, "fset", None), "__code__", None)
    consts = code.co_consts if code is not None else ()
    return any(isinstance(c, str) and c.endswith("must not be `None`") for c in consts)


class _Builder:
    def __init__(self, models: ModuleType) -> None:
        self.models = models  # the kubernetes.client module
        self.types: dict[str, TypeDef] = {}

    def field_type(self, cls_name: str, attr: str, spec: str, json_name: str) -> FieldType:
        if m := re.fullmatch(r"list\[(.*)\]", spec):
            return FieldType("list", item=self.field_type(cls_name, attr, m.group(1), json_name))
        if m := re.fullmatch(r"dict[\[(]str, (.*)[\])]", spec):
            item = self.field_type(cls_name, attr, m.group(1), json_name)
            if json_name in _QUANTITY_MAPS and item.kind == "string":
                item = FieldType("quantity")
            return FieldType("map", item=item)
        scalar = {
            "str": "string",
            "int": "integer",
            "bool": "boolean",
            "float": "number",
            "datetime": "date-time",
        }
        if spec in scalar:
            return FieldType(scalar[spec])
        if spec == "object":
            return FieldType("int-or-string" if (cls_name, attr) in _INT_OR_STRING else "any")
        return FieldType("ref", ref=self.add(spec))

    def add(self, cls_name: str) -> str:
        name = component_name(cls_name)
        if name in self.types:
            return name
        cls = getattr(self.models, cls_name)
        package = name.rsplit(".", 2)[-2]
        td = TypeDef(name=name, go_name=f"{package}.{_go_type_name(cls_name)}")
        self.types[name] = td
        for attr, spec in cls.openapi_types.items():
            json_name = cls.attribute_map[attr]
            td.fields[json_name] = self.field_type(cls_name, attr, spec, json_name)
            prop = getattr(cls, attr, None)
            text = _description(prop) or FIELD_DOCS.get((td.go_name.split(".", 1)[1], json_name), "")
            if text:
                td.descriptions[json_name] = text
            if _is_required(prop):
                td.required.append(json_name)
        return name


_built: dict[str, TypeDef] = {}
_lock = threading.Lock()


def ready() -> bool:
    """True once the schemas are built (building takes about a second: do it off the event loop)."""
    return bool(_built)


def type_defs() -> dict[str, TypeDef]:
    """Every type reachable from the served kinds, by component name."""
    if not _built:
        with _lock:
            if not _built:
                _built.update(_build())
    return _built


def _build() -> dict[str, TypeDef]:
    import kubernetes.client

    builder = _Builder(kubernetes.client)
    for kind, cls_name in ROOTS.items():
        td = builder.types[builder.add(cls_name)]
        info = KINDS[kind]
        td.gvk = {"group": info.group, "version": info.version, "kind": kind}
        td.description = _KIND_DESCRIPTIONS[kind]
    for cls_name in EXTRA_ROOTS:
        builder.add(cls_name)
    return builder.types


def root(kind: str) -> TypeDef:
    return type_defs()[component_name(ROOTS[kind])]
