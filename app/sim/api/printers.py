"""Server-side Table printing (meta.k8s.io/v1 Table) with the column definitions and cell formats
of kube-apiserver's printers (pkg/printers/internalversion): what `kubectl get` shows."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from app.sim.api.selectors import format_label_selector
from app.timefmt import parse_rfc3339

Obj = dict[str, Any]
Column = dict[str, Any]

_NAME_DOC = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically."  # noqa: E501
_AGE_DOC = "CreationTimestamp is a timestamp representing the server time when this object was created."


def _col(name: str, desc: str, *, type_: str = "string", fmt: str = "", priority: int = 0) -> Column:
    return {"name": name, "type": type_, "format": fmt, "description": desc, "priority": priority}


def _name_col() -> Column:
    return _col("Name", _NAME_DOC, fmt="name")


def _age_col() -> Column:
    return _col("Age", _AGE_DOC)


# ---- time ------------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """duration.HumanDuration: `45s`, `3m12s`, `42m`, `5h2m`, `30h`, `3d4h`, `25d`, `1y20d`."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def since(timestamp: str | None, now: float) -> str:
    """translateTimestampSince: `<unknown>` for a missing timestamp."""
    ts = parse_rfc3339(timestamp)
    if ts is None:
        return "<unknown>"
    return human_duration(now - ts)


def _age(obj: Obj, now: float) -> str:
    return since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def _name(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("name") or ""


def _more(items: list[str], more: bool, count: int, limit: int = 3) -> str:
    text = ",".join(items)
    if more:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def _join_host_port(ip: str, port: int | str) -> str:
    try:
        if isinstance(ipaddress.ip_address(ip), ipaddress.IPv6Address):
            return f"[{ip}]:{port}"
    except ValueError:
        pass
    return f"{ip}:{port}"


# ---- pods ------------------------------------------------------------------------------------

POD_COLUMNS = [
    _name_col(),
    _col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", "The aggregate status of the containers in this pod."),
    _col(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",  # noqa: E501
    ),
    _age_col(),
    _col("IP", "podIP address allocated to the pod. Routable at least within the cluster.", priority=1),
    _col("Node", "NodeName indicates in which node this pod is scheduled.", priority=1),
    _col(
        "Nominated Node",
        "nominatedNodeName is set only when this pod preempts other pods on the node.",
        priority=1,
    ),
    _col(
        "Readiness Gates",
        "If specified, all readiness gates will be evaluated for pod readiness.",
        priority=1,
    ),
]

_TERMINAL = ("Succeeded", "Failed")


def pod_cells(pod: Obj, now: float) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    md = pod.get("metadata") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    total = len(spec.get("containers") or [])
    ready = 0
    restarts = 0
    last_restart: float | None = None
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, c in enumerate(init_statuses):
        restarts += int(c.get("restartCount") or 0)
        state = c.get("state") or {}
        term = state.get("terminated")
        if term and term.get("exitCode") == 0:
            continue
        initializing = True
        if term:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        elif (state.get("waiting") or {}).get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        break
    if not initializing:
        restarts = 0
        has_running = False
        for c in reversed(status.get("containerStatuses") or []):
            restarts += int(c.get("restartCount") or 0)
            last_term = (c.get("lastState") or {}).get("terminated")
            if last_term and last_term.get("finishedAt"):
                finished = parse_rfc3339(last_term["finishedAt"])
                if finished is not None and (last_restart is None or finished > last_restart):
                    last_restart = finished
            state = c.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                sig = term.get("signal")
                reason = f"Signal:{sig}" if sig else f"ExitCode:{term.get('exitCode', 0)}"
            elif c.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            has_ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
            )
            reason = "Running" if has_ready else "NotReady"
    if md.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif md.get("deletionTimestamp") and phase not in _TERMINAL:
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"
    ips = status.get("podIPs") or []
    ip = (ips[0].get("ip") if ips else "") or "<none>"
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        true = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gates_text = f"{true}/{len(gates)}"
    return [
        _name(pod),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _age(pod, now),
        ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]


