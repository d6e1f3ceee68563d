"""Descriptions, in our own words, of the object-valued fields a learner explains most often: the
Python client's models document scalar fields but leave fields of an object type undescribed."""

from __future__ import annotations

_METADATA = "Standard object metadata: name, namespace, labels, annotations, owner references."
_SELECTOR = (
    "Label query over pods. Pods whose labels match it are counted against the desired number "
    "of replicas. It must match the pod template's labels and cannot change once set."
)

# (Go type name, JSON field) -> description
FIELD_DOCS: dict[tuple[str, str], str] = {
    ("Pod", "metadata"): _METADATA,
    ("Pod", "spec"): "The desired behaviour of the pod: its containers, volumes and scheduling constraints.",
    ("Pod", "status"): "The most recently observed state of the pod, written by the kubelet. Read-only.",
    ("Service", "metadata"): _METADATA,
    ("Service", "spec"): "The desired behaviour of the service: its selector, ports and type.",
    (
        "Service",
        "status",
    ): "The most recently observed state of the service (load balancer ingress). Read-only.",
    ("Endpoints", "metadata"): _METADATA,
    ("EndpointSlice", "metadata"): _METADATA,
    ("Node", "metadata"): _METADATA,
    ("Node", "spec"): "The desired behaviour of the node: pod CIDRs, taints, unschedulable.",
    ("Node", "status"): "The most recently observed state of the node: conditions, addresses, capacity.",
    ("Namespace", "metadata"): _METADATA,
    ("Namespace", "spec"): "The desired behaviour of the namespace (its finalizers).",
    ("Namespace", "status"): "The current phase of the namespace.",
    ("Event", "metadata"): _METADATA,
    ("Event", "involvedObject"): "The object this event is about.",
    ("Event", "source"): "The component that reported the event.",
    ("Deployment", "metadata"): _METADATA,
    (
        "Deployment",
        "spec",
    ): "The desired behaviour of the deployment: replicas, selector, pod template, strategy.",
    (
        "Deployment",
        "status",
    ): "The most recently observed state of the deployment, written by its controller.",
    ("DeploymentSpec", "selector"): _SELECTOR,
    ("DeploymentSpec", "strategy"): "How old pods are replaced by new ones: RollingUpdate or Recreate.",
    ("DeploymentSpec", "template"): "The pods to create. Its labels must match the selector.",
    ("DeploymentStrategy", "rollingUpdate"): "Limits of a rolling update: maxSurge and maxUnavailable.",
    ("ReplicaSet", "metadata"): _METADATA,
    ("ReplicaSet", "spec"): "The desired behaviour of the replica set: replicas, selector, pod template.",
    (
        "ReplicaSet",
        "status",
    ): "The most recently observed state of the replica set, written by its controller.",
    ("ReplicaSetSpec", "selector"): _SELECTOR,
    ("ReplicaSetSpec", "template"): "The pods to create when too few match the selector.",
    ("PodTemplateSpec", "metadata"): "Metadata of the pods created from this template (their labels).",
    ("PodTemplateSpec", "spec"): "The spec of the pods created from this template.",
    ("Endpoint", "conditions"): (
        "The current state of the endpoint: ready (send it new traffic), serving (its pod passes the "
        "readiness probe) and terminating (its pod is being deleted)."
    ),
    ("Endpoint", "hints"): "Topology hints: the zones this endpoint should serve (topology-aware routing).",
    ("Endpoint", "targetRef"): "The object behind this endpoint, usually the Pod.",
    ("EndpointAddress", "targetRef"): "The object behind this address, usually the Pod.",
    ("Container", "readinessProbe"): (
        "Periodic probe of the container's readiness. A pod whose probe fails is not Ready and is "
        "left out of the ready endpoints of its Services."
    ),
    (
        "Container",
        "livenessProbe",
    ): "Periodic probe of the container's liveness; failure restarts the container.",
    ("Container", "startupProbe"): "Probe that must succeed before the other probes run.",
    ("Container", "resources"): "Compute resources (cpu, memory) the container requests and is limited to.",
    ("Container", "securityContext"): "Security options the container runs with.",
    ("Container", "lifecycle"): "Actions run right after the container starts and before it stops.",
    ("PodSpec", "affinity"): "Scheduling constraints relative to nodes and other pods.",
    ("PodSpec", "securityContext"): "Pod-level security attributes and common container settings.",
    ("Probe", "httpGet"): "Probe with an HTTP GET request; a 2xx or 3xx answer passes.",
    ("Probe", "tcpSocket"): "Probe that opens a TCP connection.",
    ("Probe", "exec"): "Probe that runs a command in the container; exit status 0 passes.",
    ("Probe", "grpc"): "Probe with a gRPC health check.",
    ("ContainerStatus", "state"): "The container's current state: waiting, running or terminated.",
    ("ContainerStatus", "lastState"): "The container's previous state, e.g. why it last terminated.",
    ("ServiceSpec", "sessionAffinityConfig"): "Settings of client-IP session affinity.",
    ("ServiceStatus", "loadBalancer"): "The load balancer's ingress points, for LoadBalancer services.",
}
