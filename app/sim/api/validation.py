"""Create/update validation with the real API server's 422 Invalid messages and causes:
object names, label keys and values, Deployment/ReplicaSet selectors, ports."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from app.kinds import KINDS
from app.sim.api.selectors import label_selector_matches
from app.sim.errors import ApiError

Obj = dict[str, Any]
Cause = tuple[str, str, str]  # (reason, field, message)

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*"
_DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"

MSG_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    f"validation is '{_DNS1123_SUBDOMAIN}')"
)
MSG_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    f"validation is '{_DNS1123_LABEL}')"
)
MSG_DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    f"regex used for validation is '{_DNS1035_LABEL}')"
)
MSG_QUALIFIED = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation "
    f"is '{_QUALIFIED_NAME}')"
)
MSG_LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
    f"regex used for validation is '{_LABEL_VALUE}')"
)
MSG_PORT = "must be between 1 and 65535, inclusive"


def go_repr(value: Any) -> str:
    """How Go's %#v-ish field.Invalid prints the bad value."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return "map[string]string" + json.dumps(value, separators=(",", ":"), sort_keys=True)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":")) if not isinstance(value, int | float) else str(value)


def invalid(field: str, value: Any, detail: str) -> Cause:
    return ("FieldValueInvalid", field, f"Invalid value: {go_repr(value)}: {detail}")


def required(field: str) -> Cause:
    return ("FieldValueRequired", field, "Required value")


def unsupported(field: str, value: Any, allowed: list[str]) -> Cause:
    return (
        "FieldValueNotSupported",
        field,
        f"Unsupported value: {go_repr(value)}: supported values: {', '.join(json.dumps(a) for a in allowed)}",
    )


def duplicate(field: str, value: Any) -> Cause:
    return ("FieldValueDuplicate", field, f"Duplicate value: {go_repr(value)}")