# ---- services --------------------------------------------------------------------------------

SERVICE_COLUMNS = [
    _name_col(),
    _col("Type", "type determines how the Service is exposed. Defaults to ClusterIP."),
    _col("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned randomly."),
    _col(
        "External-IP",
        "externalIPs: IP addresses for which nodes in the cluster also accept traffic for this service.",
    ),
    _col("Port(s)", "The list of ports that are exposed by this service."),
    _age_col(),
    _col(
        "Selector",
        "Route service traffic to pods with label keys and values matching this selector.",
        priority=1,
    ),
]


def format_labels(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: sorted `k=v` joined by commas, `<none>` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _service_external_ip(spec: Obj, status: Obj) -> str:
    svc_type = spec.get("type") or "ClusterIP"
    external = spec.get("externalIPs") or []
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if svc_type == "LoadBalancer":
        ingress = [
            i.get("ip") or i.get("hostname") for i in (status.get("loadBalancer") or {}).get("ingress") or []
        ]
        ips = [i for i in ingress if i] + external
        return ",".join(ips) if ips else "<pending>"
    if svc_type == "ExternalName":
        return spec.get("externalName") or "<none>"
    return "<unknown>"


def service_cells(svc: Obj, now: float) -> list[Any]:
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = []
    for p in spec.get("ports") or []:
        proto = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            ports.append(f"{p.get('port')}:{p['nodePort']}/{proto}")
        else:
            ports.append(f"{p.get('port')}/{proto}")
    return [
        _name(svc),
        spec.get("type") or "ClusterIP",
        cluster_ips[0] if cluster_ips else "<none>",
        _service_external_ip(spec, status),
        ",".join(ports) or "<none>",
        _age(svc, now),
        format_labels(spec.get("selector")),
    ]


# ---- endpoints and endpointslices ------------------------------------------------------------

ENDPOINTS_COLUMNS = [
    _name_col(),
    _col(
        "Endpoints",
        "The set of all endpoints is the union of all subsets.",
    ),
    _age_col(),
]


def format_endpoints(ep: Obj) -> str:
    """Ready addresses only, `ip:port` per address and port, first 3 then ` + N more...`."""
    subsets = ep.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    more = False
    count = 0
    for ss in subsets:
        addresses = ss.get("addresses") or []
        ports = ss.get("ports") or []
        if not ports:
            for a in addresses:
                if len(shown) == 3:
                    more = True
                if not more:
                    shown.append(a.get("ip", ""))
                count += 1
            continue
        for port in ports:
            for a in addresses:
                if len(shown) == 3:
                    more = True
                if not more:
                    shown.append(_join_host_port(a.get("ip", ""), port.get("port", "")))
                count += 1
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if more else text


def endpoints_cells(ep: Obj, now: float) -> list[Any]:
    return [_name(ep), format_endpoints(ep), _age(ep, now)]


ENDPOINTSLICE_COLUMNS = [
    _name_col(),
    _col("AddressType", "addressType specifies the type of address carried by this EndpointSlice."),
    _col("Ports", "ports specifies the list of network ports exposed by each endpoint in this slice."),
    _col("Endpoints", "endpoints is a list of unique endpoints in this slice."),
    _age_col(),
]


def format_slice_ports(ports: list[Obj] | None) -> str:
    shown: list[str] = []
    more, count = False, 0
    for p in ports or []:
        if len(shown) < 3:
            if p.get("port") is not None:
                shown.append(str(p["port"]))
            elif p.get("name"):
                shown.append(p["name"])
            else:
                shown.append("*")
        elif len(shown) == 3:
            more = True
        count += 1
    return _more(shown, more, count)


def format_slice_endpoints(endpoints: list[Obj] | None) -> str:
    shown: list[str] = []
    more, count = False, 0
    for e in endpoints or []:
        for addr in e.get("addresses") or []:
            if len(shown) < 3:
                shown.append(addr)
            elif len(shown) == 3:
                more = True
            count += 1
    return _more(shown, more, count)


def endpointslice_cells(es: Obj, now: float) -> list[Any]:
    return [
        _name(es),
        es.get("addressType") or "",
        format_slice_ports(es.get("ports")),
        format_slice_endpoints(es.get("endpoints")),
        _age(es, now),
    ]


# ---- deployments and replicasets -------------------------------------------------------------

_WIDE_TEMPLATE = [
    _col("Containers", "Names of each container in the template.", priority=1),
    _col("Images", "Images referenced by each container in the template.", priority=1),
    _col("Selector", "Label selector for pods.", priority=1),
]

DEPLOYMENT_COLUMNS = [
    _name_col(),
    _col("Ready", "Number of the pod with ready state"),
    _col(
        "Up-to-date",
        "Total number of non-terminating pods that have the desired template spec.",
    ),
    _col(
        "Available",
        "Total number of available non-terminating pods targeted by this deployment.",
    ),
    _age_col(),
    *_WIDE_TEMPLATE,
]

REPLICASET_COLUMNS = [
    _name_col(),
    _col("Desired", "Replicas is the number of desired pods.", type_="integer"),
    _col(
        "Current", "Replicas is the most recently observed number of non-terminating pods.", type_="integer"
    ),
    _col(
        "Ready",
        "The number of non-terminating pods with a Ready Condition.",
        type_="integer",
    ),
    _age_col(),
    *_WIDE_TEMPLATE,
]


def _template_cells(obj: Obj) -> list[str]:
    spec = obj.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
        format_label_selector(spec.get("selector")),
    ]


