"""Create/update validation of the served kinds, in the order and words of the API server
(pkg/apis/core/validation, apps/validation, discovery/validation, apimachinery's ObjectMeta checks),
run on the object with its defaults set; every problem becomes a cause of one 422 Invalid."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from app.kinds import KINDS
from app.sim.api import names
from app.sim.api.defaulting import defaulted
from app.sim.api.fielderr import (
    Cause,
    GoStruct,
    duplicate,
    forbidden,
    invalid,
    invalid_error,
    not_supported,
    required,
    too_long,
    too_many,
)
from app.sim.api.selectors import label_selector_matches

Obj = dict[str, Any]
NameFn = Callable[[str, bool], list[str]]

PROTOCOLS = ["SCTP", "TCP", "UDP"]
MSG_NONNEGATIVE = "must be greater than or equal to 0"
MAX_ANNOTATIONS_BYTES = 256 * 1024
LINK_LOCAL_MULTICAST_V4 = ipaddress.ip_network("224.0.0.0/24")
# Service names are RFC 1123 labels (RelaxedServiceNameValidation, as the v1.36 captures show).
SERVICE_NAME: NameFn = names.name_is_dns_label
NAME_FNS: dict[str, NameFn] = {
    "Service": SERVICE_NAME,
    "Namespace": names.name_is_dns_label,
}


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _i(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _each(field: str, value: Any, problems: list[str]) -> list[Cause]:
    return [invalid(field, value, msg) for msg in problems]


def nonnegative(field: str, value: Any) -> list[Cause]:
    return [invalid(field, value, MSG_NONNEGATIVE)] if _i(value) < 0 else []


# ---- metadata ---------------------------------------------------------------------------------
def labels(field: str, value: Any) -> list[Cause]:
    out: list[Cause] = []
    for key, val in _d(value).items():
        out += _each(field, key, names.label_key(key))
        out += _each(field, val, names.label_value(_s(val)))
    return out


def annotations(field: str, value: Any) -> list[Cause]:
    out: list[Cause] = []
    size = 0
    for key, val in _d(value).items():
        out += _each(field, key, names.label_key(key.lower()))
        size += len(key.encode()) + len(_s(val).encode())
    if size > MAX_ANNOTATIONS_BYTES:
        out.append(too_long(field, MAX_ANNOTATIONS_BYTES))
    return out


def _owner_references(field: str, refs: list[Any]) -> list[Cause]:
    out: list[Cause] = []
    first_controller = ""
    for ref in map(_d, refs):
        api_version = _s(ref.get("apiVersion"))
        version = api_version.rsplit("/", 1)[-1] if api_version else ""
        if not version:
            out.append(invalid(f"{field}.apiVersion", api_version, "version must not be empty"))
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                out.append(invalid(f"{field}.{key}", _s(ref.get(key)), "must not be empty"))
        if version == "v1" and api_version == "v1" and ref.get("kind") == "Event":
            out.append(invalid(field, ref, "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{ref.get('kind')}/{ref.get('name')}"
            if first_controller:
                out.append(
                    invalid(
                        field,
                        refs,
                        'Only one reference can have Controller set to true. Found "true" in references for '
                        f"{first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return out


def object_meta(md: Obj, namespaced: bool, name_fn: NameFn, path: str = "metadata") -> list[Cause]:
    out: list[Cause] = []
    generate = _s(md.get("generateName"))
    if generate:
        out += _each(f"{path}.generateName", generate, name_fn(generate, True))
    name = _s(md.get("name"))
    if not name:
        out.append(required(f"{path}.name", "name or generateName is required"))
    else:
        out += _each(f"{path}.name", name, name_fn(name, False))
    namespace = _s(md.get("namespace"))
    if namespaced:
        if not namespace:
            out.append(required(f"{path}.namespace"))
        else:
            out += _each(f"{path}.namespace", namespace, names.name_is_dns_label(namespace))
    elif namespace:
        out.append(forbidden(f"{path}.namespace", "not allowed on this type"))
    out += nonnegative(f"{path}.generation", md.get("generation"))
    out += labels(f"{path}.labels", md.get("labels"))
    out += annotations(f"{path}.annotations", md.get("annotations"))
    out += _owner_references(f"{path}.ownerReferences", _l(md.get("ownerReferences")))
    finalizers = [_s(f) for f in _l(md.get("finalizers"))]
    for f in finalizers:
        out += _each(f"{path}.finalizers", f, names.label_key(f))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        out.append(
            invalid(
                f"{path}.finalizers", finalizers, "finalizer orphan and foregroundDeletion cannot be both set"
            )
        )
    return out


def label_selector(field: str, selector: Obj) -> list[Cause]:
    out = labels(f"{field}.matchLabels", selector.get("matchLabels"))
    for i, req in enumerate(map(_d, _l(selector.get("matchExpressions")))):
        rp = f"{field}.matchExpressions[{i}]"
        op, values = req.get("operator"), _l(req.get("values"))
        if op in ("In", "NotIn"):
            if not values:
                out.append(required(f"{rp}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                out.append(
                    forbidden(
                        f"{rp}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                    )
                )
        else:
            out.append(invalid(f"{rp}.operator", _s(op), "not a valid selector operator"))
        key = _s(req.get("key"))
        out += _each(f"{rp}.key", key, names.label_key(key))
        for j, v in enumerate(values):
            out += _each(f"{rp}.values[{j}]", v, names.label_value(_s(v)))
    return out


# ---- pods -------------------------------------------------------------------------------------
def port_num_or_name(field: str, port: Any) -> list[Cause]:
    if isinstance(port, str):
        return _each(field, port, names.port_name(port))
    return _each(field, _i(port), names.port_number(_i(port)))


def _container_ports(path: str, ports: list[Any]) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    for i, port in enumerate(map(_d, ports)):
        pp = f"{path}[{i}]"
        name = _s(port.get("name"))
        if name:
            problems = names.port_name(name)
            if problems:
                out += _each(f"{pp}.name", name, problems)
            elif name in seen:
                out.append(duplicate(f"{pp}.name", name))
            else:
                seen.add(name)
        container_port = _i(port.get("containerPort"))
        if container_port == 0:
            out.append(required(f"{pp}.containerPort"))
        else:
            out += _each(f"{pp}.containerPort", container_port, names.port_number(container_port))
        host_port = _i(port.get("hostPort"))
        if host_port:
            out += _each(f"{pp}.hostPort", host_port, names.port_number(host_port))
        protocol = _s(port.get("protocol"))
        if not protocol:
            out.append(required(f"{pp}.protocol"))
        elif protocol not in PROTOCOLS:
            out.append(not_supported(f"{pp}.protocol", protocol, PROTOCOLS))
    return out


def _handler(path: str, probe: Obj) -> list[Cause]:
    out: list[Cause] = []
    count = 0
    for key in ("exec", "httpGet", "tcpSocket", "grpc", "sleep"):
        action = probe.get(key)
        if action is None:
            continue
        if count:
            out.append(forbidden(f"{path}.{key}", "may not specify more than 1 handler type"))
            continue
        count += 1
        action = _d(action)
        if key == "exec" and not _l(action.get("command")):
            out.append(required(f"{path}.exec.command"))
        elif key == "httpGet":
            if not _s(action.get("path")):
                out.append(required(f"{path}.httpGet.path"))
            out += port_num_or_name(f"{path}.httpGet.port", action.get("port"))
            scheme = _s(action.get("scheme"))
            if scheme not in ("HTTP", "HTTPS"):
                out.append(not_supported(f"{path}.httpGet.scheme", scheme, ["HTTP", "HTTPS"]))
        elif key == "tcpSocket":
            out += port_num_or_name(f"{path}.tcpSocket.port", action.get("port"))
        elif key == "grpc":
            out += port_num_or_name(f"{path}.grpc.port", _i(action.get("port")))
    if count == 0:
        out.append(required(path, "must specify a handler type"))
    return out


def _probe(path: str, value: Any, kind: str) -> list[Cause]:
    if value is None:
        return []
    probe = _d(value)
    out = _handler(path, probe)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        out += nonnegative(f"{path}.{key}", probe.get(key))
    grace = probe.get("terminationGracePeriodSeconds")
    if kind == "readiness" and grace is not None:
        out.append(
            invalid(f"{path}.terminationGracePeriodSeconds", grace, "must not be set for readinessProbes")
        )
    elif grace is not None and _i(grace) <= 0:
        out.append(invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than 0"))
    if kind in ("liveness", "startup") and _i(probe.get("successThreshold")) != 1:
        out.append(invalid(f"{path}.successThreshold", probe.get("successThreshold"), "must be 1"))
    return out


def _container_common(path: str, c: Obj) -> list[Cause]:
    out: list[Cause] = []
    name = _s(c.get("name"))
    if not name:
        out.append(required(f"{path}.name"))
    else:
        out += _each(f"{path}.name", name, names.dns1123_label(name))
    if not _s(c.get("image")):
        out.append(required(f"{path}.image"))
    policy = _s(c.get("terminationMessagePolicy"))
    if not policy:
        out.append(required(f"{path}.terminationMessagePolicy"))
    elif policy not in ("File", "FallbackToLogsOnError"):
        out.append(
            not_supported(f"{path}.terminationMessagePolicy", policy, ["File", "FallbackToLogsOnError"])
        )
    out += _container_ports(f"{path}.ports", _l(c.get("ports")))
    for i, env in enumerate(map(_d, _l(c.get("env")))):
        if not _s(env.get("name")):
            out.append(required(f"{path}.env[{i}].name"))
    pull = _s(c.get("imagePullPolicy"))
    if not pull:
        out.append(required(f"{path}.imagePullPolicy"))
    elif pull not in ("Always", "IfNotPresent", "Never"):
        out.append(not_supported(f"{path}.imagePullPolicy", pull, ["Always", "IfNotPresent", "Never"]))
    return out


def _host_port_conflicts(path: str, containers: list[Obj]) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, port in enumerate(map(_d, _l(c.get("ports")))):
            host_port = _i(port.get("hostPort"))
            if not host_port:
                continue
            key = f"{_s(port.get('protocol'))}/{_s(port.get('hostIP'))}/{host_port}"
            if key in seen:
                out.append(duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return out


def _containers(path: str, value: Any) -> list[Cause]:
    containers = [_d(c) for c in _l(value)]
    if not containers:
        return [required(path)]
    out: list[Cause] = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        cp = f"{path}[{i}]"
        out += _container_common(cp, c)
        name = _s(c.get("name"))
        if name in seen:
            out.append(duplicate(f"{cp}.name", name))
        seen.add(name)
        out += _probe(f"{cp}.livenessProbe", c.get("livenessProbe"), "liveness")
        out += _probe(f"{cp}.readinessProbe", c.get("readinessProbe"), "readiness")
        out += _probe(f"{cp}.startupProbe", c.get("startupProbe"), "startup")
        if c.get("restartPolicy") is not None:
            out.append(forbidden(f"{cp}.restartPolicy", "may not be set for non-init containers"))
    return out + _host_port_conflicts(path, containers)


def _choice(field: str, value: str, allowed: list[str]) -> list[Cause]:
    if not value:
        return [required(field)]
    return [] if value in allowed else [not_supported(field, value, allowed)]


def pod_spec(path: str, spec: Obj) -> list[Cause]:
    out: list[Cause] = []
    if spec.get("terminationGracePeriodSeconds") is None:
        out.append(required(f"{path}.terminationGracePeriodSeconds"))
    out += _containers(f"{path}.containers", spec.get("containers"))
    regular = {_s(_d(c).get("name")) for c in _l(spec.get("containers"))}
    for i, c in enumerate(map(_d, _l(spec.get("initContainers")))):
        cp = f"{path}.initContainers[{i}]"
        out += _container_common(cp, c)
        name = _s(c.get("name"))
        if name in regular:
            out.append(duplicate(f"{cp}.name", name))
        elif name:
            regular.add(name)
    out += _choice(f"{path}.restartPolicy", _s(spec.get("restartPolicy")), ["Always", "OnFailure", "Never"])
    out += _choice(
        f"{path}.dnsPolicy",
        _s(spec.get("dnsPolicy")),
        ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    )
    out += labels(f"{path}.nodeSelector", spec.get("nodeSelector"))
    for i, gate in enumerate(map(_d, _l(spec.get("readinessGates")))):
        condition = _s(gate.get("conditionType"))
        out += _each(f"{path}.readinessGates[{i}].conditionType", condition, names.label_key(condition))
    account = _s(spec.get("serviceAccountName"))
    if account:
        out += _each(f"{path}.serviceAccountName", account, names.name_is_dns_subdomain(account))
    node = _s(spec.get("nodeName"))
    if node:
        out += _each(f"{path}.nodeName", node, names.name_is_dns_subdomain(node))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= _i(deadline) <= 2**31 - 1:
        out.append(
            invalid(f"{path}.activeDeadlineSeconds", deadline, names.inclusive_range_error(1, 2**31 - 1))
        )
    for key in ("hostname", "subdomain"):
        value = _s(spec.get(key))
        if value:
            out += _each(f"{path}.{key}", value, names.dns1123_label(value))
    return out


def _pod(obj: Obj) -> list[Cause]:
    out = object_meta(_d(obj.get("metadata")), True, names.name_is_dns_subdomain)
    return out + pod_spec("spec", _d(obj.get("spec")))


# ---- workloads --------------------------------------------------------------------------------
def _selector_struct(selector: Obj) -> GoStruct:
    out = GoStruct()
    if selector.get("matchLabels"):
        out["matchLabels"] = dict(sorted(_d(selector["matchLabels"]).items()))
    if selector.get("matchExpressions"):
        out["matchExpressions"] = selector["matchExpressions"]
    return out


def _template_for_replicaset(path: str, template: Any, selector: Obj | None) -> list[Cause]:
    if template is None:
        return [required(path)]
    template = _d(template)
    md, spec = _d(template.get("metadata")), _d(template.get("spec"))
    out: list[Cause] = []
    tmpl_labels = md.get("labels")
    # A missing selector matches nothing; an empty one matches everything (and is not checked).
    empty = selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")
    if not empty and (selector is None or not label_selector_matches(selector, _d(tmpl_labels))):
        value = dict(sorted(_d(tmpl_labels).items())) if tmpl_labels is not None else None
        out.append(invalid(f"{path}.metadata.labels", value, "`selector` does not match template `labels`"))
    out += labels(f"{path}.labels", tmpl_labels)
    out += annotations(f"{path}.annotations", md.get("annotations"))
    out += pod_spec(f"{path}.spec", spec)
    restart = _s(spec.get("restartPolicy"))
    if restart != "Always":
        out.append(not_supported(f"{path}.spec.restartPolicy", restart, ["Always"]))
    if spec.get("activeDeadlineSeconds") is not None:
        out.append(
            forbidden(
                f"{path}.spec.activeDeadlineSeconds", "activeDeadlineSeconds in ReplicaSet is not Supported"
            )
        )
    return out


def _workload_selector(spec: Obj) -> tuple[list[Cause], Obj | None]:
    selector = spec.get("selector")
    if selector is None:
        return [required("spec.selector")], None
    selector = _d(selector)
    out = label_selector("spec.selector", selector)
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        out.append(
            invalid("spec.selector", _selector_struct(selector), "empty selector is invalid for deployment")
        )
    return out, selector


def _int_or_percent(field: str, value: Any) -> list[Cause]:
    if isinstance(value, str):
        return _each(field, value, names.percent(value))
    return nonnegative(field, value)


def _int_or_percent_value(value: Any) -> int:
    if isinstance(value, str):
        return int(value[:-1]) if not names.percent(value) else 0
    return _i(value)


def _strategy(spec: Obj) -> list[Cause]:
    strategy = _d(spec.get("strategy"))
    type_ = _s(strategy.get("type"))
    path = "spec.strategy"
    if type_ == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [
                forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")
            ]
        return []
    if type_ != "RollingUpdate":
        return [not_supported(path, GoStruct(strategy), ["Recreate", "RollingUpdate"])]
    ru = strategy.get("rollingUpdate")
    if ru is None:
        return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
    ru = _d(ru)
    unavailable, surge = ru.get("maxUnavailable"), ru.get("maxSurge")
    out = _int_or_percent(f"{path}.rollingUpdate.maxUnavailable", unavailable)
    out += _int_or_percent(f"{path}.rollingUpdate.maxSurge", surge)
    if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
        out.append(
            invalid(f"{path}.rollingUpdate.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0")
        )
    if isinstance(unavailable, str) and not names.percent(unavailable) and int(unavailable[:-1]) > 100:
        out.append(
            invalid(f"{path}.rollingUpdate.maxUnavailable", unavailable, "must not be greater than 100%")
        )
    return out


def _deployment(obj: Obj) -> list[Cause]:
    out = object_meta(_d(obj.get("metadata")), True, names.name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    out += nonnegative("spec.replicas", spec.get("replicas"))
    selector_causes, selector = _workload_selector(spec)
    out += selector_causes
    out += _template_for_replicaset("spec.template", spec.get("template"), selector)
    out += _strategy(spec)
    out += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    if spec.get("revisionHistoryLimit") is not None:
        out += nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        out += nonnegative("spec.progressDeadlineSeconds", deadline)
        if _i(deadline) <= _i(spec.get("minReadySeconds")):
            out.append(
                invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")
            )
    return out


def _replicaset(obj: Obj) -> list[Cause]:
    out = object_meta(_d(obj.get("metadata")), True, names.name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    out += nonnegative("spec.replicas", spec.get("replicas"))
    out += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    selector_causes, selector = _workload_selector(spec)
    out += selector_causes
    return out + _template_for_replicaset("spec.template", spec.get("template"), selector)


# ---- services and endpoints -------------------------------------------------------------------
def _non_special_ip(field: str, ip: str) -> list[Cause]:
    addr = names.parse_ip(ip)
    if addr is None:
        return [invalid(field, ip, "must be a valid IP address")]
    out = []
    if addr.is_unspecified:
        out.append(invalid(field, ip, f"may not be unspecified ({ip})"))
    if addr.is_loopback:
        out.append(invalid(field, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if addr.is_link_local and not addr.is_multicast:
        out.append(invalid(field, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    link_local_multicast = (
        addr in LINK_LOCAL_MULTICAST_V4 if addr.version == 4 else addr.packed[:2] == b"\xff\x02"
    )
    if link_local_multicast:
        out.append(
            invalid(field, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        )
    return out


def _service_port(path: str, port: Obj, require_name: bool, seen: set[str]) -> list[Cause]:
    out: list[Cause] = []
    name = _s(port.get("name"))
    if require_name and not name:
        out.append(required(f"{path}.name"))
    elif name:
        out += _each(f"{path}.name", name, names.dns1123_label(name))
        if name in seen:
            out.append(duplicate(f"{path}.name", name))
        else:
            seen.add(name)
    number = _i(port.get("port"))
    out += _each(f"{path}.port", number, names.port_number(number))
    protocol = _s(port.get("protocol"))
    if not protocol:
        out.append(required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        out.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    out += port_num_or_name(f"{path}.targetPort", port.get("targetPort"))
    app_protocol = port.get("appProtocol")
    if app_protocol is not None:
        out += _each(f"{path}.appProtocol", app_protocol, names.label_key(_s(app_protocol)))
    return out


def _service(obj: Obj) -> list[Cause]:
    out = object_meta(_d(obj.get("metadata")), True, SERVICE_NAME)
    spec = _d(obj.get("spec"))
    type_ = _s(spec.get("type"))
    ports = [_d(p) for p in _l(spec.get("ports"))]
    cluster_ips = [_s(ip) for ip in _l(spec.get("clusterIPs"))] or (
        [_s(spec["clusterIP"])] if spec.get("clusterIP") else []
    )
    headless = bool(cluster_ips) and cluster_ips[0] == "None"
    if not ports and not headless and type_ != "ExternalName":
        out.append(required("spec.ports"))
    if type_ in ("LoadBalancer", "NodePort") and headless:
        out.append(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {type_} services"))
    elif type_ == "ExternalName":
        if cluster_ips:
            out.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            out.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            out.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = _s(spec.get("externalName")).removesuffix(".")
        if cname:
            out += _each("spec.externalName", cname, names.dns1123_subdomain(cname))
        else:
            out.append(required("spec.externalName"))
    seen: set[str] = set()
    for i, port in enumerate(ports):
        out += _service_port(f"spec.ports[{i}]", port, len(ports) > 1, seen)
    if spec.get("selector") is not None:
        out += labels("spec.selector", spec.get("selector"))
    affinity = _s(spec.get("sessionAffinity"))
    out += _choice("spec.sessionAffinity", affinity, ["ClientIP", "None"])
    if affinity == "ClientIP":
        timeout = _d(_d(spec.get("sessionAffinityConfig")).get("clientIP")).get("timeoutSeconds")
        if timeout is not None and not 0 < _i(timeout) <= 86400:
            out.append(
                invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    timeout,
                    "must be greater than 0 and less than 86400",
                )
            )
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        out.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    for i, ip in enumerate(cluster_ips):
        if i == 0 and ip == "None":
            continue
        if names.ip_family(ip) is None:
            out.append(
                invalid(
                    f"spec.clusterIPs[{i}]",
                    ip,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in ("PreferDualStack", "RequireDualStack", "SingleStack"):
        out.append(
            not_supported(
                "spec.ipFamilyPolicy", policy, ["PreferDualStack", "RequireDualStack", "SingleStack"]
            )
        )
    for i, family in enumerate(_l(spec.get("ipFamilies"))):
        if family not in ("IPv4", "IPv6"):
            out.append(not_supported(f"spec.ipFamilies[{i}]", family, ["IPv4", "IPv6"]))
    for i, ip in enumerate(map(_s, _l(spec.get("externalIPs")))):
        problems = names.ip_address(ip)
        out += (
            _each(f"spec.externalIPs[{i}]", ip, problems)
            if problems
            else _non_special_ip(f"spec.externalIPs[{i}]", ip)
        )
    out += _choice("spec.type", type_, ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"])
    if type_ == "ClusterIP":
        for i, port in enumerate(ports):
            if _i(port.get("nodePort")):
                out.append(
                    forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'")
                )
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        node_port = _i(port.get("nodePort"))
        if node_port:
            key = (_s(port.get("protocol")), node_port)
            if key in node_ports:
                out.append(duplicate(f"spec.ports[{i}].nodePort", node_port))
            node_ports.add(key)
    seen_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        key = (_s(port.get("protocol")), _i(port.get("port")))
        if key in seen_ports:
            struct = GoStruct(
                Name="", Protocol=key[0], AppProtocol=None, Port=key[1], TargetPort=0, NodePort=0
            )
            out.append(duplicate(f"spec.ports[{i}]", struct))
        seen_ports.add(key)
    if spec.get("allocateLoadBalancerNodePorts") is not None and type_ != "LoadBalancer":
        out.append(
            forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
        )
    externally = type_ in ("NodePort", "LoadBalancer") or (
        type_ == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    etp = _s(spec.get("externalTrafficPolicy"))
    if not externally and etp:
        out.append(
            invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services")
        )
    elif externally:
        out += _choice("spec.externalTrafficPolicy", etp, ["Cluster", "Local"])
    itp = spec.get("internalTrafficPolicy")
    if itp is None and type_ in ("NodePort", "LoadBalancer", "ClusterIP"):
        out.append(required("spec.internalTrafficPolicy"))
    elif itp is not None and itp not in ("Cluster", "Local"):
        out.append(not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]))
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution not in ("PreferClose", "PreferSameZone", "PreferSameNode"):
        out.append(
            not_supported(
                "spec.trafficDistribution", distribution, ["PreferClose", "PreferSameNode", "PreferSameZone"]
            )
        )
    return out


def _endpoint_port(path: str, port: Obj, require_name: bool) -> list[Cause]:
    out: list[Cause] = []
    name = _s(port.get("name"))
    if require_name and not name:
        out.append(required(f"{path}.name"))
    elif name:
        out += _each(f"{path}.name", name, names.dns1123_label(name))
    number = _i(port.get("port"))
    out += _each(f"{path}.port", number, names.port_number(number))
    protocol = _s(port.get("protocol"))
    if not protocol:
        out.append(required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        out.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    return out


def _endpoint_address(path: str, address: Obj) -> list[Cause]:
    ip = _s(address.get("ip"))
    out = _each(f"{path}.ip", ip, names.ip_address(ip))
    hostname = _s(address.get("hostname"))
    if hostname:
        out += _each(f"{path}.hostname", hostname, names.dns1123_label(hostname))
    node = address.get("nodeName")
    if node is not None:
        out += _each(f"{path}.nodeName", node, names.name_is_dns_subdomain(_s(node)))
    return out + _non_special_ip(f"{path}.ip", ip)


def _endpoints(obj: Obj) -> list[Cause]:
    out = object_meta(_d(obj.get("metadata")), True, names.name_is_dns_subdomain)
    for i, subset in enumerate(map(_d, _l(obj.get("subsets")))):
        sp = f"subsets[{i}]"
        ready, not_ready = _l(subset.get("addresses")), _l(subset.get("notReadyAddresses"))
        if not ready and not not_ready:
            out.append(required(sp, "must specify `addresses` or `notReadyAddresses`"))
        for j, address in enumerate(map(_d, ready)):
            out += _endpoint_address(f"{sp}.addresses[{j}]", address)
        for j, address in enumerate(map(_d, not_ready)):
            out += _endpoint_address(f"{sp}.notReadyAddresses[{j}]", address)
        ports = [_d(p) for p in _l(subset.get("ports"))]
        for j, port in enumerate(ports):
            out += _endpoint_port(f"{sp}.ports[{j}]", port, len(ports) > 1)
    return out


def _endpointslice(obj: Obj) -> list[Cause]:
    out = object_meta(_d(obj.get("metadata")), True, names.name_is_dns_subdomain)
    address_type = _s(obj.get("addressType"))
    out += _choice("addressType", address_type, ["FQDN", "IPv4", "IPv6"])
    endpoints = _l(obj.get("endpoints"))
    if len(endpoints) > 1000:
        out.append(too_many("endpoints", len(endpoints), 1000))
        endpoints = []
    for i, endpoint in enumerate(map(_d, endpoints)):
        ep = f"endpoints[{i}]"
        addresses = [_s(a) for a in _l(endpoint.get("addresses"))]
        if not addresses:
            out.append(required(f"{ep}.addresses", "must contain at least 1 address"))
        elif len(addresses) > 100:
            out.append(too_many(f"{ep}.addresses", len(addresses), 100))
        for j, address in enumerate(addresses):
            field = f"{ep}.addresses[{j}]"
            if address_type in ("IPv4", "IPv6"):
                family = names.ip_family(address)
                if family is None:
                    out.append(
                        invalid(
                            field, address, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
                        )
                    )
                elif family != int(address_type[-1]):
                    out.append(invalid(field, address, f"must be an {address_type} address"))
                else:
                    out += _non_special_ip(field, address)
        node = endpoint.get("nodeName")
        if node is not None:
            out += _each(f"{ep}.nodeName", node, names.name_is_dns_subdomain(_s(node)))
        hostname = endpoint.get("hostname")
        if hostname is not None:
            out += _each(f"{ep}.hostname", hostname, names.dns1123_label(_s(hostname)))
        zones = _l(_d(endpoint.get("hints")).get("forZones"))
        seen_zones: set[str] = set()
        for j, zone in enumerate(map(_d, zones)):
            zp, zname = f"{ep}.hints.forZones[{j}].name", _s(zone.get("name"))
            if zname in seen_zones:
                out.append(duplicate(zp, zname))
            seen_zones.add(zname)
            out += _each(zp, zname, names.label_value(zname))
    ports = _l(obj.get("ports"))
    if len(ports) > 100:
        return [*out, too_many("ports", len(ports), 100)]
    seen: set[str] = set()
    for i, port in enumerate(map(_d, ports)):
        pp = f"ports[{i}]"
        name = _s(port.get("name"))
        if name:
            out += _each(f"{pp}.name", name, names.dns1123_label(name))
        if name in seen:
            out.append(duplicate(f"{pp}.name", name))
        seen.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            out.append(required(f"{pp}.protocol"))
        elif protocol not in PROTOCOLS:
            out.append(not_supported(f"{pp}.protocol", protocol, PROTOCOLS))
        if port.get("appProtocol") is not None:
            app = _s(port.get("appProtocol"))
            out += _each(f"{pp}.appProtocol", app, names.label_key(app))
    return out


# ---- the rest ---------------------------------------------------------------------------------
def _namespace(obj: Obj) -> list[Cause]:
    out = object_meta(_d(obj.get("metadata")), False, names.name_is_dns_label)
    for f in map(_s, _l(_d(obj.get("spec")).get("finalizers"))):
        out += _each("spec.finalizers", f, names.label_key(f))
        if "/" not in f and f != "kubernetes":
            out.append(
                invalid(
                    "spec.finalizers",
                    f,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return out


def _node(obj: Obj) -> list[Cause]:
    return object_meta(_d(obj.get("metadata")), False, names.name_is_dns_subdomain)


def _event(obj: Obj) -> list[Cause]:
    md = _d(obj.get("metadata"))
    out = object_meta(md, True, names.name_is_dns_subdomain)
    involved = _d(obj.get("involvedObject"))
    ns = _s(involved.get("namespace"))
    if ns and ns != _s(md.get("namespace")):
        out.append(invalid("involvedObject.namespace", ns, "does not match event.namespace"))
    return out


_BY_KIND: dict[str, Callable[[Obj], list[Cause]]] = {
    "Pod": _pod,
    "Service": _service,
    "Deployment": _deployment,
    "ReplicaSet": _replicaset,
    "Endpoints": _endpoints,
    "EndpointSlice": _endpointslice,
    "Namespace": _namespace,
    "Node": _node,
    "Event": _event,
}


def _immutable(old: Obj | None, obj: Obj) -> list[Cause]:
    if old is None or obj.get("kind") not in ("Deployment", "ReplicaSet"):
        return []
    selector = _d(obj.get("spec")).get("selector")
    if selector != _d(old.get("spec")).get("selector"):
        return [invalid("spec.selector", _selector_struct(_d(selector)), "field is immutable")]
    return []


def causes(obj: Obj, old: Obj | None = None) -> list[Cause]:
    """Every validation problem of `obj` (defaults set first, as on the server)."""
    full = defaulted(obj)
    check = _BY_KIND.get(_s(full.get("kind")))
    if check is None:
        info = KINDS.get(_s(full.get("kind")))
        return object_meta(
            _d(full.get("metadata")), bool(info and info.namespaced), names.name_is_dns_subdomain
        )
    return check(full) + _immutable(old, full)


def validate(obj: Obj, old: Obj | None = None) -> None:
    """Raise 422 Invalid, with all causes at once, when a real API server would refuse `obj`."""
    found = causes(obj, old)
    if found:
        md = _d(obj.get("metadata"))
        raise invalid_error(_s(obj.get("kind")), _s(md.get("name")) or _s(md.get("generateName")), found)