def invalid_error(kind: str, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid with the real message layout (`[a, b]` when there are several causes)."""
    info = KINDS.get(kind)
    qualified = f"{kind}.{info.group}" if info and info.group else kind
    parts = [f"{f}: {m}" for _, f, m in causes]
    text = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details: Obj = {"name": name, "kind": kind}
    if info and info.group:
        details["group"] = info.group
    details["causes"] = [{"reason": r, "message": m, "field": f} for r, f, m in causes]
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details)


def _full(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def check_subdomain(field: str, value: str) -> list[Cause]:
    out = []
    if len(value) > 253:
        out.append(invalid(field, value, "must be no more than 253 characters"))
    if not _full(_DNS1123_SUBDOMAIN, value):
        out.append(invalid(field, value, MSG_SUBDOMAIN))
    return out


def check_label_name(field: str, value: str, *, dns1035: bool = False) -> list[Cause]:
    out = []
    if len(value) > 63:
        out.append(invalid(field, value, "must be no more than 63 characters"))
    if dns1035 and not _full(_DNS1035_LABEL, value):
        out.append(invalid(field, value, MSG_DNS1035))
    elif not dns1035 and not _full(_DNS1123_LABEL, value):
        out.append(invalid(field, value, MSG_LABEL))
    return out


def check_qualified_name(field: str, key: str) -> list[Cause]:
    """Label and annotation keys: optional DNS subdomain prefix and a 63-character name part."""
    prefix, _, name = key.rpartition("/")
    out: list[Cause] = []
    if "/" in prefix:
        return [invalid(field, key, "a qualified name " + MSG_QUALIFIED)]
    if key.endswith("/") or not name:
        return [invalid(field, key, "name part must be non-empty")]
    if prefix and (len(prefix) > 253 or not _full(_DNS1123_SUBDOMAIN, prefix)):
        out.append(invalid(field, key, "prefix part " + MSG_SUBDOMAIN))
    if len(name) > 63:
        out.append(invalid(field, key, "name part must be no more than 63 characters"))
    if not _full(_QUALIFIED_NAME, name):
        out.append(invalid(field, key, MSG_QUALIFIED))
    return out


def check_labels(field: str, labels: Any) -> list[Cause]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [invalid(field, labels, "must be a map of strings")]
    out: list[Cause] = []
    for k, v in labels.items():
        out += check_qualified_name(field, str(k))
        if not isinstance(v, str):
            out.append(invalid(f"{field}", v, "label values must be strings"))
            continue
        if len(v) > 63:
            out.append(invalid(field, v, "must be no more than 63 characters"))
        if not _full(_LABEL_VALUE, v):
            out.append(invalid(field, v, MSG_LABEL_VALUE))
    return out


def _port_number(field: str, value: Any) -> list[Cause]:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return [invalid(field, value, MSG_PORT)]
    return []


def _iana_name(field: str, value: str) -> list[Cause]:
    if len(value) > 15:
        return [invalid(field, value, "must be no more than 15 characters")]
    if not re.fullmatch(r"[-a-z0-9]+", value):
        return [
            invalid(field, value, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
        ]
    if not re.search(r"[a-z]", value):
        return [invalid(field, value, "must contain at least one letter (a-z)")]
    if value.startswith("-") or value.endswith("-") or "--" in value:
        return [invalid(field, value, "must not begin or end with a hyphen, or contain adjacent hyphens")]
    return []


_PROTOCOLS = ["SCTP", "TCP", "UDP"]


def _check_pod_spec(path: str, spec: Any) -> list[Cause]:
    if not isinstance(spec, dict):
        return [required(path)]
    out: list[Cause] = []
    containers = spec.get("containers")
    if not containers:
        return [required(f"{path}.containers")]
    seen: set[str] = set()
    for i, c in enumerate(containers):
        cp = f"{path}.containers[{i}]"
        if not isinstance(c, dict):
            out.append(invalid(cp, c, "must be an object"))
            continue
        name = c.get("name") or ""
        if not name:
            out.append(required(f"{cp}.name"))
        else:
            out += check_label_name(f"{cp}.name", name)
            if name in seen:
                out.append(duplicate(f"{cp}.name", name))
            seen.add(name)
        if not c.get("image"):
            out.append(required(f"{cp}.image"))
        for j, p in enumerate(c.get("ports") or []):
            pp = f"{cp}.ports[{j}]"
            out += _port_number(f"{pp}.containerPort", (p or {}).get("containerPort"))
            if (p or {}).get("name"):
                out += _iana_name(f"{pp}.name", p["name"])
            proto = (p or {}).get("protocol")
            if proto is not None and proto not in _PROTOCOLS:
                out.append(unsupported(f"{pp}.protocol", proto, _PROTOCOLS))
    return out


def _check_selector_workload(obj: Obj) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    out: list[Cause] = []
    selector = spec.get("selector")
    template = spec.get("template") or {}
    tmpl_labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector:
        out.append(required("spec.selector"))
    elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
        out.append(invalid("spec.selector", selector, "empty selector is invalid for deployment"))
    else:
        out += check_labels("spec.selector.matchLabels", selector.get("matchLabels"))
        if not label_selector_matches(selector, tmpl_labels):
            out.append(
                invalid(
                    "spec.template.metadata.labels",
                    tmpl_labels,
                    "`selector` does not match template `labels`",
                )
            )
    out += check_labels("spec.template.metadata.labels", tmpl_labels)
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        out.append(invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    out += _check_pod_spec("spec.template.spec", template.get("spec"))
    return out


def _check_service(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    svc_type = spec.get("type") or "ClusterIP"
    allowed = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    if svc_type not in allowed:
        out.append(unsupported("spec.type", svc_type, allowed))
    ports = spec.get("ports") or []
    if not ports and svc_type != "ExternalName" and spec.get("clusterIP") != "None":
        out.append(required("spec.ports"))
    names: set[str] = set()
    for i, p in enumerate(ports):
        pp = f"spec.ports[{i}]"
        p = p or {}
        name = p.get("name") or ""
        if len(ports) > 1 and not name:
            out.append(required(f"{pp}.name"))
        if name:
            out += check_label_name(f"{pp}.name", name)
            if name in names:
                out.append(duplicate(f"{pp}.name", name))
            names.add(name)
        out += _port_number(f"{pp}.port", p.get("port"))
        target = p.get("targetPort")
        if isinstance(target, int) and not isinstance(target, bool):
            out += _port_number(f"{pp}.targetPort", target)
        elif isinstance(target, str):
            out += _iana_name(f"{pp}.targetPort", target)
        proto = p.get("protocol")
        if proto is not None and proto not in _PROTOCOLS:
            out.append(unsupported(f"{pp}.protocol", proto, _PROTOCOLS))
    out += check_labels("spec.selector", spec.get("selector"))
    return out


def _check_ip(field: str, value: Any) -> list[Cause]:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return [invalid(field, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def _check_endpoints(obj: Obj) -> list[Cause]:
    out: list[Cause] = []
    for i, ss in enumerate(obj.get("subsets") or []):
        sp = f"subsets[{i}]"
        for key in ("addresses", "notReadyAddresses"):
            for j, a in enumerate((ss or {}).get(key) or []):
                out += _check_ip(f"{sp}.{key}[{j}].ip", (a or {}).get("ip"))
        for j, p in enumerate((ss or {}).get("ports") or []):
            out += _port_number(f"{sp}.ports[{j}].port", (p or {}).get("port"))
    return out


def _check_endpointslice(obj: Obj) -> list[Cause]:
    out: list[Cause] = []
    types = ["FQDN", "IPv4", "IPv6"]
    addr_type = obj.get("addressType")
    if not addr_type:
        out.append(required("addressType"))
    elif addr_type not in types:
        out.append(unsupported("addressType", addr_type, types))
    for j, p in enumerate(obj.get("ports") or []):
        if (p or {}).get("port") is not None:
            out += _port_number(f"ports[{j}].port", p["port"])
    return out


def validate(obj: Obj) -> None:
    """Raise 422 Invalid (all causes at once) when the object would be refused by a real API server."""
    kind = obj.get("kind") or ""
    md = obj.get("metadata") or {}
    name = md.get("name") or md.get("generateName") or ""
    causes: list[Cause] = []
    if not md.get("name") and not md.get("generateName"):
        causes.append(("FieldValueRequired", "metadata.name", "name or generateName is required"))
    elif md.get("name"):
        if kind == "Service":
            causes += check_label_name("metadata.name", md["name"], dns1035=True)
        elif kind == "Namespace":
            causes += check_label_name("metadata.name", md["name"])
        else:
            causes += check_subdomain("metadata.name", md["name"])
    if md.get("namespace") and KINDS.get(kind) and KINDS[kind].namespaced:
        causes += check_label_name("metadata.namespace", md["namespace"])
    causes += check_labels("metadata.labels", md.get("labels"))
    for key in md.get("annotations") or {}:
        causes += check_qualified_name("metadata.annotations", str(key))
    if kind in ("Deployment", "ReplicaSet"):
        causes += _check_selector_workload(obj)
    elif kind == "Pod":
        causes += _check_pod_spec("spec", obj.get("spec"))
    elif kind == "Service":
        causes += _check_service(obj)
    elif kind == "Endpoints":
        causes += _check_endpoints(obj)
    elif kind == "EndpointSlice":
        causes += _check_endpointslice(obj)
    if causes:
        raise invalid_error(kind, name, causes)