def deployment_cells(d: Obj, now: float) -> list[Any]:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    desired = spec.get("replicas", 1)
    return [
        _name(d),
        f"{int(status.get('readyReplicas') or 0)}/{int(desired or 0)}",
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        _age(d, now),
        *_template_cells(d),
    ]


def replicaset_cells(rs: Obj, now: float) -> list[Any]:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    return [
        _name(rs),
        int(spec.get("replicas", 1) or 0),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
        _age(rs, now),
        *_template_cells(rs),
    ]


# ---- nodes, namespaces, events ---------------------------------------------------------------

NODE_COLUMNS = [
    _name_col(),
    _col("Status", "The status of the node"),
    _col("Roles", "The roles of the node"),
    _age_col(),
    _col("Version", "Kubelet Version reported by the node."),
    _col("Internal-IP", "List of addresses reachable to the node.", priority=1),
    _col("External-IP", "List of addresses reachable to the node.", priority=1),
    _col(
        "OS-Image",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
        priority=1,
    ),
    _col(
        "Kernel-Version",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
        priority=1,
    ),
    _col(
        "Container-Runtime",
        "ContainerRuntime Version reported by the node.",
        priority=1,
    ),
]


def node_cells(node: Obj, now: float) -> list[Any]:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    state = "Unknown"
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready":
            state = "Ready" if c.get("status") == "True" else "NotReady"
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = sorted(
        {
            k.removeprefix("node-role.kubernetes.io/")
            for k in labels
            if k.startswith("node-role.kubernetes.io/")
        }
        | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set())
    )
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        for a in status.get("addresses") or []:
            if a.get("type") == kind:
                return a.get("address") or "<none>"
        return "<none>"

    return [
        _name(node),
        state,
        ",".join(r for r in roles if r) or "<none>",
        _age(node, now),
        info.get("kubeletVersion") or "",
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


NAMESPACE_COLUMNS = [
    _name_col(),
    _col("Status", "The status of the namespace"),
    _age_col(),
]


def namespace_cells(ns: Obj, now: float) -> list[Any]:
    return [_name(ns), (ns.get("status") or {}).get("phase") or "Active", _age(ns, now)]


EVENT_COLUMNS = [
    _col("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
    _col("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
    _col(
        "Reason",
        "A short, machine understandable reason for the transition.",
    ),
    _col("Object", "The object that this event is about."),
    _col(
        "Subobject",
        "The part of the object this event is about (a field path).",
        priority=1,
    ),
    _col(
        "Source",
        "The component reporting this event. Should be a short machine understandable string.",
        priority=1,
    ),
    _col("Message", "A human-readable description of the status of this operation."),
    _col(
        "First Seen",
        "The time at which the event was first recorded.",
        priority=1,
    ),
    _col("Count", "The number of times this event has occurred.", priority=1),
    _col("Name", _NAME_DOC, fmt="name", priority=1),
]


def event_cells(ev: Obj, now: float) -> list[Any]:
    first = (
        since(ev.get("firstTimestamp"), now) if ev.get("firstTimestamp") else since(ev.get("eventTime"), now)
    )
    last = since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 0
    series = ev.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif not count:
        count = 1
    involved = ev.get("involvedObject") or {}
    target = (involved.get("kind") or "").lower()
    if involved.get("name"):
        target = f"{target}/{involved['name']}"
    source = ev.get("source") or {}
    if source.get("component"):
        src = source["component"] + (f", {source['host']}" if source.get("host") else "")
    else:
        src = ev.get("reportingComponent") or ""
        if ev.get("reportingInstance"):
            src = f"{src}, {ev['reportingInstance']}"
    return [
        last,
        ev.get("type") or "",
        ev.get("reason") or "",
        target,
        involved.get("fieldPath") or "",
        src,
        (ev.get("message") or "").strip(),
        first,
        int(count),
        _name(ev),
    ]


PRINTERS: dict[str, tuple[list[Column], Callable[[Obj, float], list[Any]]]] = {
    "Pod": (POD_COLUMNS, pod_cells),
    "Service": (SERVICE_COLUMNS, service_cells),
    "Endpoints": (ENDPOINTS_COLUMNS, endpoints_cells),
    "EndpointSlice": (ENDPOINTSLICE_COLUMNS, endpointslice_cells),
    "Deployment": (DEPLOYMENT_COLUMNS, deployment_cells),
    "ReplicaSet": (REPLICASET_COLUMNS, replicaset_cells),
    "Node": (NODE_COLUMNS, node_cells),
    "Namespace": (NAMESPACE_COLUMNS, namespace_cells),
    "Event": (EVENT_COLUMNS, event_cells),
}


def partial_metadata(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def table_row(kind: str, obj: Obj, now: float, include_object: str = "Metadata") -> Obj:
    _, cells_fn = PRINTERS[kind]
    row: Obj = {"cells": cells_fn(obj, now)}
    if include_object == "Object":
        row["object"] = obj
    elif include_object != "None":
        row["object"] = partial_metadata(obj)
    if kind == "Pod":
        phase = (obj.get("status") or {}).get("phase")
        if phase in _TERMINAL:
            row["conditions"] = [
                {
                    "type": "Completed",
                    "status": "True",
                    "reason": phase,
                    "message": "The pod has completed successfully."
                    if phase == "Succeeded"
                    else "The pod failed.",
                }
            ]
    return row


def build_table(
    kind: str,
    objs: list[Obj],
    now: float,
    *,
    resource_version: str | None = None,
    include_object: str = "Metadata",
    continue_token: str | None = None,
    remaining: int | None = None,
    with_columns: bool = True,
) -> Obj:
    """A meta.k8s.io/v1 Table of objects of one kind, as kube-apiserver's TableConvertor makes it."""
    columns, _ = PRINTERS[kind]
    md: Obj = {}
    if resource_version is not None:
        md["resourceVersion"] = resource_version
    if continue_token:
        md["continue"] = continue_token
    if remaining is not None:
        md["remainingItemCount"] = remaining
    table: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md}
    table["columnDefinitions"] = [dict(c) for c in columns] if with_columns else None
    table["rows"] = [table_row(kind, o, now, include_object) for o in objs]
    return table
