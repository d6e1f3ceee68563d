"""The Kubernetes kinds slicescope knows: API group/version, plural resource name, scope."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KindInfo:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


KINDS: dict[str, KindInfo] = {
    k.kind: k
    for k in (
        KindInfo("Pod", "", "v1", "pods", True, ("po",)),
        KindInfo("Service", "", "v1", "services", True, ("svc",)),
        KindInfo("Endpoints", "", "v1", "endpoints", True, ("ep",)),
        KindInfo("Node", "", "v1", "nodes", False, ("no",)),
        KindInfo("Namespace", "", "v1", "namespaces", False, ("ns",)),
        KindInfo("Event", "", "v1", "events", True, ("ev",)),
        KindInfo("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", True),
        KindInfo("Deployment", "apps", "v1", "deployments", True, ("deploy",)),
        KindInfo("ReplicaSet", "apps", "v1", "replicasets", True, ("rs",)),
    )
}

BY_PLURAL: dict[tuple[str, str], KindInfo] = {(k.group, k.plural): k for k in KINDS.values()}

# What the dashboard watches, in the order a fresh view is best built.
WATCHED_KINDS: tuple[str, ...] = (
    "Node",
    "Service",
    "Deployment",
    "ReplicaSet",
    "Pod",
    "EndpointSlice",
    "Endpoints",
)
